"""The paper's invariance figure: top-1 vs scale, shift and resolution per pair, and true-class probability.

Rows come in twos per pair (supervised, CLIP, ...): top-1 (%), then mean true-class probability,
with a shared y range along each row (so a one-point drop does not look like a cliff in one panel
and not in the next); columns are scale, shift and resolution. One line per (model, dataset).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ...config.specs import ModelSpec
from ...data.views import NATIVE, parse_view
from ...figures.style import PAIR_TITLES, model_pairs, model_styles, plt, save_figure

AXES = (("scale", "scale factor"), ("shift", "shift (pixels)"), ("resolution", "resolution (pixels)"))
METRICS = (("top1_pct", "top-1 (%)"), ("true_class_prob", "true-class probability"))
DATASET_STYLES = ("-", "--", ":", "-.")  # one line style per dataset when several are configured


def series(metrics: pd.DataFrame, model: str, dataset: str, kind: str, metric: str) -> tuple[list[float], list[float]]:
    """(view values, metric values) of one model on one dataset along one kind of view, sorted by value."""
    rows = metrics[(metrics["model"] == model) & (metrics["dataset"] == dataset) & (metrics["metric"] == metric)]
    points = sorted((view.value, value) for key, value in zip(rows["key"], rows["value"])
                    if (view := parse_view(key)).kind == kind)
    return [p[0] for p in points], [p[1] for p in points]


def _row_limits(values: list[float], metric: str) -> tuple[float, float]:
    """A y range for a whole row, with a floor of 10 points (0.1 in probability) so small drops look small."""
    low, high = min(values), max(values)
    span = 10.0 if metric == "top1_pct" else 0.1
    pad = max(span - (high - low), 0.0) / 2 + 0.05 * max(high - low, span)
    upper = 100.0 if metric == "top1_pct" else 1.0
    return max(0.0, low - pad), min(upper, high + pad)


def plot_invariance(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path) -> list[Path]:
    """Grid: two rows per pair (top-1, true-class probability), columns scale / shift / resolution."""
    pairs = model_pairs({m: s for m, s in models.items() if m in set(metrics["model"])})
    if not pairs:
        raise ValueError(f"none of the models {sorted(models)} has invariance rows")
    datasets = list(dict.fromkeys(metrics["dataset"]))
    native = any(parse_view(k).protocol == NATIVE for k in metrics["key"])
    styles = model_styles(models)
    figure, axes = plt.subplots(2 * len(pairs), 3, figsize=(12, 2.9 * 2 * len(pairs)), squeeze=False,
                                sharey="row")
    for p, (training, specs) in enumerate(pairs.items()):
        for m, (metric, ylabel) in enumerate(METRICS):
            row = axes[2 * p + m]
            plotted: list[float] = []
            for col, (kind, xlabel) in enumerate(AXES):
                for spec in specs:
                    for d, dataset in enumerate(datasets):
                        xs, ys = series(metrics, spec.id, dataset, kind, metric)
                        label = spec.display_name if len(datasets) == 1 else f"{spec.display_name}, {dataset}"
                        row[col].plot(xs, ys, marker=styles[spec.id].marker, color=styles[spec.id].color, label=label,
                                      linestyle=DATASET_STYLES[d % len(DATASET_STYLES)])
                        plotted += ys
                row[col].set_xlabel(xlabel)
                row[col].set_title(f"{PAIR_TITLES[training]}: {kind}")
                row[col].grid(alpha=0.3)
            row[0].set_ylabel(ylabel)
            if plotted:
                row[0].set_ylim(*_row_limits(plotted, metric))
            row[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    if native:
        figure.suptitle("model-native interpolation (not the paper's protocol)")
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the invariance property."""
    return plot_invariance(metrics, models, out_base)
