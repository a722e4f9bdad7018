"""ImageNet-1k label space: the canonical index is the position of a wnid in the sorted wnids."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

NUM_IMAGENET_CLASSES = 1000


def timm_info_file(name: str) -> Path:
    """A label file timm ships in timm/data/_info/, found without importing timm (a 2-3 s import)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("timm is not installed; it ships the ImageNet label files (requirements.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: timm no longer ships {name}; pin timm as in requirements.txt")
    return path


@lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 wnids in canonical (sorted) order, from timm's package data."""
    wnids = tuple(sorted(timm_info_file("imagenet_synsets.txt").read_text().split()))
    if len(wnids) != NUM_IMAGENET_CLASSES or len(set(wnids)) != NUM_IMAGENET_CLASSES:
        raise RuntimeError(f"timm's ImageNet synset list has {len(wnids)} entries, expected 1000 unique")
    return wnids


@lru_cache(maxsize=1)
def wnid_to_index() -> dict[str, int]:
    """Map wnid -> canonical 1000-class index."""
    return {wnid: i for i, wnid in enumerate(imagenet_wnids())}


def index_of_wnid(wnid: str) -> int:
    """Canonical index of one wnid; a clear error for anything that is not an ILSVRC-2012 wnid."""
    try:
        return wnid_to_index()[wnid]
    except KeyError:
        raise KeyError(f"{wnid!r} is not one of the 1000 ILSVRC-2012 wnids (expected e.g. 'n01440764')") from None


@lru_cache(maxsize=1)
def imagenet_classnames() -> tuple[str, ...]:
    """OpenAI's cleaned class names, index-aligned with the sorted wnids (shipped by open_clip)."""
    from open_clip import IMAGENET_CLASSNAMES

    return tuple(IMAGENET_CLASSNAMES)
