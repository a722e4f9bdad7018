"""The demo world: generated datasets in real on-disk formats and tiny trained models."""
