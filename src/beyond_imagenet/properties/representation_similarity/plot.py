"""Representation-similarity figure: layer x layer linear CKA within each model, and across model pairs.

Top row: one map per model (the paper's within-model maps, supervised beside CLIP for each
architecture); bottom row: one map per pair of models (rows: the first model's layers). Colour
range 0..1 everywhere, so maps compare at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ...config.specs import ModelSpec
from ...figures.style import plt, save_figure
from .compute import METRIC


def cka_map(metrics: pd.DataFrame, label: str) -> tuple[np.ndarray, list[str], list[str]]:
    """The CKA matrix of one model ('a') or pair ('a|b') from tidy rows, with row and column layer names."""
    rows = metrics[(metrics["model"] == label) & (metrics["metric"] == METRIC)]
    pairs = [key.split("|") for key in rows["key"]]
    names_a = list(dict.fromkeys(a for a, _ in pairs))
    names_b = list(dict.fromkeys(b for _, b in pairs))
    matrix = np.full((len(names_a), len(names_b)), np.nan)
    index_a, index_b = {n: i for i, n in enumerate(names_a)}, {n: i for i, n in enumerate(names_b)}
    for (a, b), value in zip(pairs, rows["value"]):
        matrix[index_a[a], index_b[b]] = value
    return matrix, names_a, names_b


def _ordered_models(metrics: pd.DataFrame, models: Mapping[str, ModelSpec]) -> list[ModelSpec]:
    labels = set(metrics["model"])
    present = [spec for spec in models.values() if spec.id in labels]
    return sorted(present, key=lambda s: (s.family, s.training != "supervised", s.id))


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Within-model maps (top) and across-model maps (bottom); returns [pdf, png]."""
    specs = _ordered_models(metrics, models)
    if not specs:
        raise ValueError(f"no {METRIC} rows for the models {sorted(models)}")
    pairs = [label for label in dict.fromkeys(metrics["model"]) if "|" in str(label)]
    columns = max(len(specs), len(pairs), 1)
    figure, axes = plt.subplots(2 if pairs else 1, columns, figsize=(3.4 * columns, 3.4 * (2 if pairs else 1)),
                                squeeze=False)
    figure.subplots_adjust(hspace=0.55, wspace=0.45)
    image = None
    for ax, spec in zip(axes[0], specs):
        matrix, _, _ = cka_map(metrics, spec.id)
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma", origin="lower")
        ax.set_title(spec.display_name or spec.id, fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("layer")
    for ax, label in zip(axes[1] if pairs else [], pairs):
        a, b = label.split("|")
        matrix, _, _ = cka_map(metrics, label)
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma", origin="lower", aspect="auto")
        ax.set_title(f"{models[a].display_name or a}\nvs {models[b].display_name or b}", fontsize=8)
        ax.set_xlabel(f"layer ({models[b].display_name or b})", fontsize=7)
        ax.set_ylabel(f"layer ({models[a].display_name or a})", fontsize=7)
    for row in axes:
        for ax in row:
            if not ax.images:
                ax.axis("off")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="linear CKA")
    figure.suptitle("Representation similarity (layer x layer linear CKA)")
    return save_figure(figure, out_base)
