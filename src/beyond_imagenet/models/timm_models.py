"""timm as a model source: a model name with its pretrained tag (`convnext_base.fb_in22k_ft_in1k`), timm's own eval
transform, its outputs mapped to the canonical order from the ImageNet subset its head is (1k, 12k, 22k, ...)."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from ..config.specs import ModelSpec
from .build import ModelLoadError, check_file
from .heads import Backbone, canonical_columns, declared_labels, output_map_record, to_canonical
from .preprocess import Preprocess

log = logging.getLogger(__name__)


def untrained(spec: ModelSpec) -> nn.Module:
    """The configured timm architecture with random weights (the demo trains it)."""
    import timm

    return timm.create_model(spec.name, pretrained=False, **spec.model_kwargs)


def build(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """timm model from the hub tag, or from a local file through timm's own (strict) pretrained loader.

    image_size builds a ViT for another input size; timm's loader resamples its position
    embeddings (bicubic). Convolutional nets take any size and are built unchanged.
    """
    import timm

    kwargs = dict(spec.model_kwargs)
    path = spec.local_weights
    if path is not None:
        check_file(path, spec)
        # The overlay keeps the tag's pretrained config (mean/std/crop) while reading the file.
        kwargs["pretrained_cfg_overlay"] = dict(file=str(path))
    try:
        if image_size is not None:
            try:
                return timm.create_model(spec.name, pretrained=True, **{**kwargs, "img_size": image_size})
            except TypeError as error:
                if "img_size" not in str(error):
                    raise
                log.info("%s takes any input size; building it unchanged for %d px", spec.name, image_size)
        return timm.create_model(spec.name, pretrained=True, **kwargs)
    except RuntimeError as error:
        raise ModelLoadError(f"model {spec.id!r}: loading {spec.weights!r} failed strictly: {error}") from error


def preprocess(model: nn.Module, spec: ModelSpec | None = None) -> Preprocess:
    """timm's own eval preprocessing (resolve_data_config), as timm's create_transform builds it."""
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=model)
    if cfg.get("crop_mode", "center") != "center":
        raise ModelLoadError(f"timm crop_mode {cfg['crop_mode']!r} is not supported; set 'preprocess' in config")
    crop = int(cfg["input_size"][-1])
    # timm: scale_size = floor(img_size / crop_pct)
    resize = math.floor(crop / cfg["crop_pct"])
    return Preprocess(resize, crop, cfg["interpolation"], tuple(cfg["mean"]), tuple(cfg["std"]))


def labels(spec: ModelSpec, model: nn.Module) -> list[str] | None:
    """The outputs' classes: the config's `labels`, else the wnids of the ImageNet subset timm says the head is
    (by its class count: 1k, 12k, 21k, 22k), behind a background output where the weights declare label_offset 1."""
    declared = declared_labels(spec)
    if declared is not None:
        return declared
    from timm.data import ImageNetInfo, infer_imagenet_subset

    offset = int(getattr(model, "pretrained_cfg", {}).get("label_offset") or 0)
    subset = infer_imagenet_subset({"num_classes": model.num_classes - offset})
    if subset is None:
        return None
    return ["background"] * offset + list(ImageNetInfo(subset).label_names())


class TimmClassifier(nn.Module):
    """A timm classifier returning (logits in the canonical order, pre-logit pooled features)."""

    def __init__(self, model: nn.Module, spec: ModelSpec) -> None:
        super().__init__()
        self.model = model
        outputs = labels(spec, model)
        if outputs is None:
            raise ModelLoadError(f"model {spec.id!r}: its {model.num_classes} outputs are no ImageNet subset timm "
                                 f"knows; set 'models.{spec.id}.labels' (a file of wnids) or 'head: none'")
        columns = canonical_columns(spec, outputs)
        self.output_map = output_map_record(columns, len(outputs))
        self.register_buffer("columns", None if columns is None else torch.as_tensor(columns, dtype=torch.long))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.model.forward_features(images)
        features = self.model.forward_head(tokens, pre_logits=True)
        return to_canonical(self.model.forward_head(tokens), self.columns), features


def classifier(spec: ModelSpec, model: nn.Module, head: torch.Tensor | None, logit_scale: float) -> nn.Module:
    """A timm model's own classifier; it takes no zero-shot head."""
    if head is not None:
        raise ModelLoadError("a timm classifier has its own head; a zero-shot head was passed")
    return TimmClassifier(model, spec)


def pre_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """timm's pooled features before its head (the head itself, if any, is not run)."""
    return model.forward_head(model.forward_features(images), pre_logits=True)


def backbone(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """A timm model as a backbone: its pre-logit pooled features."""
    return Backbone(model, pre_logits)
