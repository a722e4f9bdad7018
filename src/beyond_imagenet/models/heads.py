"""Classifiers whose outputs are put into the canonical ImageNet order from what the model declares, with the
pre-logit features read at the input of its last linear layer (where every library's classifier head starts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..catalog.labels import NUM_IMAGENET_CLASSES, imagenet_wnids, output_columns
from ..config.specs import ModelSpec
from ..store.digests import array_digest
from .build import ModelLoadError

IMAGENET_1K = "imagenet1k"  # `labels: imagenet1k`: the model declares the canonical order


def declared_labels(spec: ModelSpec) -> list[str] | None:
    """The labels the config declares for the model's outputs: imagenet1k (the canonical wnids), or a file's lines."""
    if spec.labels is None:
        return None
    if spec.labels == IMAGENET_1K:
        return list(imagenet_wnids())
    path = Path(spec.labels)
    if not path.is_file():
        raise ModelLoadError(f"model {spec.id!r}: labels file {spec.labels!r} does not exist (models.{spec.id}.labels: "
                             "imagenet1k or a file with one wnid or class name per output)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def canonical_columns(spec: ModelSpec, labels: list[str] | None) -> np.ndarray | None:
    """The output column of each canonical class, or None when the outputs already are the canonical order."""
    if labels is None:
        raise ModelLoadError(f"model {spec.id!r}: nothing says what its outputs are; set 'models.{spec.id}.labels' "
                             "(imagenet1k, or a file of wnids / class names), or 'head: none' for a backbone")
    columns = output_columns(labels)
    return None if len(labels) == NUM_IMAGENET_CLASSES and np.array_equal(columns, np.arange(len(labels))) else columns


CANONICAL = "canonical"  # the outputs are the 1000 classes in the canonical order
HEADLESS = "none (head: none): features only"


def output_map_record(columns: np.ndarray | None, outputs: int) -> str:
    """What a cache records of the mapping: canonical, or how many outputs and which columns were taken (digest)."""
    if columns is None:
        return CANONICAL
    return f"{outputs} outputs, columns {array_digest(columns)[:16]} (first {columns[:3].tolist()})"


def to_canonical(logits: torch.Tensor, columns: torch.Tensor | None) -> torch.Tensor:
    """The logits of the canonical classes, in the canonical order."""
    return logits if columns is None else logits.index_select(1, columns)


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's last linear layer (in definition order): its classifier head in torchvision, transformers and
    most hand-written models."""
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ModelLoadError(f"{type(model).__name__} has no linear layer to read features before; declare "
                             "'head: none' if its output is its features")
    return linears[-1]


class MappedClassifier(nn.Module):
    """(logits in the canonical order, features at the head's input) of a model whose logits `call` returns."""

    def __init__(self, model: nn.Module, labels: list[str], spec: ModelSpec,
                 call: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.call = call
        columns = canonical_columns(spec, labels)
        self.output_map = output_map_record(columns, len(labels))
        self.register_buffer("columns", None if columns is None else torch.as_tensor(columns, dtype=torch.long))
        self._features: torch.Tensor | None = None
        last_linear(model).register_forward_hook(self._keep_features)

    def _keep_features(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        self._features = inputs[0]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = to_canonical(self.call(self.model, images), self.columns)
        features, self._features = self._features, None
        return logits, features


def features_before_head(model: nn.Module, call: Callable[[nn.Module, torch.Tensor], torch.Tensor]
                         ) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """A call that runs the model (its outputs dropped) and returns the input of its last linear layer."""
    kept: dict[str, torch.Tensor] = {}
    last_linear(model).register_forward_hook(lambda module, inputs, output: kept.__setitem__("features", inputs[0]))

    def run(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
        call(net, images)
        return kept.pop("features")

    return run


class Backbone(nn.Module):
    """A model without an ImageNet head: (None, features), features as `call` reads them."""

    output_map = HEADLESS

    def __init__(self, model: nn.Module, call: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.call = call

    def forward(self, images: torch.Tensor) -> tuple[None, torch.Tensor]:
        features = self.call(self.model, images)
        if features.ndim != 2:
            raise ModelLoadError(f"{type(self.model).__name__}: its features have shape {tuple(features.shape)}; a "
                                 "backbone's features are one vector per image (pool them in the model)")
        return None, features


ZERO_SHOT_MAP = "zero-shot head over the 1000 ImageNet class names"


class ZeroShotClassifier(nn.Module):
    """An image tower with a zero-shot head (Radford et al. 2021): logits = scale * normalised embedding @ head;
    features = the embedding. The model exposes encode_image (open_clip's, or an adapter's)."""

    output_map = ZERO_SHOT_MAP

    def __init__(self, model: nn.Module, head: torch.Tensor, logit_scale: float) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("head", head)  # (num_classes, embed_dim), rows L2-normalised
        self.logit_scale = logit_scale

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.model.encode_image(images)
        normalised = nn.functional.normalize(embedding, dim=-1)
        return self.logit_scale * normalised @ self.head.T, embedding


def zero_shot_classifier(spec: ModelSpec, model: nn.Module, head: torch.Tensor | None,
                         logit_scale: float) -> nn.Module:
    """An image tower classified through its cached zero-shot head."""
    if head is None:
        raise ModelLoadError(f"model {spec.id!r}: an image tower needs its zero-shot head")
    return ZeroShotClassifier(model, head, logit_scale)


def image_embedding(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The image tower's embedding (what a zero-shot head would classify)."""
    return model.encode_image(images)


def image_tower_backbone(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """A contrastive model's image tower as a backbone: its image embedding, no zero-shot head."""
    return Backbone(model, image_embedding)
