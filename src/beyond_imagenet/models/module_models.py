"""A researcher's own nn.Module as a model source: `factory: "package.module:function"` builds it (importable from
the environment, or from `factory_path`), its checkpoint loads strictly, its preprocessing and output order are
what the config declares (`preprocess`, `labels`). No code change to the project."""

from __future__ import annotations

import importlib
import sys

import torch
from torch import nn

from ..config.specs import ModelSpec
from .build import ModelLoadError, as_the_library_loads, check_file, checkpoint_tensors
from .heads import Backbone, MappedClassifier, declared_labels
from .preprocess import Preprocess


def _factory(spec: ModelSpec):
    """The factory function the config names."""
    if not spec.factory:
        raise ModelLoadError(f"model {spec.id!r}: source module needs 'models.{spec.id}.factory' "
                             "(\"package.module:function\" returning the nn.Module)")
    if spec.factory_path and spec.factory_path not in sys.path:
        sys.path.insert(0, spec.factory_path)
    module_name, _, function = spec.factory.partition(":")
    try:
        return getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as error:
        raise ModelLoadError(f"model {spec.id!r}: cannot import the factory {spec.factory!r} ({error}); install its "
                             f"package or set 'models.{spec.id}.factory_path'") from None


def untrained(spec: ModelSpec) -> nn.Module:
    """The factory's module as it builds it."""
    return _factory(spec)(**spec.model_kwargs)


def build(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """The factory's module with the checkpoint loaded strictly (every tensor, every shape)."""
    model = untrained(spec)
    path = spec.local_weights
    if path is None:
        raise ModelLoadError(f"model {spec.id!r}: a module's weights are a local checkpoint file, not 'hub'")
    check_file(path, spec)
    state = as_the_library_loads(checkpoint_tensors(path), set(model.state_dict()), spec, path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelLoadError(f"model {spec.id!r}: loading {path} failed strictly: {error}") from error
    return model


def preprocess(model: nn.Module, spec: ModelSpec) -> Preprocess:
    """A module has no preprocessing of its own: the config declares it (models.<id>.preprocess)."""
    raise ModelLoadError(f"model {spec.id!r}: a module's preprocessing is declared: set 'models.{spec.id}.preprocess' "
                         "(resize, crop, interpolation, mean, std)")


def labels(spec: ModelSpec, model: nn.Module) -> list[str] | None:
    """The outputs' classes, as the config declares them (labels: imagenet1k, or a file)."""
    return declared_labels(spec)


def _logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    output = model(images)
    return output[0] if isinstance(output, (tuple, list)) else output


def classifier(spec: ModelSpec, model: nn.Module, head: torch.Tensor | None, logit_scale: float) -> nn.Module:
    """The module's logits put into the canonical order; features at its last linear layer's input."""
    return MappedClassifier(model, labels(spec, model), spec, _logits)


def backbone(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """A module without an ImageNet head: what it returns (the first element of a tuple) are its features."""
    return Backbone(model, _logits)
