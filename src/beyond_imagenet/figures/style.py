"""Shared figure style: the paper's colours and the supervised / CLIP pairing of models."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # figures are files; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402

from ..config.specs import ModelSpec  # noqa: E402

log = logging.getLogger(__name__)

FAMILY_COLORS = {"vit": "#fc8e62", "convnext": "#412F8A", "other": "#7f7f7f"}
PAIR_TITLES = {"supervised": "Supervised", "clip": "CLIP", "other": "Other"}


def model_color(spec: ModelSpec) -> str:
    """ViT orange, ConvNeXt purple (the paper's colours), grey for anything else."""
    return FAMILY_COLORS.get(spec.family, FAMILY_COLORS["other"])


def model_pairs(models: Mapping[str, ModelSpec]) -> dict[str, list[ModelSpec]]:
    """Models grouped by training paradigm, in the paper's panel order (supervised, CLIP, other)."""
    groups: dict[str, list[ModelSpec]] = {}
    for training in PAIR_TITLES:
        members = [m for m in models.values() if m.training == training]
        if members:
            groups[training] = sorted(members, key=lambda m: (m.family != "vit", m.family, m.id))
    return groups


def vit_convnext_pair(specs: Sequence[ModelSpec], training: str, figure: str) -> tuple[ModelSpec, ModelSpec] | None:
    """The (ViT, ConvNeXt) of a pair for the paper's diverging-bar figures, or None (logged) if not exactly one of each."""
    vits = [spec for spec in specs if spec.family == "vit"]
    convnexts = [spec for spec in specs if spec.family == "convnext"]
    if len(vits) == 1 and len(convnexts) == 1:
        return vits[0], convnexts[0]
    log.warning("%s figure: the %s pair has models %s, not exactly one ViT and one ConvNeXt; panel skipped",
                figure, training, [spec.id for spec in specs])
    return None


def pair_axes(pairs: Mapping[str, Sequence[ModelSpec]], panel_size: tuple[float, float], **shared: bool):
    """A figure with one panel per pair, side by side (sharex/sharey passed through)."""
    return plt.subplots(1, len(pairs), figsize=(panel_size[0] * len(pairs), panel_size[1]), squeeze=False, **shared)


def save_figure(figure: plt.Figure, out_base: Path) -> list[Path]:
    """Write <out_base>.pdf and <out_base>.png (dpi 150) and close the figure."""
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_base.with_suffix(".pdf"), out_base.with_suffix(".png")]
    for path in paths:
        # No creation date (and no software version) in the PDF: two runs give byte-identical figures.
        metadata = {"CreationDate": None, "Producer": None} if path.suffix == ".pdf" else {"Software": None}
        figure.savefig(path, bbox_inches="tight", dpi=150, metadata=metadata)
    plt.close(figure)
    return paths


def key_by_model(metrics: pd.DataFrame, prop: str, metric: str, key_order: Sequence[str]) -> pd.DataFrame:
    """key x model table of one metric from tidy rows, in key_order; several rows per (model, key) is an error."""
    rows = metrics[(metrics["property"] == prop) & (metrics["metric"] == metric)]
    if rows.empty:
        raise ValueError(f"no rows with property={prop!r}, metric={metric!r} to plot")
    doubled = rows[rows.duplicated(["model", "key"], keep=False)]
    if len(doubled):
        first = doubled.iloc[0]
        raise ValueError(f"model {first['model']!r} has several {metric} rows for {first['key']!r} "
                         f"(datasets {sorted(doubled['dataset'].unique())}); plot one dataset at a time")
    return rows.pivot(index="key", columns="model", values="value").reindex(list(key_order))
