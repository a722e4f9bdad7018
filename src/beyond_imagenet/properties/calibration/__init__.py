"""Calibration: ECE, MCE, adaptive ECE, NLL and Brier of the max-softmax confidence; reliability diagrams. `compute` (rows from caches), `plot` (a figure from rows)."""
