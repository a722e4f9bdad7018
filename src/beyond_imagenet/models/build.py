"""Model zoo: build timm / open_clip models from a config entry; one forward gives logits and features."""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..catalog.model_sources import model_source
from ..config.specs import ModelSpec
from .preprocess import Preprocess

log = logging.getLogger(__name__)



class ModelLoadError(RuntimeError):
    """A model or its checkpoint could not be built or loaded as configured."""






def preprocess_from_timm(model: nn.Module) -> Preprocess:
    """timm's own eval preprocessing (resolve_data_config), as timm's create_transform builds it."""
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=model)
    if cfg.get("crop_mode", "center") != "center":
        raise ModelLoadError(f"timm crop_mode {cfg['crop_mode']!r} is not supported; set 'preprocess' in config")
    crop = int(cfg["input_size"][-1])
    # timm: scale_size = floor(img_size / crop_pct)
    resize = math.floor(crop / cfg["crop_pct"])
    return Preprocess(resize, crop, cfg["interpolation"], tuple(cfg["mean"]), tuple(cfg["std"]))


def preprocess_from_open_clip(model: nn.Module) -> Preprocess:
    """open_clip's own eval preprocessing: Resize(size) -> CenterCrop(size) with its mean/std."""
    import open_clip

    cfg = open_clip.get_model_preprocess_cfg(model)
    if cfg.get("resize_mode", "shortest") != "shortest":
        raise ModelLoadError(f"open_clip resize_mode {cfg['resize_mode']!r} is not supported; set 'preprocess'")
    size = cfg["size"]
    side = int(size if isinstance(size, int) else size[-1])
    return Preprocess(side, side, cfg["interpolation"], tuple(cfg["mean"]), tuple(cfg["std"]))


def sha256_file(path: Path) -> str:
    """Content hash of a weight file, recorded so a cache names exactly which weights made it.

    Cached per (file, mtime, size): an extraction needs it for the head check and the cache record.
    """
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require_file(path: Path, spec: ModelSpec) -> None:
    if not path.is_file():
        raise ModelLoadError(f"model {spec.id!r}: weights file {str(path)!r} does not exist (models.{spec.id}.weights)")


