"""Hugging Face transformers as model sources: an image-classification model by id (or a local folder written by
`save_pretrained`), its image processor resolved to the equivalent Resize -> CenterCrop -> Normalize, its id2label
mapped to the canonical order, its checkpoint loaded strictly; a backbone without a head (`head: none`, AutoModel);
and a contrastive image-text model (CLIP, SigLIP, ...: source transformers_clip) classified through the same
zero-shot head builder as open_clip's."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from ..config.specs import ModelSpec
from .build import ModelLoadError
from .heads import Backbone, MappedClassifier, declared_labels
from .preprocess import Preprocess

log = logging.getLogger(__name__)

RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}  # PIL's resampling filters, as image processors store them


def _where(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """What from_pretrained reads: the local folder of `weights`, or the hub id `name`."""
    path = spec.local_weights
    if path is None:
        return spec.name, {}
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"model {spec.id!r}: {path} is not a folder written by save_pretrained (no config.json); "
                             f"set 'models.{spec.id}.weights' to it, or to 'hub'")
    return str(path), {"local_files_only": True}


def untrained(spec: ModelSpec) -> nn.Module:
    """The configured architecture with random weights."""
    from transformers import AutoConfig, AutoModel, AutoModelForImageClassification

    where, options = _where(spec)
    kind = AutoModel if spec.head == "none" else AutoModelForImageClassification
    return kind.from_config(AutoConfig.from_pretrained(where, **options))


def _strict(spec: ModelSpec, where: str, info: dict[str, Any]) -> None:
    """Refuse a load with a missing, unexpected or reshaped tensor, naming them."""
    problems = {kind: sorted(info.get(kind) or []) for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    problems = {kind: keys for kind, keys in problems.items() if keys}
    if problems:
        raise ModelLoadError(f"model {spec.id!r}: loading {where} failed strictly: {problems}")


def build(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """The model with every checkpoint tensor loaded and none missing, unexpected or reshaped (refused otherwise);
    for `head: none` the base model (AutoModel) without its classification head."""
    from transformers import AutoModelForImageClassification

    if spec.head == "none":
        model = _base_model(spec)
    else:
        where, options = _where(spec)
        model, info = AutoModelForImageClassification.from_pretrained(where, output_loading_info=True, **options)
        _strict(spec, where, info)
    model.interpolate_positions = image_size is not None  # a ViT run at another size resamples its embeddings
    return model


def _base_model(spec: ModelSpec) -> nn.Module:
    """AutoModel of the checkpoint: a classification head in it is dropped (logged); a pooling layer the checkpoint
    does not have (ViT's dense pooler, never trained in a classifier) is left out, its CLS token read instead."""
    import inspect

    from transformers import AutoConfig, AutoModel

    where, options = _where(spec)
    config = AutoConfig.from_pretrained(where, **options)
    model, info = AutoModel.from_pretrained(where, output_loading_info=True, **options)
    missing = sorted(info.get("missing_keys") or [])
    takes_flag = "add_pooling_layer" in inspect.signature(type(model).__init__).parameters
    if missing and takes_flag and all(key.startswith("pooler.") for key in missing):
        model, info = AutoModel.from_pretrained(where, output_loading_info=True, add_pooling_layer=False, **options)
    dropped = sorted(info.get("unexpected_keys") or [])
    if dropped:
        log.info("%s: %d tensors of its checkpoint are a head the backbone does not use (e.g. %s)", spec.id,
                 len(dropped), dropped[:2])
    _strict(spec, where, {**info, "unexpected_keys": []})
    log.info("%s: a %s backbone (%s)", spec.id, type(model).__name__, config.model_type)
    return model


def preprocess(model: nn.Module, spec: ModelSpec) -> Preprocess:
    """The image processor's eval transform as Resize(shorter side) -> CenterCrop -> Normalize; one this cannot
    express (another resize mode, no normalisation) is refused, naming the config key to set instead."""
    from transformers import AutoImageProcessor

    where, options = _where(spec)
    processor = AutoImageProcessor.from_pretrained(where, **options)
    size = dict(getattr(processor, "size", None) or {})
    crop = dict(getattr(processor, "crop_size", None) or {})
    resample = RESAMPLE.get(int(getattr(processor, "resample", 2)))
    if resample is None or not getattr(processor, "do_normalize", True) or not getattr(processor, "do_rescale", True):
        raise ModelLoadError(f"model {spec.id!r}: its image processor ({type(processor).__name__}) cannot be expressed "
                             f"as Resize -> CenterCrop -> Normalize; set 'models.{spec.id}.preprocess'")
    mean, std = tuple(map(float, processor.image_mean)), tuple(map(float, processor.image_std))
    cropped = getattr(processor, "do_center_crop", False)
    if "shortest_edge" in size:
        side = int(size["shortest_edge"])
        crop_pct = getattr(processor, "crop_pct", None)
        if crop_pct is not None:  # ConvNeXt's processor: below 384 px, shorter side to side / crop_pct, then crop
            if side < 384:
                return Preprocess(int(side / crop_pct), side, resample, mean, std, crop_floor=True)
            return Preprocess(side, side, resample, mean, std, squash=True)  # at 384 px and above: warped
        if not cropped:
            raise ModelLoadError(f"model {spec.id!r}: its image processor resizes the shorter side without a crop "
                                 f"(images of different shapes); set 'models.{spec.id}.preprocess'")
        return Preprocess(side, int(crop.get("height", side)), resample, mean, std, crop_floor=True)
    if "height" in size and "width" in size:
        if size["height"] != size["width"] or (cropped and crop.get("height") != crop.get("width")):
            raise ModelLoadError(f"model {spec.id!r}: a non-square input {size} / crop {crop}; set "
                                 f"'models.{spec.id}.preprocess'")
        side = int(size["height"])  # both sides resized to it (the aspect ratio is not kept), then cropped
        return Preprocess(side, int(crop["height"]) if cropped else side, resample, mean, std, squash=True,
                          crop_floor=True)
    raise ModelLoadError(f"model {spec.id!r}: image processor size {size} is not understood; set "
                         f"'models.{spec.id}.preprocess'")


def labels(spec: ModelSpec, model: nn.Module) -> list[str] | None:
    """The outputs' classes: the config's `labels`, else the model's id2label in output order."""
    declared = declared_labels(spec)
    if declared is not None:
        return declared
    id2label = getattr(model.config, "id2label", None) or {}
    return [id2label[k] for k in sorted(id2label, key=int)] if id2label else None


def _logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    options = {"interpolate_pos_encoding": True} if getattr(model, "interpolate_positions", False) else {}
    return model(pixel_values=images, **options).logits


def classifier(spec: ModelSpec, model: nn.Module, head: torch.Tensor | None, logit_scale: float) -> nn.Module:
    """The model's logits put into the canonical order; features at its head's input."""
    return MappedClassifier(model, labels(spec, model), spec, _logits)


def base_features(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """A base model's features: its pooled output where it has one (a convolutional net, DINOv2's normed CLS),
    else the first token of its last hidden state (the CLS token a ViT classifier reads)."""
    options = {"interpolate_pos_encoding": True} if getattr(model, "interpolate_positions", False) else {}
    output = model(pixel_values=images, **options)
    pooled = getattr(output, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)
    return output.last_hidden_state[:, 0]


def backbone(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The base model as a backbone (head: none)."""
    return Backbone(model, base_features)


# --- contrastive image-text models (source transformers_clip) ------------------------------------------------------


class ContrastiveTowers(nn.Module):
    """A transformers image-text model seen as open_clip's: encode_image, encode_text (what the zero-shot head
    builder and classifier call)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.interpolate_positions = False

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        output = self.model.get_image_features(pixel_values=images,
                                               interpolate_pos_encoding=self.interpolate_positions)
        return getattr(output, "pooler_output", output)

    def encode_text(self, tokens: Any) -> torch.Tensor:
        output = self.model.get_text_features(**tokens)
        return getattr(output, "pooler_output", output)


def build_contrastive(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """An image-text model (AutoModel: CLIPModel, SiglipModel, ...) with every tensor loaded strictly."""
    from transformers import AutoModel

    where, options = _where(spec)
    model, info = AutoModel.from_pretrained(where, output_loading_info=True, **options)
    _strict(spec, where, info)
    if not hasattr(model, "get_image_features") or not hasattr(model, "get_text_features"):
        raise ModelLoadError(f"model {spec.id!r}: {type(model).__name__} is not an image-text model (no "
                             "get_image_features / get_text_features); use source transformers")
    towers = ContrastiveTowers(model)
    towers.interpolate_positions = image_size is not None
    return towers


def untrained_contrastive(spec: ModelSpec) -> nn.Module:
    """The configured image-text architecture with random weights."""
    from transformers import AutoConfig, AutoModel

    where, options = _where(spec)
    return ContrastiveTowers(AutoModel.from_config(AutoConfig.from_pretrained(where, **options)))


def contrastive_preprocess(model: nn.Module, spec: ModelSpec) -> Preprocess:
    """The image processor's eval transform (as for a classifier)."""
    return preprocess(model, spec)


def tokenizer(spec: ModelSpec) -> Any:
    """The model's own tokenizer, padding every prompt to its trained length (SigLIP is trained on max-length
    padding; CLIP reads its EOS token, so the padding does not change its embedding)."""
    from transformers import AutoTokenizer

    where, options = _where(spec)
    text = AutoTokenizer.from_pretrained(where, **options)
    return lambda prompts: text(prompts, padding="max_length", truncation=True, return_tensors="pt")
