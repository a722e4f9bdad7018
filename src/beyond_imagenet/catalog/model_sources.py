"""Model sources as a table: a library that builds models (timm, open_clip); a new source is one entry.

Every callable is named "module:function" and imported only when a model is built, so config
validation and CPU jobs never import torch, timm or open_clip.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CLASSIFIER = "classifier"  # the library's own 1000-way head
ZERO_SHOT = "zero_shot"  # an image tower classified through a text head built once per model (CLIP)


@dataclass(frozen=True)
class ModelSource:
    """How one library's models are built, preprocessed and turned into (logits, features)."""

    name: str
    build: str  # (spec, image_size | None) -> the library model, weights loaded strictly
    build_untrained: str  # (spec) -> the same architecture with random weights (the demo trains it)
    preprocess: str  # (model) -> Preprocess, the library's own eval transform
    classifier: str  # (model, head | None, logit_scale) -> nn.Module returning (logits, features)
    decision: str  # CLASSIFIER or ZERO_SHOT
    tokenizer: str | None = None  # (model name) -> tokenizer, for ZERO_SHOT sources
    unused_keys: tuple[str, ...] = ()  # model config keys this source does not read (an error if set)
    hub_tag_key: str | None = None  # the config key naming the pretrained weights of an architecture on the hub
    # Checkpoint tensors the library resamples when the model is built for another input size (bicubic,
    # as the paper's resolution study does); a shape change anywhere else is an error.
    resizable_keys: tuple[str, ...] = ()
    image_tower: str = ""  # the library model's submodule that sees images ("" = the whole model): layer hooks go there

    @property
    def zero_shot(self) -> bool:
        """Whether its models classify through a zero-shot text head."""
        return self.decision == ZERO_SHOT

    def resolve(self, field: str) -> Callable[..., Any]:
        """Import one of the source's callables."""
        module, _, name = getattr(self, field).partition(":")
        return getattr(importlib.import_module(module), name)


MODEL_SOURCES: dict[str, ModelSource] = {s.name: s for s in (
    ModelSource("timm", build="beyond_imagenet.models.build:build_timm",
                build_untrained="beyond_imagenet.models.build:untrained_timm",
                preprocess="beyond_imagenet.models.build:preprocess_from_timm",
                classifier="beyond_imagenet.models.build:timm_classifier", decision=CLASSIFIER,
                unused_keys=("pretrained", "arch_config"), resizable_keys=("pos_embed",)),
    ModelSource("open_clip", build="beyond_imagenet.models.build:build_open_clip",
                build_untrained="beyond_imagenet.models.build:untrained_open_clip",
                preprocess="beyond_imagenet.models.build:preprocess_from_open_clip",
                classifier="beyond_imagenet.models.build:zero_shot_classifier", decision=ZERO_SHOT,
                tokenizer="open_clip:get_tokenizer", unused_keys=("model_kwargs",), hub_tag_key="pretrained",
                resizable_keys=("visual.positional_embedding",), image_tower="visual"),
)}


def model_source(name: str) -> ModelSource:
    """Look up a source, naming the known ones on a miss (never another source's branch)."""
    if name not in MODEL_SOURCES:
        raise KeyError(f"unknown model source {name!r}; known: {sorted(MODEL_SOURCES)}")
    return MODEL_SOURCES[name]
