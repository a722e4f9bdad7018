"""Robustness figure: per dataset, ConvNeXt − ViT top-1 as diverging bars, one panel per model pair."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch

from ...config.specs import ModelSpec
from ...figures.style import FAMILY_COLORS, PAIR_TITLES, model_color, model_pairs, save_figure, vit_convnext_pair
from ..accuracy.plot import plot_accuracy
from .compute import AVERAGE_KEY, PROPERTY, SHIFTED_KEYS, TOP1_METRIC, VAL_KEY

LOGGER = logging.getLogger(__name__)

FIGURE_KEYS = (VAL_KEY, *SHIFTED_KEYS, AVERAGE_KEY)  # top to bottom, as in the paper's figure
DATASET_LABELS = {"imagenet_val": "ImageNet val", "imagenet_v2": "ImageNet-V2", "imagenet_a": "ImageNet-A",
                  "imagenet_c": "ImageNet-C", "imagenet_hard": "ImageNet-Hard", "imagenet_r": "ImageNet-R",
                  "imagenet_sketch": "ImageNet-Sketch", "imagenet_real": "ImageNet-ReaL",
                  "average_7_shifted": "Average (7 shifted)"}
PANEL_SIZE = (4.2, 3.6)
X_MARGIN = 1.6  # room beyond the longest bar for its value label


def _top1_by_key(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    """{key: top-1} of one model's robustness rows in the figure's keys."""
    rows = metrics[(metrics["model"] == model) & (metrics["property"] == PROPERTY)
                   & (metrics["metric"] == TOP1_METRIC) & metrics["key"].isin(FIGURE_KEYS)]
    if rows["key"].duplicated().any():
        raise ValueError(f"model {model!r} has several robustness top1_pct rows for keys "
                         f"{sorted(set(rows.loc[rows['key'].duplicated(), 'key']))}; concatenate each model once")
    return dict(zip(rows["key"], rows["value"].astype(float)))


def _draw_panel(axis: plt.Axes, vit: ModelSpec, convnext: ModelSpec, metrics: pd.DataFrame, title: str,
                models: Mapping[str, ModelSpec]) -> None:
    """Bars of ConvNeXt − ViT, coloured by the winner, with the winner's accuracy at the bar end."""
    vit_top1, convnext_top1 = _top1_by_key(metrics, vit.id), _top1_by_key(metrics, convnext.id)
    keys = [k for k in FIGURE_KEYS if k in vit_top1 and k in convnext_top1]
    if not keys:
        LOGGER.warning("robustness figure: %s and %s share no robustness top1_pct rows; empty panel",
                       vit.id, convnext.id)
    diffs = [convnext_top1[k] - vit_top1[k] for k in keys]
    colors = [model_color(convnext, models) if d > 0 else model_color(vit, models) if d < 0 else FAMILY_COLORS["other"]
              for d in diffs]
    positions = range(len(keys))
    axis.barh(positions, diffs, color=colors)
    limit = max([abs(d) for d in diffs] + [1.0]) * X_MARGIN
    for y, key, diff in zip(positions, keys, diffs):
        winner = max(convnext_top1[key], vit_top1[key])
        axis.text(diff + (0.03 if diff >= 0 else -0.03) * limit, y, f"{winner:.1f}", va="center",
                  ha="left" if diff >= 0 else "right", fontsize=8)
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.set_xlim(-limit, limit)
    axis.set_yticks(list(positions), [DATASET_LABELS.get(k, k) for k in keys])
    axis.invert_yaxis()
    axis.set_xlabel("top-1 (%): ConvNeXt − ViT")
    axis.set_title(title)
    if AVERAGE_KEY in keys:  # the average summarises the rows above it
        axis.axhline(keys.index(AVERAGE_KEY) - 0.5, color="grey", linewidth=0.6, linestyle="--")
    axis.legend(handles=[Patch(color=model_color(convnext, models), label=f"{convnext.display_name or convnext.id} better"),
                         Patch(color=model_color(vit, models), label=f"{vit.display_name or vit.id} better")],
                loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7, frameon=False)


def plot_robustness(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path) -> list[Path]:
    """The paper's robustness figure from tidy metric rows; writes <out_base>.pdf and .png."""
    panels = [(training, pair) for training, group in model_pairs(models).items()
              if (pair := vit_convnext_pair(group, training, "robustness")) is not None]
    if not panels:
        raise ValueError(f"no model pair with exactly one ViT and one ConvNeXt among {sorted(models)}; "
                         "set 'family' and 'training' of the models in the config")
    figure, axes = plt.subplots(1, len(panels), figsize=(PANEL_SIZE[0] * len(panels), PANEL_SIZE[1]), squeeze=False)
    for axis, (training, (vit, convnext)) in zip(axes[0], panels):
        _draw_panel(axis, vit, convnext, metrics, PAIR_TITLES.get(training, training), models)
    figure.tight_layout()
    return save_figure(figure, Path(out_base))


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point: diverging ConvNeXt - ViT bars per set; plain top-1 bars when no ViT/ConvNeXt pair exists."""
    present = {m: s for m, s in models.items() if m in set(metrics["model"])}
    if any(vit_convnext_pair(group, t, "robustness") for t, group in model_pairs(present).items()):
        return plot_robustness(metrics, present, out_base)
    LOGGER.warning("no ViT/ConvNeXt pair among %s: drawing plain top-1 bars instead of the paper's figure", sorted(present))
    return plot_accuracy(metrics[metrics["key"].isin(FIGURE_KEYS)], present, out_base, category="key")
