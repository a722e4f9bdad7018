"""open_clip as a model source: an architecture and a pretrained tag (`ViT-B-16` + `laion400m_e31`), open_clip's own
eval transform, the image tower classified through a zero-shot head built from its text tower."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..config.specs import ModelSpec
from .build import ModelLoadError, check_file
from .preprocess import Preprocess


def untrained(spec: ModelSpec) -> nn.Module:
    """The configured open_clip architecture with random weights (the demo trains it)."""
    import open_clip

    if spec.arch_config:
        open_clip.add_model_config(Path(spec.arch_config))
    return open_clip.create_model(spec.name, pretrained=None)


def build(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """open_clip model from arch + pretrained tag, or from a local state dict (strict); image_size = force_image_size."""
    import open_clip

    if spec.arch_config:
        open_clip.add_model_config(Path(spec.arch_config))
    path = spec.local_weights
    if path is not None:
        check_file(path, spec)
    pretrained = str(path) if path is not None else spec.pretrained
    try:
        return open_clip.create_model(spec.name, pretrained=pretrained, require_pretrained=True,
                                      force_image_size=image_size)
    except RuntimeError as error:
        raise ModelLoadError(f"model {spec.id!r}: loading {pretrained!r} failed strictly: {error}") from error


def preprocess(model: nn.Module, spec: ModelSpec | None = None) -> Preprocess:
    """open_clip's own eval preprocessing: Resize(size) -> CenterCrop(size) with its mean/std."""
    import open_clip

    cfg = open_clip.get_model_preprocess_cfg(model)
    if cfg.get("resize_mode", "shortest") != "shortest":
        raise ModelLoadError(f"open_clip resize_mode {cfg['resize_mode']!r} is not supported; set 'preprocess'")
    size = cfg["size"]
    side = int(size if isinstance(size, int) else size[-1])
    return Preprocess(side, side, cfg["interpolation"], tuple(cfg["mean"]), tuple(cfg["std"]))


def tokenizer(spec: ModelSpec) -> Callable[[list[str]], torch.Tensor]:
    """open_clip's tokenizer of the architecture."""
    import open_clip

    return open_clip.get_tokenizer(spec.name)

