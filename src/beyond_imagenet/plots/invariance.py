"""The paper's invariance figure: accuracy vs scale, shift and resolution; rows supervised / CLIP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..config import ModelSpec
from ..views import parse_view
from .style import PAIR_TITLES, model_color, model_pairs, plt, save_figure

AXES = (("scale", "scale factor"), ("shift", "shift (pixels)"), ("resolution", "resolution (pixels)"))


def _series(metrics: pd.DataFrame, model: str, kind: str, metric: str) -> tuple[list[float], list[float]]:
    rows = metrics[(metrics["model"] == model) & (metrics["metric"] == metric)]
    points = sorted((parse_view(k).value, v) for k, v in zip(rows["key"], rows["value"]) if k.startswith(kind + "="))
    return [p[0] for p in points], [p[1] for p in points]


def plot_invariance(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path,
                    metric: str = "top1_pct") -> list[Path]:
    """Grid: one row per pair (supervised, CLIP, ...), columns scale / shift / resolution."""
    pairs = model_pairs({m: s for m, s in models.items() if m in set(metrics["model"])})
    figure, axes = plt.subplots(len(pairs), 3, figsize=(12, 3.2 * len(pairs)), squeeze=False)
    for row, (training, specs) in enumerate(pairs.items()):
        for col, (kind, label) in enumerate(AXES):
            ax = axes[row][col]
            for spec in specs:
                xs, ys = _series(metrics, spec.id, kind, metric)
                ax.plot(xs, ys, marker="o", color=model_color(spec), label=spec.display_name)
            ax.set_xlabel(label)
            ax.set_ylabel("top-1 (%)" if metric == "top1_pct" else metric)
            ax.set_title(f"{PAIR_TITLES[training]}: {kind}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, out_base)


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the invariance property: accuracy vs scale / shift / resolution."""
    return plot_invariance(metrics, models, out_base)
