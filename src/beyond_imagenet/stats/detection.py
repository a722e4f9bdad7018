"""Detection curves of a score against a 0/1 class, with rows counted by weights: AUROC, average precision and the
false-positive rate at a true-positive rate — the OOD-detection metrics (OpenOOD, Yang et al. 2022; ImageNet-O,
Hendrycks et al. 2021).

Each metric is the one scikit-learn computes (`roc_auc_score`, `average_precision_score`, `roc_curve`) with
`sample_weight`, to rounding (tests compare them). The images are ranked once (`ranked`); a bootstrap draw only
re-weights the ranked rows, so a thousand draws cost a thousand cumulative sums, not a thousand sorts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankedScores:
    """Rows sorted by descending score, with the start of each run of tied scores (one threshold each)."""

    order: np.ndarray
    starts: np.ndarray
    positive: np.ndarray  # 0/1 of each row, in `order`


def ranked(score: np.ndarray, positive: np.ndarray) -> RankedScores:
    """Rank rows by descending score (ties share a threshold, as in scikit-learn's curves)."""
    score = np.asarray(score, dtype=float)
    if np.isnan(score).any():
        raise ValueError(f"{int(np.isnan(score).sum())} scores are NaN; a detection score must be a number per image")
    order = np.argsort(-score, kind="stable")
    sorted_scores = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    return RankedScores(order, starts, np.asarray(positive, dtype=float)[order])


def cumulative_counts(scores: RankedScores, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(true positives, false positives) at each threshold, highest first; a threshold whose rows all weigh 0 is
    left out (scikit-learn drops rows of weight 0 before forming thresholds)."""
    w = np.ones(len(scores.order)) if weights is None else np.asarray(weights, dtype=float)[scores.order]
    positives = np.add.reduceat(w * scores.positive, scores.starts)
    totals = np.add.reduceat(w, scores.starts)
    kept = totals > 0
    return np.cumsum(positives[kept]), np.cumsum(totals[kept] - positives[kept])


def auroc(tps: np.ndarray, fps: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; tied scores count half), NaN without both classes."""
    if not len(tps) or tps[-1] == 0 or fps[-1] == 0:
        return float("nan")
    return float(np.trapezoid(np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]]))


def average_precision(tps: np.ndarray, fps: np.ndarray) -> float:
    """Average precision: sum over thresholds of (recall gained) x precision (scikit-learn's step-wise AUPR, the
    ImageNet-O paper's AUPR), NaN without positives."""
    if not len(tps) or tps[-1] == 0:
        return float("nan")
    recall = np.r_[0.0, tps / tps[-1]]
    return float(np.sum(np.diff(recall) * (tps / (tps + fps))))


def fpr_at_tpr(tps: np.ndarray, fps: np.ndarray, tpr: float = 0.95) -> float:
    """The false-positive rate at the first ROC point whose true-positive rate reaches `tpr`, on scikit-learn's
    ROC curve with its collinear points dropped — OpenOOD's `fpr_list[np.argmax(tpr_list >= 0.95)]` exactly."""
    if not len(tps) or tps[-1] == 0 or fps[-1] == 0:
        return float("nan")
    if len(tps) > 2:  # roc_curve(drop_intermediate=True): keep the ends and every point where the slope changes
        kept = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        tps, fps = tps[kept], fps[kept]
    rates = np.r_[0.0, tps / tps[-1]]
    return float(np.r_[0.0, fps / fps[-1]][np.argmax(rates >= tpr)])
