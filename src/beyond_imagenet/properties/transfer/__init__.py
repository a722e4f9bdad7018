"""Transferability: a VTAB-1k linear probe on frozen features (`probe` imports torch). `compute` (rows from caches), `plot` (a figure from rows)."""
