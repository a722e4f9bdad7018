"""Invariance to scale, shift and resolution: top-1 and true-class probability per view (Vishniakov et al. 2024, Sec. 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.views import PAPER, View, parse_view
from ...stats.statistics import correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame, metric_row
from .._registry import Headline, first_dataset_headline

VIEW_KINDS = ("scale", "shift", "resolution")


def invariance_rows(model: str, dataset: str, view: str, correct: np.ndarray, p_true: np.ndarray) -> pd.DataFrame:
    """Tidy rows for one view: top-1 (%) and mean true-class probability; key = the view name (e.g. 'scale=1.5')."""
    parsed = parse_view(view)
    if parsed.kind not in VIEW_KINDS:
        raise ValueError(f"invariance needs a scale, shift or resolution view, got {view!r}")
    top1 = float(100.0 * np.mean(correct))
    prob = float(np.mean(p_true))
    return metric_frame(metric_row(model, "invariance", dataset, view, metric, value, len(correct))
                        for metric, value in (("top1_pct", top1), ("true_class_prob", prob)))


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: top-1 and true-class probability per (dataset, view), and the per-image top-1; from the
    per-image scores the extraction stored (not the 1000 logits of every view)."""

    frames, outcomes = [], {}
    for (dataset, view), c in merge_parts(caches).items():
        correct = c.argmax == c.labels
        frames.append(invariance_rows(model, dataset, view, correct, c.p_true))
        outcomes[(dataset, view, "top1_pct")] = correct_outcome(c.ids, correct)
    return pd.concat(frames, ignore_index=True), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """Top-1 at the largest scale asked for (the paper's hardest zoom, scale=3)."""
    scales = settings.get("scales", [])
    if not scales:
        return [Headline("invariance: top-1 at the largest scale (%)", "invariance", "scale", "top1_pct",
                         missing="properties.invariance.scales is empty")]
    view = View("scale", float(max(scales)), settings.get("protocol", PAPER)).name
    return [first_dataset_headline(f"invariance: {view} top-1 (%)", "invariance", view, "top1_pct", datasets,
                                   axis="top-1 (%): more images right →")]
