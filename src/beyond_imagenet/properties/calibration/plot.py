"""Calibration figure: per dataset and model, a confidence histogram above a reliability diagram."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ...config.specs import ModelSpec
from ...figures.style import PAIR_TITLES, model_color, model_pairs, save_figure
from .compute import N_BINS, PROPERTY, parse_bin_rows

log = logging.getLogger(__name__)

DATASET_TITLES = {"imagenet_val": "ImageNet-1K val", "imagenet_r": "ImageNet-R", "imagenet_a": "ImageNet-A"}
GAP_COLOR = "#d62728"
PANEL_SIZE = (2.8, 1.2, 2.6)  # width, histogram height, reliability height (inches)


def _present_pairs(metrics: pd.DataFrame, models: Mapping[str, ModelSpec]) -> dict[str, list[ModelSpec]]:
    """Models with calibration rows, grouped supervised pair, CLIP pair, then others."""
    present = set(metrics["model"])
    pairs = {training: [spec for spec in group if spec.id in present]
             for training, group in model_pairs(models).items()}
    pairs = {training: group for training, group in pairs.items() if group}
    if not pairs:
        raise ValueError(f"no calibration rows for any of the models {sorted(models)}; "
                         f"metric table has models {sorted(present)}")
    return pairs


def _scalar(metrics: pd.DataFrame, model: str, dataset: str, metric: str) -> float:
    """One scalar metric value, NaN if absent."""
    hit = metrics.loc[(metrics["model"] == model) & (metrics["dataset"] == dataset) & (metrics["metric"] == metric)]
    return float(hit["value"].iloc[0]) if len(hit) else float("nan")


def _draw_histogram(axis: plt.Axes, bins: pd.DataFrame, color: str) -> None:
    """Fraction of images per confidence bin."""
    width = 1.0 / N_BINS
    centres = (bins["bin"].to_numpy() + 0.5) * width
    counts = bins["count"].fillna(0).to_numpy()
    axis.bar(centres, counts / max(counts.sum(), 1), width=width, color=color, edgecolor="black", linewidth=0.5)
    axis.set_xlim(0, 1)
    axis.set_ylabel("fraction")


def _draw_reliability(axis: plt.Axes, bins: pd.DataFrame, color: str, ece: float, top1: float) -> None:
    """Bin accuracy bars, the gap to mean confidence in red, the identity diagonal dashed."""
    width = 1.0 / N_BINS
    full = bins[bins["count"] > 0]
    centres = (full["bin"].to_numpy() + 0.5) * width
    accuracy, confidence = full["accuracy"].to_numpy(), full["confidence"].to_numpy()
    axis.bar(centres, accuracy, width=width, color=color, edgecolor="black", linewidth=0.5, label="accuracy")
    axis.bar(centres, confidence - accuracy, bottom=accuracy, width=width, color=GAP_COLOR, alpha=0.3,
             edgecolor=GAP_COLOR, hatch="//", linewidth=0.8, label="gap")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy")
    axis.text(0.04, 0.96, f"ECE {ece:.4f}\nAcc {top1:.1f}%", transform=axis.transAxes, va="top", fontsize=8,
              bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})


def _draw_empty(axes: Sequence[plt.Axes]) -> None:
    """Mark a model/dataset pair that has no rows instead of leaving a blank hole."""
    for axis in axes:
        axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes, color="grey")
        axis.set_xticks([])
        axis.set_yticks([])


def _draw_block(block: plt.Figure, metrics: pd.DataFrame, bins: pd.DataFrame, specs: Sequence[ModelSpec],
                dataset: str, models: Mapping[str, ModelSpec]) -> None:
    """One dataset x one pair: a column per model, histogram on top, reliability diagram below."""
    _, hist_h, rel_h = PANEL_SIZE
    axes = block.subplots(2, len(specs), squeeze=False, sharex=True, height_ratios=[hist_h, rel_h])
    for col, spec in enumerate(specs):
        hist_axis, rel_axis = axes[0, col], axes[1, col]
        hist_axis.set_title(spec.display_name, fontsize=9)
        cells = bins[(bins["model"] == spec.id) & (bins["dataset"] == dataset)]
        if cells.empty:
            log.warning("no calibration bins for model %s on dataset %s; panel left empty", spec.id, dataset)
            _draw_empty((hist_axis, rel_axis))
            continue
        color = model_color(spec, models)
        _draw_histogram(hist_axis, cells, color)
        _draw_reliability(rel_axis, cells, color, _scalar(metrics, spec.id, dataset, "ece_15bin"),
                          _scalar(metrics, spec.id, dataset, "top1_pct"))


def plot_calibration(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], datasets: Sequence[str],
                     out_base: Path) -> list[Path]:
    """Confidence histograms above reliability diagrams: a row block per dataset, a block per model pair."""
    metrics = metrics[metrics["property"] == PROPERTY]
    pairs = _present_pairs(metrics, models)
    bins = parse_bin_rows(metrics)
    width, hist_h, rel_h = PANEL_SIZE
    n_columns = sum(len(group) for group in pairs.values())
    figure = plt.figure(layout="constrained", figsize=(width * n_columns, (hist_h + rel_h + 0.4) * len(datasets)))
    blocks = figure.subfigures(len(datasets), len(pairs), squeeze=False,
                               width_ratios=[len(group) for group in pairs.values()])
    for row, dataset in enumerate(datasets):
        for col, (training, specs) in enumerate(pairs.items()):
            block = blocks[row, col]
            block.suptitle(f"{_title(metrics, dataset)}: {PAIR_TITLES[training]}", fontsize=10)
            _draw_block(block, metrics, bins, specs, dataset, models)
    return save_figure(figure, out_base)


def _title(metrics: pd.DataFrame, dataset: str) -> str:
    """A dataset's panel title: the name of its role (its rows' key) where it declares one, else its id."""
    keys = metrics.loc[metrics["dataset"] == dataset, "key"]
    return DATASET_TITLES.get(keys.iloc[0] if len(keys) else dataset, dataset)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the calibration property: one row block per configured dataset."""
    return plot_calibration(metrics, models, list(settings.get("datasets", [])), out_base)
