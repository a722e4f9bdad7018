"""ObjectNet top-1 on its 113 classes with ImageNet counterparts. `compute` (rows from caches), `plot` (a figure)."""
