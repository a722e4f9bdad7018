"""Statistics of per-image outcome columns (top-1, shape bias, ECE, ImageNet-X error ratios, OOD detection, BG-gap,
object focus, class balance), by name.

Per-image outcomes are columns of equal length (e.g. `correct`, or `shape` / `texture` decisions); a statistic
turns a set of rows (each counted by its weight) into the metric. Each statistic is the one its property defines,
written once here so that resampling and paired tests can recompute it by name from a stored outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .detection import (
    RankedScores,
    auroc,
    average_precision,
    cumulative_counts,
    fpr_at_tpr,
    ranked,
)

Columns = Mapping[str, np.ndarray]


Weights = np.ndarray | None  # how often each row is drawn (None: each once)
STRATUM = "stratum"  # a column no statistic reads: the bootstrap resamples within each of its values


def correct_outcome(ids, correct, statistic: str = "top1_pct") -> Outcome:
    """A top-1-type outcome: one `correct` value per image id."""
    return Outcome(np.asarray([str(i) for i in ids]), {"correct": np.asarray(correct, dtype=float)}, statistic)


def _sum(values: np.ndarray, weights: Weights) -> float:
    return float(np.sum(values) if weights is None else np.dot(weights, values))


def _count(columns: Columns, weights: Weights) -> float:
    return float(len(next(iter(columns.values()))) if weights is None else np.sum(weights))


def top1_pct(columns: Columns, weights: Weights = None) -> float:
    """Top-1 in percent: the mean of a 0/1 (or per-image fraction) `correct` column."""
    return 100.0 * _sum(columns["correct"], weights) / _count(columns, weights)


def accuracy_fraction(columns: Columns, weights: Weights = None) -> float:
    """Accuracy as a fraction (shape-bias's 16-class accuracy)."""
    return _sum(columns["correct"], weights) / _count(columns, weights)


def shape_bias(columns: Columns, weights: Weights = None) -> float:
    """Shape decisions / (shape + texture decisions) (Geirhos et al. 2019); NaN when neither was ever chosen."""
    shape, texture = _sum(columns["shape"], weights), _sum(columns["texture"], weights)
    return shape / (shape + texture) if shape + texture else math.nan


def ece_15bin(columns: Columns, weights: Weights = None) -> float:
    """ECE with 15 equal-width bins: sum_b |sum_{i in b} (correct_i - conf_i)| / N (Guo et al. 2017), the calibration
    property's formula, with rows counted by their weights."""
    return _ece_of_bins(bin_indices(columns["confidence"], N_BINS), columns, weights)


def _ece_of_bins(bins: np.ndarray, columns: Columns, weights: Weights) -> float:
    gaps = (columns["correct"] - columns["confidence"]) * (1.0 if weights is None else weights)
    return float(np.abs(np.bincount(bins, weights=gaps, minlength=N_BINS)).sum() / _count(columns, weights))


def _factor_errors(columns: Columns, member: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The error ratio of factor `member` under each row of `draws` (draws x images, how often each image counts):
    (1 - acc_f) / (1 - acc_all), NaN where the factor has no image or nothing is wrong. Every sum is of whole numbers
    (counts times 0/1), exact in any order, so a row's value is the same computed alone or with the others."""
    counts = draws.astype(float)
    all_error = 1.0 - (counts @ columns["correct"]) / counts.sum(axis=1)
    member_counts = counts * member
    members = member_counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (1.0 - (member_counts @ columns["correct"]) / members) / all_error
    return np.where((members == 0) | (all_error == 0), math.nan, ratio)


def _error_ratios_drawn(columns: Columns, draws: np.ndarray) -> np.ndarray:
    return _factor_errors(columns, columns["member"], draws)


def _error_ratio_averages_drawn(columns: Columns, draws: np.ndarray) -> np.ndarray:
    ratios = np.column_stack([_factor_errors(columns, column, draws) for name, column in columns.items()
                              if name.startswith("member_")])
    finite = np.isfinite(ratios).all(axis=1)
    # a row's mean over its 16 values sums them as np.mean of those 16 alone does; a row with an undefined ratio
    # (a factor never drawn) takes the mean of its defined ones
    averages = np.full(len(draws), math.nan)
    averages[finite] = np.mean(ratios[finite], axis=1)
    for row in np.flatnonzero(~finite):
        defined = ratios[row][np.isfinite(ratios[row])]
        averages[row] = float(np.mean(defined)) if len(defined) else math.nan
    return averages


def _one_draw(columns: Columns, weights: Weights) -> np.ndarray:
    """One weighting as a 1-row draws matrix (None: every image once)."""
    return np.ones((1, len(next(iter(columns.values()))))) if weights is None else np.asarray(weights)[None, :]


def error_ratio(columns: Columns, weights: Weights = None) -> float:
    """ImageNet-X error ratio (1 - acc_f) / (1 - acc_all) (Idrissi et al. 2023); `member` marks factor f."""
    return float(_error_ratios_drawn(columns, _one_draw(columns, weights))[0])


def error_ratio_average(columns: Columns, weights: Weights = None) -> float:
    """The mean of the defined per-factor error ratios; `member_<factor>` marks each factor."""
    return float(_error_ratio_averages_drawn(columns, _one_draw(columns, weights))[0])


def _ranked(columns: Columns) -> RankedScores:
    return ranked(columns["score"], columns["ood"])


def _auroc_of(ranking: RankedScores, weights: Weights) -> float:
    return 100.0 * auroc(*cumulative_counts(ranking, weights))


def _aupr_of(ranking: RankedScores, weights: Weights) -> float:
    return 100.0 * average_precision(*cumulative_counts(ranking, weights))


FPR_AT_TPR = 0.95


def _fpr95_of(ranking: RankedScores, weights: Weights) -> float:
    return 100.0 * fpr_at_tpr(*cumulative_counts(ranking, weights), FPR_AT_TPR)


def auroc_pct(columns: Columns, weights: Weights = None) -> float:
    """AUROC (%) of the anomaly `score` for telling `ood` rows (positive) from the others (OpenOOD's AUROC)."""
    return _auroc_of(_ranked(columns), weights)


def aupr_pct(columns: Columns, weights: Weights = None) -> float:
    """AUPR (%), OOD rows positive: average precision, the ImageNet-O paper's AUPR (Hendrycks et al. 2021)."""
    return _aupr_of(_ranked(columns), weights)


def fpr95_pct(columns: Columns, weights: Weights = None) -> float:
    """FPR (%) at 95 % TPR, OOD rows positive: the share of in-distribution rows flagged when 95 % of OOD rows are
    (OpenOOD's `fpr_list[np.argmax(tpr_list >= 0.95)]`)."""
    return _fpr95_of(_ranked(columns), weights)


def _weighted_mean(values: np.ndarray, member: np.ndarray, weights: Weights) -> float:
    counts = member if weights is None else member * weights
    total = float(np.sum(counts))
    return float(np.dot(counts, values) / total) if total else math.nan


def gap_pct(columns: Columns, weights: Weights = None) -> float:
    """100 x (mean `correct` of the `first` rows - of the `second` rows): the BG-gap, mixed-same minus mixed-rand
    top-1 (Xiao et al. 2021)."""
    return 100.0 * (_weighted_mean(columns["correct"], columns["first"], weights)
                    - _weighted_mean(columns["correct"], columns["second"], weights))


def object_focus(columns: Columns, weights: Weights = None) -> float:
    """QUBA's object focus (Hesse et al. 2025): 1 - (acc mixed-same - acc mixed-rand) / ImageNet top-1, fractions;
    `reference` marks the ImageNet rows."""
    gap, reference = gap_pct(columns, weights) / 100.0, _weighted_mean(columns["correct"], columns["reference"], weights)
    return 1.0 - gap / reference if reference else math.nan  # undefined when nothing on ImageNet is right


def _per_class(columns: Columns, weights: Weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images per class, class of each row, classes present) with rows counted by weight."""
    classes = columns["class"].astype(np.int64)
    counts = np.bincount(classes, weights=None if weights is None else np.asarray(weights, dtype=float))
    return counts, classes, counts > 0


def class_accuracy_balance(columns: Columns, weights: Weights = None) -> float:
    """1 - the standard deviation (ddof 1, torch.std's) of the per-class top-1 fractions over the classes present
    (QUBA's fair_pred, `helper/benchmarks.py` test_fair_accuracies)."""
    counts, classes, present = _per_class(columns, weights)
    w = 1.0 if weights is None else np.asarray(weights, dtype=float)
    right = np.bincount(classes, weights=w * columns["correct"], minlength=len(counts))
    if present.sum() < 2:
        return math.nan  # a spread over classes needs two of them
    return 1.0 - float(np.std(right[present] / counts[present], ddof=1))


def class_confidence_balance(columns: Columns, weights: Weights = None) -> float:
    """1 - the mean over classes of the standard deviation (ddof 0) of the true-class probability within the class
    (QUBA's fair_conf, `helper/benchmarks.py` test_fair_confidence)."""
    counts, classes, present = _per_class(columns, weights)
    w = 1.0 if weights is None else np.asarray(weights, dtype=float)
    p_true = columns["p_true"]
    means = np.bincount(classes, weights=w * p_true, minlength=len(counts))[present] / counts[present]
    centred = p_true - _scatter(means, present)[classes]
    spread = np.bincount(classes, weights=w * centred**2, minlength=len(counts))[present] / counts[present]
    return 1.0 - float(np.mean(np.sqrt(spread)))


def _scatter(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    full = np.zeros(len(present))
    full[present] = values
    return full


def class_balance(columns: Columns, weights: Weights = None) -> float:
    """QUBA's class balance (Hesse et al. 2025): the geometric mean of the accuracy and confidence balances."""
    accuracy, confidence = class_accuracy_balance(columns, weights), class_confidence_balance(columns, weights)
    return math.nan if math.isnan(accuracy) or math.isnan(confidence) else math.sqrt(accuracy * confidence)


def draws_at_once(statistic: Callable[[Columns, Weights], float], columns: Columns
                  ) -> Callable[[np.ndarray], np.ndarray] | None:
    """The statistic for many weightings of `columns` at once (a bootstrap's draws, one per row): the function the
    one-draw statistic itself calls with one row; None for a statistic without one."""
    at_once = {error_ratio: _error_ratios_drawn, error_ratio_average: _error_ratio_averages_drawn}.get(statistic)
    if at_once is None:
        return None
    return lambda draws: at_once(columns, draws)


def per_draw(statistic: Callable[[Columns, Weights], float], columns: Columns) -> Callable[[Weights], float]:
    """The statistic of `columns` for one weighting at a time, with what no weighting changes computed once (the
    ECE bin of each row)."""
    if statistic is ece_15bin:
        bins = bin_indices(columns["confidence"], N_BINS)
        return lambda weights: _ece_of_bins(bins, columns, weights)
    ranked_curve = {auroc_pct: _auroc_of, aupr_pct: _aupr_of, fpr95_pct: _fpr95_of}.get(statistic)
    if ranked_curve is not None:  # rank the images once; a draw re-weights them
        ranking = _ranked(columns)
        return lambda weights: ranked_curve(ranking, weights)
    return lambda weights: statistic(columns, weights)


STATISTICS: dict[str, Callable[[Columns, Weights], float]] = {
    "top1_pct": top1_pct, "accuracy": accuracy_fraction, "shape_bias": shape_bias, "ece_15bin": ece_15bin,
    "error_ratio": error_ratio, "error_ratio_average": error_ratio_average,
    "auroc_pct": auroc_pct, "aupr_pct": aupr_pct, "fpr95_pct": fpr95_pct, "gap_pct": gap_pct,
    "object_focus": object_focus, "class_balance": class_balance, "class_accuracy_balance": class_accuracy_balance,
    "class_confidence_balance": class_confidence_balance}


PAIRED_BINARY = ("top1_pct", "accuracy")  # statistics of a 0/1 `correct` column: McNemar applies


@dataclass(frozen=True)
class Outcome:
    """Per-image outcomes behind one metric row: image ids, columns and the statistic that makes the metric."""

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    statistic: str

    def value(self) -> float:
        """The metric on all images."""
        return STATISTICS[self.statistic](self.columns)

    def subset(self, positions: np.ndarray) -> Outcome:
        """The same outcome on some images (in the given order)."""
        return Outcome(self.ids[positions], {k: v[positions] for k, v in self.columns.items()}, self.statistic)


@dataclass(frozen=True)
class MeanOf:
    """A metric that is the unweighted mean of other rows' metrics on disjoint image sets (PUG factors, VTAB
    tasks): each set is resampled on its own, the mean taken per resample."""

    components: tuple[tuple[str, str, str], ...]  # (dataset, key, metric) of each averaged row
    statistic: str = "mean_of"


N_BINS = 15  # the paper's (and Guo et al.'s) number of equal-width bins


def bin_indices(confidence: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Equal-width bin of each confidence; bin b is (b/n, (b+1)/n], and confidence 0 joins bin 0."""
    upper_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:]
    # side="left" finds the first upper edge >= conf, so a value on an edge falls in the lower bin
    return np.minimum(np.searchsorted(upper_edges, confidence, side="left"), n_bins - 1)
