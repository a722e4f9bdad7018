"""Transfer figures: the paper's diverging bars (ConvNeXt - ViT VTAB linear-probe top-1 per task, one panel per
pair) and, in `<out_base>_groups`, group-mean bars per model."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from ...config.specs import ModelSpec
from ...figures.style import PAIR_TITLES, model_color, model_pairs, plt, save_figure, vit_convnext_pair
from .compute import (
    AVERAGE_ALL_KEY,
    AVERAGE_PRESENT_KEY,
    METRIC_TOP1,
    OTHER_GROUP,
    PROPERTY,
    VTAB_GROUPS,
    VTAB_TASKS,
    transfer_summary_rows,
)

log = logging.getLogger(__name__)

TIE_COLOR = "#7f7f7f"
GROUPS_SUFFIX = "_groups"
SUMMARY_KEYS = (*VTAB_GROUPS, OTHER_GROUP, AVERAGE_ALL_KEY, AVERAGE_PRESENT_KEY)  # bar order of the group figure
ROW_HEIGHT = 0.24  # inches per task row of the diverging-bar panels
PANEL_WIDTH = 3.6
VALUE_FONTSIZE = 6.5


def _task_scores(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per-task linear-probe top-1 as a table: rows = task key ('group/task'), columns = model id."""
    rows = metrics[(metrics["property"] == PROPERTY) & (metrics["metric"] == METRIC_TOP1)
                   & metrics["key"].astype(str).str.contains("/", regex=False)]
    table = rows.pivot_table(index="key", columns="model", values="value", aggfunc="mean")
    order = {task: position for position, task in enumerate(VTAB_TASKS)}
    keys = sorted(table.index, key=lambda key: (order.get(key.split("/")[-1], len(order)), key))
    return table.reindex(keys)


def _comparable_pairs(scores: pd.DataFrame, models: Mapping[str, ModelSpec]) -> dict[str, tuple[ModelSpec, ModelSpec]]:
    """Pairs (by training) with one ViT and one ConvNeXt that have per-task rows."""
    present = {model_id: spec for model_id, spec in models.items() if model_id in scores.columns}
    pairs = {}
    for training, specs in model_pairs(present).items():
        pair = vit_convnext_pair(specs, training, "transfer")
        if pair is not None:
            pairs[training] = pair
    return pairs


def _draw_group_bands(axis: plt.Axes, keys: Sequence[str]) -> None:
    """Dotted lines between VTAB groups and the group name beside each block, right of the panel."""
    groups = [key.split("/")[0] for key in keys]
    for row in range(1, len(groups)):
        if groups[row] != groups[row - 1]:
            axis.axhline(row - 0.5, color="grey", linestyle=":", linewidth=0.8)
    for group in dict.fromkeys(groups):
        rows = [row for row, name in enumerate(groups) if name == group]
        axis.text(1.01, float(np.mean(rows)), group, transform=axis.get_yaxis_transform(), rotation=-90,
                  ha="left", va="center", fontsize=7, color="grey")


