"""Accuracy: top-1 / top-5 in each dataset's label space. `compute` (rows from caches), `plot` (a figure from rows)."""
