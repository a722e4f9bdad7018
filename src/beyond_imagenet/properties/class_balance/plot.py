"""Class-balance figure: each model's per-class top-1, classes sorted from worst to best."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...config.specs import ModelSpec
from ...figures.style import model_color, plt, save_figure
from .compute import CLASS_METRIC


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the class-balance property: sorted per-class top-1 (%), one line per model."""
    per_class = metrics[metrics["metric"] == CLASS_METRIC]
    datasets = list(dict.fromkeys(per_class["dataset"]))
    figure, axes = plt.subplots(1, max(len(datasets), 1), figsize=(5.0 * max(len(datasets), 1), 3.6), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        for model, spec in models.items():
            values = np.sort(per_class[(per_class["model"] == model) & (per_class["dataset"] == dataset)]["value"])
            if len(values):
                axis.plot(np.arange(1, len(values) + 1) / len(values), values, color=model_color(spec, models),
                          label=spec.display_name or model)
        axis.set_xlabel("share of classes, worst first")
        axis.set_ylabel("top-1 of the class (%)")
        axis.set_title(dataset)
        axis.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    return save_figure(figure, out_base)
