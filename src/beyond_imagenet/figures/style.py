"""Shared figure style: the paper's colours and the supervised / CLIP pairing of models."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # figures are files; no display on a cluster node
matplotlib.rcParams["svg.hashsalt"] = "beyond-imagenet"  # the same ids in every run: byte-identical SVGs
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ..config.specs import ModelSpec  # noqa: E402

log = logging.getLogger(__name__)

FAMILY_COLORS = {"vit": "#fc8e62", "convnext": "#412F8A", "other": "#7f7f7f"}  # the paper's ViT orange, ConvNeXt purple
FAMILY_MAPS = {"vit": "Oranges", "convnext": "Purples"}  # further models of a family: shades of its hue
# where on the colour map the further shades lie: far from the paper's colour (a light orange, a dark purple)
FAMILY_SHADES = {"vit": (0.95, 0.7), "convnext": (0.5, 0.75)}
# models of no paper family: distinct hues that are neither orange nor purple (Tableau's, without those two)
OTHER_COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f")
PARADIGM_MARKERS = {"supervised": "o", "clip": "s", "other": "^"}
PARADIGM_LINES = {"supervised": "-", "clip": "--", "other": ":"}
PAIR_TITLES = {"supervised": "Supervised", "clip": "CLIP", "other": "Other"}


@dataclass(frozen=True)
class ModelStyle:
    """How one model is drawn in every figure of a run: its colour (its family's hue), marker and line (its
    paradigm)."""

    color: str
    marker: str
    linestyle: str


def _family_colors(family: str, count: int) -> list[str]:
    """`count` distinct colours of a family: the paper's colour first, then shades of its hue."""
    if family not in FAMILY_MAPS:
        return [OTHER_COLORS[k % len(OTHER_COLORS)] if k < len(OTHER_COLORS) else
                matplotlib.colors.to_hex(matplotlib.colormaps["tab20b"](k % 20)) for k in range(count)]
    shades = matplotlib.colormaps[FAMILY_MAPS[family]]
    first, last = FAMILY_SHADES[family]
    steps = [first + (last - first) * k / max(count - 2, 1) for k in range(count - 1)]
    return [FAMILY_COLORS[family]] + [matplotlib.colors.to_hex(shades(x)) for x in steps]


def model_styles(models: Mapping[str, ModelSpec]) -> dict[str, ModelStyle]:
    """A distinct style per model of a run (the same in every figure: it depends only on the ordered models)."""
    by_family: dict[str, list[str]] = {}
    paradigm_order = list(PARADIGM_MARKERS)
    # within a family: supervised first (it keeps the paper's colour), then CLIP, then the rest; then by id
    ordered = sorted(models, key=lambda m: (paradigm_order.index(models[m].training)
                                            if models[m].training in paradigm_order else len(paradigm_order), m))
    for model_id in ordered:
        spec = models[model_id]
        by_family.setdefault(spec.family if spec.family in FAMILY_MAPS else "other", []).append(model_id)
    styles = {}
    for family, members in by_family.items():
        for model_id, color in zip(members, _family_colors(family, len(members))):
            training = models[model_id].training
            styles[model_id] = ModelStyle(color, PARADIGM_MARKERS.get(training, "^"), PARADIGM_LINES.get(training, ":"))
    return styles


def model_color(spec: ModelSpec, models: Mapping[str, ModelSpec] | None = None) -> str:
    """The model's colour among `models` (the run's models; alone: its family's colour)."""
    return model_styles(models or {spec.id: spec})[spec.id].color


def paradigm_legend(models: Mapping[str, ModelSpec]) -> list[Line2D]:
    """Legend handles that say what the markers and line styles mean (the paradigms present)."""
    present = dict.fromkeys(spec.training if spec.training in PARADIGM_MARKERS else "other" for spec in models.values())
    return [Line2D([], [], color="black", marker=PARADIGM_MARKERS[t], linestyle=PARADIGM_LINES[t],
                   label=f"{PAIR_TITLES[t]} (marker / line)") for t in present]


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


def save_figure(figure: plt.Figure, out_base: Path, formats: Sequence[str] = ("pdf", "png")) -> list[Path]:
    """Write <out_base>.pdf and <out_base>.png (dpi 150; and .svg when asked) and close the figure."""
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_base.with_suffix(f".{ext}") for ext in formats]
    for path in paths:
        # No creation date (and no software version): two runs give byte-identical figures.
        metadata = {"CreationDate": None, "Producer": None} if path.suffix == ".pdf" else \
            {"Date": None, "Creator": None} if path.suffix == ".svg" else {"Software": None}
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