def build_timm(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """timm model from the hub tag, or from a local file through timm's own (strict) pretrained loader.

    image_size builds a ViT for another input size; timm's loader resamples its position
    embeddings (bicubic). Convolutional nets take any size and are built unchanged.
    """
    import timm

    kwargs = dict(spec.model_kwargs)
    path = spec.local_weights
    if path is not None:
        _require_file(path, spec)
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


def build_open_clip(spec: ModelSpec, image_size: int | None = None) -> nn.Module:
    """open_clip model from arch + pretrained tag, or from a local state dict (strict); image_size = force_image_size."""
    import open_clip

    if spec.arch_config:
        open_clip.add_model_config(Path(spec.arch_config))
    path = spec.local_weights
    if path is not None:
        _require_file(path, spec)
    pretrained = str(path) if path is not None else spec.pretrained
    try:
        return open_clip.create_model(spec.name, pretrained=pretrained, require_pretrained=True,
                                      force_image_size=image_size)
    except RuntimeError as error:
        raise ModelLoadError(f"model {spec.id!r}: loading {pretrained!r} failed strictly: {error}") from error


class TimmClassifier(nn.Module):
    """A timm classifier returning (1000-way logits, pre-logit pooled features)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.model.forward_features(images)
        features = self.model.forward_head(tokens, pre_logits=True)
        return self.model.forward_head(tokens), features


class ClipClassifier(nn.Module):
    """A CLIP image tower with a zero-shot head: logits = scale * normalised embedding @ head."""

    def __init__(self, model: nn.Module, head: torch.Tensor, logit_scale: float) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("head", head)  # (num_classes, embed_dim), rows L2-normalised
        self.logit_scale = logit_scale

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.model.encode_image(images)
        normalised = nn.functional.normalize(embedding, dim=-1)
        return self.logit_scale * normalised @ self.head.T, embedding


@dataclass
class LoadedModel:
    """A model ready for extraction, with what a cache must record about it."""

    spec: ModelSpec
    network: nn.Module
    preprocess: Preprocess
    weights_sha256: str | None
    resampled: dict[str, list[list[int]]] = field(default_factory=dict)  # key -> [checkpoint shape, model shape]


def untrained_timm(spec: ModelSpec) -> nn.Module:
    """The configured timm architecture with random weights (the demo trains it)."""
    import timm

    return timm.create_model(spec.name, pretrained=False, **spec.model_kwargs)


def untrained_open_clip(spec: ModelSpec) -> nn.Module:
    """The configured open_clip architecture with random weights (the demo trains it)."""
    import open_clip

    if spec.arch_config:
        open_clip.add_model_config(Path(spec.arch_config))
    return open_clip.create_model(spec.name, pretrained=None)


def timm_classifier(model: nn.Module, head: torch.Tensor | None, logit_scale: float) -> nn.Module:
    """A timm model's own classifier; it takes no zero-shot head."""
    if head is not None:
        raise ModelLoadError("a timm classifier has its own head; a zero-shot head was passed")
    return TimmClassifier(model)


def zero_shot_classifier(model: nn.Module, head: torch.Tensor | None, logit_scale: float) -> nn.Module:
    """A CLIP image tower classified through its cached zero-shot head."""
    if head is None:
        raise ModelLoadError("a CLIP image tower needs its zero-shot head")
    return ClipClassifier(model, head, logit_scale)


def library_preprocess(spec: ModelSpec, model: nn.Module) -> Preprocess:
    """The config's preprocess override, else the source library's own eval transform.

    A model built for another input size (`model_kwargs: {img_size: ...}`) keeps its tag's eval transform in timm
    (the pretrained config is not updated), which would feed it images of the tag's size: refused, by name.
    """
    if spec.preprocess is not None:
        return Preprocess.from_dict(spec.preprocess)
    preprocess = model_source(spec.source).resolve("preprocess")(model)
    size = spec.model_kwargs.get("img_size")
    built = size[-1] if isinstance(size, (list, tuple)) else size
    if built is not None and int(built) != preprocess.crop:
        raise ModelLoadError(f"model {spec.id!r}: 'models.{spec.id}.model_kwargs.img_size' builds it for {built} px "
                             f"but its library's eval transform crops {preprocess.crop} px; set "
                             f"'models.{spec.id}.preprocess' (resize, crop: {built}, interpolation, mean, std)")
    return preprocess


def checkpoint_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a local checkpoint (a state dict, or one under 'state_dict' / 'model'; 'module.' dropped)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    return {key.removeprefix("module."): value for key, value in state.items() if isinstance(value, torch.Tensor)}


def as_the_library_loads(saved: dict[str, torch.Tensor], built: set[str], spec: ModelSpec,
                         path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under the names the library loads them by: as saved, or without the one prefix the
    library strips (an open_clip export of a timm tower saves `visual.trunk.<key>`), found as the prefix that puts most
    saved keys onto the model's. Tensors outside that prefix are not loaded (a text tower); checked like the rest, the
    prefixed ones can no longer skip the shape check."""
    if set(saved) & built:
        return saved
    prefixes: Counter[str] = Counter()
    for key in saved:
        for cut in (i + 1 for i, char in enumerate(key) if char == "."):
            if key[cut:] in built:
                prefixes[key[:cut]] += 1
    if not prefixes:
        raise ModelLoadError(f"model {spec.id!r}: no tensor of {path} matches the built model's names, with or without a "
                             f"prefix (saved e.g. {sorted(saved)[:2]}, the model has e.g. {sorted(built)[:2]}); it is a "
                             f"checkpoint of another architecture — check 'models.{spec.id}.name'")
    prefix = prefixes.most_common(1)[0][0]
    outside = [key for key in saved if not key.startswith(prefix)]
    if outside:
        log.info("%s: %d tensors outside the prefix %r are not part of this model (e.g. %s)", path, len(outside), prefix,
                 outside[:2])
    return {key.removeprefix(prefix): value for key, value in saved.items() if key.startswith(prefix)}


def check_checkpoint_shapes(spec: ModelSpec, model: nn.Module, image_size: int | None) -> dict[str, list[list[int]]]:
    """Strict in the sense a user means: every checkpoint tensor has the built model's shape, every model tensor is there.

    The libraries resample position embeddings and patch kernels of a wrongly shaped checkpoint
    without a word, and timm loads non-strictly when `num_classes` differs from the tag; both are
    errors here. Only when an input size is asked for (the resolution views) may the source's
    position embeddings differ; they are returned so the cache records the resample.
    """
    path = spec.local_weights
    if path is None:
        return {}
    built = model.state_dict()
    saved = as_the_library_loads(checkpoint_tensors(path), set(built), spec, path)
    missing = sorted(set(built) - set(saved))
    if missing:
        raise ModelLoadError(f"model {spec.id!r}: {path} lacks {len(missing)} tensors of the built model, e.g. "
                             f"{missing[:3]} (a num_classes or architecture override that the checkpoint does not fit?)")
    allowed = model_source(spec.source).resizable_keys if image_size is not None else ()
    resampled = {}
    for key in sorted(set(saved) & set(built)):
        old, new = list(saved[key].shape), list(built[key].shape)
        if old == new:
            continue
        if key not in allowed:
            raise ModelLoadError(f"model {spec.id!r}: checkpoint tensor {key!r} has shape {old} but the built model "
                                 f"needs {new} ({path}); fix the checkpoint or the model config (models.{spec.id})")
        resampled[key] = [old, new]
    if resampled:
        log.info("%s built for %d px: resampled %s (bicubic, the library's loader)", spec.id, image_size, resampled)
    return resampled


def load_backbone(spec: ModelSpec, image_size: int | None = None) -> tuple[nn.Module, Preprocess]:
    """The raw library model (eval mode) and its resolved preprocessing (config override wins)."""
    model, preprocess, _ = _load_checked(spec, image_size)
    return model, preprocess


def _load_checked(spec: ModelSpec, image_size: int | None) -> tuple[nn.Module, Preprocess, dict]:
    model = model_source(spec.source).resolve("build")(spec, image_size)
    model.eval()
    resampled = check_checkpoint_shapes(spec, model, image_size)
    return model, library_preprocess(spec, model), resampled


def load_model(spec: ModelSpec, head: torch.Tensor | None = None, logit_scale: float = 100.0,
               image_size: int | None = None) -> LoadedModel:
    """Build a model for extraction; CLIP models need their cached zero-shot head."""
    backbone, preprocess, resampled = _load_checked(spec, image_size)
    if spec.zero_shot and head is None:
        raise ModelLoadError(f"model {spec.id!r} classifies zero-shot (source {spec.source}) and needs its zero-shot head")
    network = model_source(spec.source).resolve("classifier")(backbone, head, logit_scale)
    network.eval()
    path = spec.local_weights
    return LoadedModel(spec, network, preprocess, sha256_file(path) if path is not None else None, resampled)
