"""Shape vs texture bias on cue-conflict images. `compute` (rows from caches), `plot` (a figure from rows)."""
