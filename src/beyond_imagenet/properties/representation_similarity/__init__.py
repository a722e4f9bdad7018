"""Representation similarity: layer x layer linear CKA within and across models. `compute` (rows from caches), `plot` (a figure from rows)."""
