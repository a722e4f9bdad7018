"""The paper's reported values (Vishniakov, Shen, Liu, ICML 2024), shipped as package data."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Protocol

import pandas as pd

# The four models the paper evaluates; a configured model is compared with the paper only if it
# is exactly one of these (same library, name and pretrained tag), whatever its id.
PAPER_MODELS: dict[str, tuple[str, str, str | None]] = {
    "vit_sup": ("timm", "deit3_base_patch16_224.fb_in22k_ft_in1k", None),
    "convnext_sup": ("timm", "convnext_base.fb_in22k_ft_in1k", None),
    "vit_clip": ("open_clip", "ViT-B-16", "laion400m_e31"),
    "convnext_clip": ("open_clip", "convnext_base", "laion400m_s13b_b51k"),
}


class NamedModel(Protocol):
    """What says which model a config entry is: its library, name and pretrained tag."""

    source: str
    name: str
    pretrained: str | None


PAPER_COLUMNS = ("property", "metric", "key", "model", "value", "precision", "tolerance")


@lru_cache(maxsize=1)
def paper_values() -> pd.DataFrame:
    """All values the paper reports: property, metric, key, model, value, how it was obtained (`precision`) and how
    far the true value can be from it on its own scale (`tolerance`: half a unit of the last printed digit, or the
    stated +/- of a value read off a figure)."""
    with resources.files("beyond_imagenet.catalog.files").joinpath("paper_values.csv").open() as handle:
        values = pd.read_csv(handle)
    if tuple(values.columns) != PAPER_COLUMNS or not (values["tolerance"] > 0).all():
        raise RuntimeError(f"paper_values.csv: columns {list(values.columns)}, expected {list(PAPER_COLUMNS)} with a "
                           "positive tolerance on every row; the shipped file is damaged — reinstall the package")
    return values


def paper_model_id(spec: NamedModel) -> str | None:
    """Which paper model a configured model is, if any (weights from the hub or a local copy)."""
    for paper_id, (source, name, pretrained) in PAPER_MODELS.items():
        if (spec.source, spec.name, spec.pretrained) == (source, name, pretrained):
            return paper_id
    return None
