"""ImageNet-1k label space: the canonical index is the position of a wnid in the sorted wnids."""

from __future__ import annotations

from functools import lru_cache

NUM_IMAGENET_CLASSES = 1000


@lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 wnids in canonical (sorted) order, from timm's package data."""
    from timm.data import ImageNetInfo

    wnids = tuple(sorted(ImageNetInfo().label_names()))
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
