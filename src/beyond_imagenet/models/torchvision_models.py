"""torchvision as a model source: a builder and a weights enum (`name: resnet50`, `pretrained:
ResNet50_Weights.IMAGENET1K_V2`), the enum's own eval transform, its categories mapped to the canonical order."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config.specs import ModelSpec
from .build import ModelLoadError, check_file
from .heads import Backbone, MappedClassifier, declared_labels, features_before_head
from .preprocess import Preprocess


def weights_enum(spec: ModelSpec) -> Any:
    """The weights enum value `pretrained` names, or None."""
    if not spec.pretrained:
        return None
    from torchvision.models import get_weight

    try:
        return get_weight(spec.pretrained)
    except (ValueError, KeyError, AttributeError) as error:
        raise ModelLoadError(f"model {spec.id!r}: {spec.pretrained!r} is not a torchvision weights enum ({error}); "
                             "e.g. ResNet50_Weights.IMAGENET1K_V2") from None


def _builder_kwargs(spec: ModelSpec) -> dict[str, Any]:
    kwargs = dict(spec.model_kwargs)
    weights = weights_enum(spec)
    if weights is not None and "num_classes" not in kwargs:
        kwargs["num_classes"] = len(weights.meta["categories"])
    return kwargs


def untrained(spec: ModelSpec) -> nn.Module:
    """The builder's architecture with random weights."""
    from torchvision.models import get_model

    return get_model(spec.name, weights=None, **_builder_kwargs(spec))


def build(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """The builder with the enum's weights (from the hub) or a local state dict loaded strictly; a convolutional
    net takes any input size, a torchvision ViT is refused one it was not built for."""
    from torchvision.models import get_model

    path = spec.local_weights
    if image_size is not None and "vit" in spec.name:
        raise ModelLoadError(f"model {spec.id!r}: torchvision's {spec.name} cannot be rebuilt for {image_size} px "
                             "(it does not resample its position embeddings); leave out the resolution views")
    if path is None:
        return get_model(spec.name, weights=weights_enum(spec), **dict(spec.model_kwargs))
    check_file(path, spec)
    model = get_model(spec.name, weights=None, **_builder_kwargs(spec))
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    except RuntimeError as error:
        raise ModelLoadError(f"model {spec.id!r}: loading {path} failed strictly: {error}") from error
    return model


def preprocess(model: nn.Module, spec: ModelSpec) -> Preprocess:
    """The weights enum's own eval transform (ImageClassification: resize, crop, interpolation, mean, std)."""
    weights = weights_enum(spec)
    if weights is None:
        raise ModelLoadError(f"model {spec.id!r}: without 'pretrained' (a weights enum) nothing says its eval "
                             f"transform; set 'models.{spec.id}.preprocess'")
    transform = weights.transforms()
    return Preprocess(int(transform.resize_size[0]), int(transform.crop_size[0]), transform.interpolation.value,
                      tuple(transform.mean), tuple(transform.std))


def labels(spec: ModelSpec, model: nn.Module) -> list[str] | None:
    """The outputs' classes: the config's `labels`, else the weights enum's categories."""
    declared = declared_labels(spec)
    if declared is not None:
        return declared
    weights = weights_enum(spec)
    return list(weights.meta["categories"]) if weights is not None else None


def _logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return model(images)


def classifier(spec: ModelSpec, model: nn.Module, head: torch.Tensor | None, logit_scale: float) -> nn.Module:
    """The model's logits put into the canonical order; features at its head's input."""
    return MappedClassifier(model, labels(spec, model), spec, _logits)


def backbone(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The model as a backbone: the input of its last linear layer (its head is run, its output dropped)."""
    return Backbone(model, features_before_head(model, _logits))
