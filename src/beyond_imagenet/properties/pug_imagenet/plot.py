"""PUG-ImageNet figure: top-1 per factor (10 factors + average) as grouped bars, one panel per model pair."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...config.specs import ModelSpec
from ...figures.style import PAIR_TITLES, key_by_model, model_color, model_pairs, pair_axes, save_figure
from .compute import AVERAGE_KEY, FACTORS, METRIC, PROPERTY

KEY_ORDER = (*FACTORS, AVERAGE_KEY)  # left to right: the paper's factor order, average last
BAR_WIDTH = 0.8  # share of a factor's slot taken by its group of bars
PANEL_SIZE = (7.0, 3.8)  # inches per panel
HEADROOM = 1.25  # y-limit as a multiple of the tallest bar, so the legend row clears the bars
# Printed under the figure when it shows the paper's scoring, so the quirk is never silent.
PAPER_SCORING_NOTE = "Paper scoring: ImageNet index 841 counts for 'Sweatshirt' only, so 'Shirt' is never right."


def pug_table(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Factor × model table of one PUG-ImageNet metric from tidy rows (one dataset per model expected)."""
    return key_by_model(metrics, PROPERTY, metric, KEY_ORDER)


def _draw_panel(axis: plt.Axes, table: pd.DataFrame, specs: list[ModelSpec], title: str,
                models: Mapping[str, ModelSpec]) -> None:
    """Grouped vertical bars for the models of one pair, one group per factor."""
    positions = np.arange(len(table.index))
    width = BAR_WIDTH / len(specs)
    for i, spec in enumerate(specs):
        offset = (i - (len(specs) - 1) / 2) * width
        axis.bar(positions + offset, table[spec.id].to_numpy(), width=width, color=model_color(spec, models),
                 label=spec.display_name or spec.id)
    axis.set_xticks(positions, [k.replace("_", " ") for k in table.index], rotation=45, ha="right")
    axis.set_ylabel("top-1 accuracy (%)")
    axis.set_title(title)
    axis.legend(loc="upper center", ncol=len(specs), fontsize="small", frameon=False)


def plot_pug(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path,
             metric: str = METRIC) -> list[Path]:
    """The paper's PUG-ImageNet figure (top-1 per factor + average); returns [pdf, png]."""
    table = pug_table(metrics, metric)
    present = {m: spec for m, spec in models.items() if m in table.columns}
    if not present:
        raise ValueError(f"none of the models {sorted(models)} has {metric} rows; have {sorted(table.columns)}")
    pairs = model_pairs(present)
    figure, axes = pair_axes(pairs, PANEL_SIZE, sharey=True)
    for axis, (training, specs) in zip(axes[0], pairs.items()):
        _draw_panel(axis, table, specs, PAIR_TITLES[training], models)
    tallest = float(np.nanmax(table[list(present)].to_numpy(dtype=float), initial=0.0))
    axes[0, 0].set_ylim(0.0, HEADROOM * tallest if tallest > 0 else 1.0)  # sharey: one limit for all panels
    figure.suptitle(f"PUG-ImageNet top-1 per factor ({metric})")
    if metric == METRIC:
        figure.text(0.5, -0.02, PAPER_SCORING_NOTE, ha="center", va="top", fontsize="small")
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the PUG-ImageNet property: grouped bars over the factors + average."""
    return plot_pug(metrics, models, out_base)
