"""Shape-bias figure: per cue-conflict category the fraction of shape decisions, one panel per model pair."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...config.specs import ModelSpec
from ...figures.style import PAIR_TITLES, key_by_model, model_color, model_pairs, plt, save_figure
from .compute import OVERALL_KEY, PROPERTY, categories

METRIC = "shape_bias"
MARKERS = ("o", "s", "D", "^", "v", "P")  # per model within a panel, so overlapping points stay apart
PANEL_SIZE = (4.2, 6.0)  # inches per panel
MARKER_SIZE = 60


def shape_bias_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """(16 categories + 'cue_conflict') × model table of shape bias from tidy rows."""
    return key_by_model(metrics, PROPERTY, METRIC, [*categories(), OVERALL_KEY])


def _draw_panel(axis: plt.Axes, table: pd.DataFrame, names: list[str], specs: list[ModelSpec], title: str,
                models: Mapping[str, ModelSpec]) -> None:
    """Markers per category and a dashed line at each model's overall shape bias."""
    positions = -np.arange(len(names))  # first category on top
    for i, spec in enumerate(specs):
        color, overall = model_color(spec, models), table.loc[OVERALL_KEY, spec.id]
        axis.scatter(table.loc[names, spec.id].to_numpy(), positions, color=color, marker=MARKERS[i % len(MARKERS)],
                     s=MARKER_SIZE, zorder=3, clip_on=False,
                     label=f"{spec.display_name or spec.id}: shape bias {overall:.2f}")
        if np.isfinite(overall):  # NaN when a model never named either cue
            axis.axvline(overall, color=color, linestyle="--", linewidth=1.2)
    for y in positions[:-1] - 0.5:  # faint separators, as in model-vs-human's matrix plot
        axis.axhline(y, color="grey", linestyle=":", linewidth=0.6, alpha=0.5)
    axis.set_xlim(0, 1)
    axis.set_ylim(positions[-1] - 0.5, 0.5)
    axis.set_yticks(positions, names)
    # Each marker is the category's shape bias, shape / (shape + texture) decisions (others left out):
    # not the table's shape_fraction, which divides by every scored image.
    axis.set_xlabel("shape bias: shape / (shape + texture) decisions")
    top = axis.secondary_xaxis("top", functions=(lambda x: 1 - x, lambda x: 1 - x))
    top.set_xlabel("texture / (shape + texture) decisions")
    axis.set_title(title)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1, fontsize="small", frameon=False)


def plot_shape_bias(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path) -> list[Path]:
    """The paper's shape-bias figure (per-category shape fraction, dashed overall); returns [pdf, png]."""
    table = shape_bias_table(metrics)
    present = {m: spec for m, spec in models.items() if m in table.columns}
    if not present:
        raise ValueError(f"none of the models {sorted(models)} has {METRIC} rows; have {sorted(table.columns)}")
    names = [c for c in categories() if table.loc[c].notna().any()]  # a small set may lack categories
    pairs = model_pairs(present)
    figure, axes = plt.subplots(1, len(pairs), figsize=(PANEL_SIZE[0] * len(pairs), PANEL_SIZE[1]),
                                sharey=True, squeeze=False)
    for axis, (training, specs) in zip(axes[0], pairs.items()):
        _draw_panel(axis, table, names, specs, PAIR_TITLES[training], models)
    figure.suptitle("Shape bias on cue-conflict (shape / (shape + texture) decisions)")
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the shape-bias property: per-category shape fractions, one panel per pair."""
    return plot_shape_bias(metrics, models, out_base)
