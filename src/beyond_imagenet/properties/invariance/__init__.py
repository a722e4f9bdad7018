"""Invariance: top-1 and true-class probability under scale, shift and resolution views. `compute` (rows from caches), `plot` (a figure from rows)."""
