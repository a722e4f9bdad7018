"""Model zoo: build a model of any source from its config entry (through the source table), loaded strictly, its
preprocessing resolved; one forward gives (canonical logits, features)."""

from __future__ import annotations

import hashlib
import logging
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


def sha256_file(path: Path) -> str:
    """Content hash of a weight file (or of every file of a weights folder, with their names), recorded so a cache
    names exactly which weights made it.

    Cached per (path, mtime, size): an extraction needs it for the head check and the cache record.
    """
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stamp = tuple((str(p.relative_to(path) if path.is_dir() else p.name), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in files)
    return _sha256(str(path.resolve()), stamp)


@lru_cache(maxsize=16)
def _sha256(path: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    root = Path(path)
    for name, _, _ in stamp:
        file = root / name if root.is_dir() else root
        if root.is_dir():
            digest.update(f"{name}\n".encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, spec: ModelSpec) -> None:
    """Refuse a weights path that is not a file, naming the config key."""
    if not path.is_file():
        raise ModelLoadError(f"model {spec.id!r}: weights file {str(path)!r} does not exist (models.{spec.id}.weights)")


@dataclass
class LoadedModel:
    """A model ready for extraction, with what a cache must record about it."""

    spec: ModelSpec
    network: nn.Module
    preprocess: Preprocess
    weights_sha256: str | None
    resampled: dict[str, list[list[int]]] = field(default_factory=dict)  # key -> [checkpoint shape, model shape]
    output_map: str = "canonical"  # how its outputs became the canonical 1000 classes (or that it has none)


def library_preprocess(spec: ModelSpec, model: nn.Module) -> Preprocess:
    """The config's preprocess override, else the source library's own eval transform.

    A model built for another input size (`model_kwargs: {img_size: ...}`) keeps its tag's eval transform in timm
    (the pretrained config is not updated), which would feed it images of the tag's size: refused, by name.
    """
    if spec.preprocess is not None:
        return Preprocess.from_dict(spec.preprocess)
    preprocess = model_source(spec.source).resolve("preprocess")(model, spec)
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
    resampled = {} if model_source(spec.source).strict_by_library else check_checkpoint_shapes(spec, model, image_size)
    return model, library_preprocess(spec, model), resampled


def load_model(spec: ModelSpec, head: torch.Tensor | None = None, logit_scale: float = 100.0,
               image_size: int | None = None) -> LoadedModel:
    """Build a model for extraction: (canonical logits, features); a backbone (head: none): (None, features).
    Models that classify zero-shot need their cached zero-shot head."""
    backbone, preprocess, resampled = _load_checked(spec, image_size)
    source = model_source(spec.source)
    if spec.headless:
        network = source.resolve("backbone")(spec, backbone)
    else:
        if spec.zero_shot and head is None:
            raise ModelLoadError(f"model {spec.id!r} classifies zero-shot (source {spec.source}) and needs its "
                                 "zero-shot head")
        network = source.resolve("classifier")(spec, backbone, head, logit_scale)
    network.eval()
    path = spec.local_weights
    return LoadedModel(spec, network, preprocess, sha256_file(path) if path is not None else None, resampled,
                       network.output_map)
