"""ImageNet-X: where a model's mistakes concentrate, as error ratios per factor of variation. `compute` (rows from caches), `plot` (a figure from rows)."""
