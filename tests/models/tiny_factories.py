"""A researcher's own model, as the `module` source builds it: a factory returning an nn.Module (tests only)."""

import torch
from torch import nn


def build(classes: int = 1000, width: int = 8) -> nn.Module:
    """A tiny convolutional classifier: conv, pool, linear head to the ImageNet classes."""
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, classes))


def build_shuffled(classes: int = 1000) -> nn.Module:
    """The same, for a checkpoint whose outputs are in another order (declared by a labels file)."""
    torch.manual_seed(0)
    return build(classes)


def build_backbone(width: int = 8) -> nn.Module:
    """A feature extractor without a head (head: none): conv, pool, flatten to `width` features."""
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
