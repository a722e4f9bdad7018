"""Object focus on the ImageNet-9 backgrounds challenge. `compute` (rows from caches), `plot` (a figure)."""
