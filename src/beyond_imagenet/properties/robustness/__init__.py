"""Robustness: top-1 on ImageNet val and the 7 shifted sets, ImageNet-C's mean and mCE. `compute` (rows from caches), `plot` (a figure from rows)."""