def _draw_diverging(axis: plt.Axes, scores: pd.DataFrame, vit: ModelSpec, convnext: ModelSpec, title: str,
                    models: Mapping[str, ModelSpec]) -> None:
    """Horizontal bars of ConvNeXt - ViT top-1 per task, coloured by winner, the winner's top-1 at the bar end."""
    both = scores[[vit.id, convnext.id]].dropna()
    diff = (both[convnext.id] - both[vit.id]).to_numpy()
    colors = [model_color(convnext, models) if d > 0 else model_color(vit, models) if d < 0 else TIE_COLOR for d in diff]
    rows = np.arange(len(both))
    axis.barh(rows, diff, color=colors, edgecolor="black", linewidth=0.4)
    reach = max(float(np.abs(diff).max(initial=0.0)), 1.0)
    for row, d, winner in zip(rows, diff, both.max(axis=1).to_numpy()):
        axis.text(d + np.sign(d) * 0.03 * reach if d else 0.03 * reach, row, f"{winner:.1f}", va="center",
                  ha="right" if d < 0 else "left", fontsize=VALUE_FONTSIZE)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlim(-1.35 * reach, 1.35 * reach)
    axis.set_yticks(rows, [key.split("/")[-1] for key in both.index], fontsize=7)
    axis.set_ylim(len(both) - 0.5, -0.5)  # first task on top
    axis.set_xlabel(f"{convnext.display_name} \u2212 {vit.display_name} top-1 (pp)", fontsize=8)
    axis.set_title(title, fontsize=9, pad=18)  # room for the legend between title and panel
    axis.legend(handles=[Patch(color=model_color(convnext, models), label=f"{convnext.display_name} better"),
                         Patch(color=model_color(vit, models), label=f"{vit.display_name} better")],
                fontsize=6.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    _draw_group_bands(axis, list(both.index))


def _draw_grouped(axis: plt.Axes, scores: pd.DataFrame, specs: Sequence[ModelSpec], models: Mapping[str, ModelSpec]) -> None:
    """Fallback without a ViT/ConvNeXt pair: per task, one bar per model."""
    width = 0.8 / len(specs)
    positions = np.arange(len(scores))
    for offset, spec in enumerate(specs):
        axis.bar(positions + offset * width, scores[spec.id].to_numpy(), width, color=model_color(spec, models),
                 edgecolor="black", linewidth=0.4, label=spec.display_name)
    axis.set_xticks(positions + 0.4 - width / 2, [key.split("/")[-1] for key in scores.index], rotation=60,
                    ha="right", fontsize=7)
    axis.set_ylabel("linear-probe top-1 (%)")
    axis.legend(fontsize=7)


def _present_specs(scores: pd.DataFrame, models: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    """Specs of the models with transfer rows, in panel order; an error when there are none."""
    specs = [spec for group in model_pairs(models).values() for spec in group if spec.id in scores.columns]
    if not specs:
        raise ValueError(f"no {PROPERTY} rows with metric {METRIC_TOP1} for any of the models {sorted(models)}; "
                         "compute the linear-probe rows first")
    return specs


def _plot_tasks(scores: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path) -> list[Path]:
    """The per-task figure: diverging bars per pair, or grouped bars when no pair is complete."""
    specs = _present_specs(scores, models)
    pairs = _comparable_pairs(scores, models)
    height = 1.4 + ROW_HEIGHT * len(scores)
    if not pairs:
        log.warning("transfer figure: no pair of one ViT and one ConvNeXt; drawing plain grouped bars instead")
        figure, axis = plt.subplots(figsize=(2.0 + 0.25 * len(scores) * len(specs), 3.4))
        _draw_grouped(axis, scores, specs, models)
    else:
        figure, axes = plt.subplots(1, len(pairs), figsize=(PANEL_WIDTH * len(pairs) + 0.8, height), squeeze=False)
        for axis, (training, (vit, convnext)) in zip(axes[0], pairs.items()):
            _draw_diverging(axis, scores, vit, convnext, PAIR_TITLES.get(training, training), models)
    figure.tight_layout()
    return save_figure(figure, out_base)


def _summary_table(metrics: pd.DataFrame, specs: Sequence[ModelSpec]) -> pd.DataFrame:
    """Group means per model (rows = summary key): the table's summary rows, else computed from its task rows."""
    rows = metrics[(metrics["property"] == PROPERTY) & (metrics["metric"] == METRIC_TOP1)]
    columns = {}
    for spec in specs:
        own = rows[(rows["model"] == spec.id) & rows["key"].isin(SUMMARY_KEYS)]
        if own.empty:
            own = transfer_summary_rows(spec.id, rows)
        columns[spec.id] = own.groupby("key")["value"].mean()
    table = pd.DataFrame(columns)
    return table.reindex([key for key in SUMMARY_KEYS if key in table.index])


def _plot_groups(metrics: pd.DataFrame, scores: pd.DataFrame, models: Mapping[str, ModelSpec],
                 out_base: Path) -> list[Path]:
    """Group-mean bars (natural, specialized, structured, average), one panel per pair."""
    specs = _present_specs(scores, models)
    summary = _summary_table(metrics, specs)
    pairs = model_pairs({spec.id: spec for spec in specs})
    figure, axes = plt.subplots(1, len(pairs), figsize=(0.6 + 1.0 * len(summary) * len(pairs), 3.0),
                                squeeze=False, sharey=True)
    positions = np.arange(len(summary))
    for axis, (training, group) in zip(axes[0], pairs.items()):
        width = 0.8 / len(group)
        for offset, spec in enumerate(group):
            values = summary[spec.id].to_numpy()
            bars = axis.bar(positions + offset * width, values, width, color=model_color(spec, models), edgecolor="black",
                            linewidth=0.4, label=spec.display_name)
            axis.bar_label(bars, fmt="%.1f", fontsize=VALUE_FONTSIZE)
        axis.set_xticks(positions + 0.4 - width / 2, list(summary.index), rotation=20, ha="right", fontsize=8)
        axis.set_title(PAIR_TITLES.get(training, training), fontsize=9)
        axis.legend(fontsize=7, loc="upper center", ncols=2)
    axes[0, 0].set_ylabel("linear-probe top-1 (%)")
    axes[0, 0].set_ylim(0, 1.25 * max(float(np.nanmax(summary.to_numpy(), initial=0.0)), 1.0))  # legend room
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot_transfer(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path) -> list[Path]:
    """VTAB linear probe: per-task diverging bars at `out_base`, group means at `out_base`_groups (pdf + png each)."""
    out_base = Path(out_base)
    scores = _task_scores(metrics)
    paths = _plot_tasks(scores, models, out_base)
    return paths + _plot_groups(metrics, scores, models, out_base.with_name(out_base.name + GROUPS_SUFFIX))


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the transfer property: per-task diverging bars (and group means in <name>_groups)."""
    return plot_transfer(metrics, models, out_base)
