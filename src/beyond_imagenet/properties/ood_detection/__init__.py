"""Out-of-distribution detection (ImageNet-O vs ImageNet val). `compute` (rows from caches), `plot` (a figure)."""
