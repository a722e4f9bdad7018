"""Synthetic data: top-1 per PUG-ImageNet factor of variation. `compute` (rows from caches), `plot` (a figure from rows)."""
