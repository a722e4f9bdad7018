"""Top-1 accuracy per dataset: grouped bars, one panel per pair."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...config.specs import ModelSpec
from ...figures.style import PAIR_TITLES, model_color, model_pairs, plt, save_figure


def plot_accuracy(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path,
                  category: str = "dataset", metric: str = "top1_pct", ylabel: str = "top-1 (%)") -> list[Path]:
    """Top-1 (%) bars (or another metric's) per dataset (or per `category` column value), models of a pair side by
    side."""
    top1 = metrics[metrics["metric"] == metric]
    datasets = list(dict.fromkeys(top1[category]))
    pairs = model_pairs({m: s for m, s in models.items() if m in set(top1["model"])})
    figure, axes = plt.subplots(1, len(pairs), figsize=(1.2 + 1.4 * len(datasets) * len(pairs), 3.2), squeeze=False)
    for ax, (training, specs) in zip(axes[0], pairs.items()):
        width = 0.8 / len(specs)
        for offset, spec in enumerate(specs):
            values = [top1[(top1["model"] == spec.id) & (top1[category] == d)]["value"].mean() for d in datasets]
            ax.bar(np.arange(len(datasets)) + offset * width, values, width, color=model_color(spec, models),
                   label=spec.display_name)
        ax.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(PAIR_TITLES[training])
        # Below the axes: inside, the legend covered the tallest bars.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=len(specs), frameon=False)
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the accuracy property: grouped top-1 bars per dataset."""
    return plot_accuracy(metrics, models, out_base)
