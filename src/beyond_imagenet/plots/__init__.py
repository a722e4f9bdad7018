"""Figures: each reads tidy metric tables (never HDF5) and writes <name>.pdf and <name>.png."""
