"""ImageNet-X figure: error ratio per factor as horizontal bars, one panel per model pair (supervised, CLIP)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...config.specs import ModelSpec
from ...figures.style import PAIR_TITLES, key_by_model, model_color, model_pairs, pair_axes, save_figure
from .compute import AVERAGE_KEY, PROPERTY, RATIO_METRIC

# Top-to-bottom bar order: the order of paper_values.csv, read off the paper's figure, average last.
FACTOR_ORDER = (
    "color", "darker", "brighter", "larger", "smaller", "object_blocking", "person_blocking", "partial_view",
    "pose", "shape", "subcategory", "texture", "pattern", "style", "background", "multiple_objects", AVERAGE_KEY,
)
BAR_HEIGHT = 0.8  # share of a factor's row taken by its group of bars
PANEL_SIZE = (4.0, 6.5)  # inches per panel


def error_ratio_table(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Factor × model table of one error-ratio metric from tidy rows (one dataset per model expected)."""
    return key_by_model(metrics, PROPERTY, metric, FACTOR_ORDER)


def _draw_panel(axis: plt.Axes, table: pd.DataFrame, specs: list[ModelSpec], title: str,
                models: Mapping[str, ModelSpec]) -> None:
    """Grouped horizontal bars for the models of one pair, with the no-difference line at 1."""
    positions = -np.arange(len(table.index))  # first factor on top, average at the bottom
    height = BAR_HEIGHT / len(specs)
    for i, spec in enumerate(specs):
        offset = ((len(specs) - 1) / 2 - i) * height  # first model of the pair uppermost in its group
        axis.barh(positions + offset, table[spec.id].to_numpy(), height=height, color=model_color(spec, models),
                  label=spec.display_name or spec.id)
    axis.axvline(1.0, color="black", linestyle="--", linewidth=1)  # error ratio 1 = as hard as the average image
    axis.set_yticks(positions, [k.replace("_", " ") for k in table.index])
    axis.set_title(title)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, fontsize="small", frameon=False)


def plot_imagenet_x(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path,
                    metric: str = RATIO_METRIC["top"]) -> list[Path]:
    """The paper's ImageNet-X figure (top-factor error ratios, 16 factors + average); returns [pdf, png]."""
    table = error_ratio_table(metrics, metric)
    present = {m: spec for m, spec in models.items() if m in table.columns}
    if not present:
        raise ValueError(f"none of the models {sorted(models)} has {metric} rows; have {sorted(table.columns)}")
    pairs = model_pairs(present)
    figure, axes = pair_axes(pairs, PANEL_SIZE, sharex=True, sharey=True)
    for axis, (training, specs) in zip(axes[0], pairs.items()):
        _draw_panel(axis, table, specs, PAIR_TITLES[training], models)
    figure.suptitle("ImageNet-X error ratio (1 − acc_factor) / (1 − acc_all); lower is better")
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the ImageNet-X property: error-ratio bars per factor, one panel per pair."""
    return plot_imagenet_x(metrics, models, out_base)
