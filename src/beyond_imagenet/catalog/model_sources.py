"""Model sources as a table: a library that builds models (timm, open_clip, torchvision, transformers, a
researcher's own nn.Module); a new source is one entry.

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
    preprocess: str  # (model, spec) -> Preprocess, the library's own eval transform
    classifier: str  # (spec, model, head | None, logit_scale) -> nn.Module returning (canonical logits, features)
    backbone: str  # (spec, model) -> nn.Module returning (None, features): a model without an ImageNet head
    decision: str  # CLASSIFIER or ZERO_SHOT
    tokenizer: str | None = None  # (spec) -> tokenizer of prompts, for ZERO_SHOT sources
    unused_keys: tuple[str, ...] = ()  # model config keys this source does not read (an error if set)
    hub_tag_key: str | None = None  # the config key naming the pretrained weights of an architecture on the hub
    # Checkpoint tensors the library resamples when the model is built for another input size (bicubic,
    # as the paper's resolution study does); a shape change anywhere else is an error.
    resizable_keys: tuple[str, ...] = ()
    image_tower: str = ""  # the library model's submodule that sees images ("" = the whole model): layer hooks go there
    # the library reports every missing, unexpected or reshaped tensor itself (its weights are not one state dict)
    strict_by_library: bool = False

    @property
    def zero_shot(self) -> bool:
        """Whether its models classify through a zero-shot text head."""
        return self.decision == ZERO_SHOT

    def resolve(self, field: str) -> Callable[..., Any]:
        """Import one of the source's callables."""
        module, _, name = getattr(self, field).partition(":")
        return getattr(importlib.import_module(module), name)


M = "beyond_imagenet.models."
NOT_OWN = ("factory", "factory_path", "labels")  # the module source's keys
MODEL_SOURCES: dict[str, ModelSource] = {s.name: s for s in (
    ModelSource("timm", build=M + "timm_models:build", build_untrained=M + "timm_models:untrained",
                preprocess=M + "timm_models:preprocess", classifier=M + "timm_models:classifier",
                backbone=M + "timm_models:backbone", decision=CLASSIFIER,
                unused_keys=("pretrained", "arch_config", "factory", "factory_path"), resizable_keys=("pos_embed",)),
    ModelSource("open_clip", build=M + "open_clip_models:build", build_untrained=M + "open_clip_models:untrained",
                preprocess=M + "open_clip_models:preprocess", classifier=M + "heads:zero_shot_classifier",
                backbone=M + "heads:image_tower_backbone", decision=ZERO_SHOT,
                tokenizer=M + "open_clip_models:tokenizer", unused_keys=("model_kwargs", *NOT_OWN),
                hub_tag_key="pretrained", resizable_keys=("visual.positional_embedding",), image_tower="visual"),
    ModelSource("torchvision", build=M + "torchvision_models:build", build_untrained=M + "torchvision_models:untrained",
                preprocess=M + "torchvision_models:preprocess", classifier=M + "torchvision_models:classifier",
                backbone=M + "torchvision_models:backbone", decision=CLASSIFIER,
                unused_keys=("arch_config", "factory", "factory_path"), hub_tag_key="pretrained"),
    ModelSource("transformers", build=M + "transformers_models:build",
                build_untrained=M + "transformers_models:untrained", preprocess=M + "transformers_models:preprocess",
                classifier=M + "transformers_models:classifier", backbone=M + "transformers_models:backbone",
                decision=CLASSIFIER, unused_keys=("pretrained", "arch_config", "model_kwargs", "factory",
                                                  "factory_path"),
                strict_by_library=True),
    ModelSource("transformers_clip", build=M + "transformers_models:build_contrastive",
                build_untrained=M + "transformers_models:untrained_contrastive",
                preprocess=M + "transformers_models:contrastive_preprocess", classifier=M + "heads:zero_shot_classifier",
                backbone=M + "heads:image_tower_backbone", decision=ZERO_SHOT, tokenizer=M + "transformers_models:tokenizer",
                unused_keys=("pretrained", "arch_config", "model_kwargs", *NOT_OWN), strict_by_library=True,
                image_tower="model.vision_model"),
    ModelSource("module", build=M + "module_models:build", build_untrained=M + "module_models:untrained",
                preprocess=M + "module_models:preprocess", classifier=M + "module_models:classifier",
                backbone=M + "module_models:backbone", decision=CLASSIFIER, unused_keys=("pretrained", "arch_config")),
)}


def model_source(name: str) -> ModelSource:
    """Look up a source, naming the known ones on a miss (never another source's branch)."""
    if name not in MODEL_SOURCES:
        raise KeyError(f"unknown model source {name!r}; known: {sorted(MODEL_SOURCES)}")
    return MODEL_SOURCES[name]
