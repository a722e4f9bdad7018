"""beyond-imagenet: compare vision models on the behaviours ImageNet top-1 hides."""

__version__ = "0.1.0"
