"""Uncertainty of headline metrics: a bootstrap over images, and paired tests between two models on the same images.

Per-image outcomes are columns of equal length (e.g. `correct`, or `shape` / `texture` decisions); a statistic
turns a set of rows into the metric (top-1 %, shape bias). The percentile bootstrap (Efron & Tibshirani 1993)
resamples images with replacement; the paired version draws the same images for both models, so the interval is
that of the difference on this image set. McNemar's test (McNemar 1947) is exact: a two-sided binomial test on
the images exactly one of the two models gets right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

Columns = Mapping[str, np.ndarray]
DRAWS = 1000  # bootstrap resamples; recorded with every interval
SEED = 0
LEVEL = 0.95
CHUNK = 64  # resamples drawn at once (64 x 50,000 indices: 25 MB)


def correct_outcome(ids, correct, statistic: str = "top1_pct") -> Outcome:
    """A top-1-type outcome: one `correct` value per image id."""
    return Outcome(np.asarray([str(i) for i in ids]), {"correct": np.asarray(correct, dtype=float)}, statistic)


def top1_pct(columns: Columns) -> float:
    """Top-1 in percent: the mean of a 0/1 (or per-image fraction) `correct` column."""
    return float(100.0 * np.mean(columns["correct"]))


def shape_bias(columns: Columns) -> float:
    """Shape decisions / (shape + texture decisions) (Geirhos et al. 2019); NaN when neither was ever chosen."""
    cue = float(np.sum(columns["shape"]) + np.sum(columns["texture"]))
    return float(np.sum(columns["shape"]) / cue) if cue else math.nan


def accuracy_fraction(columns: Columns) -> float:
    """Accuracy as a fraction (shape-bias's 16-class accuracy)."""
    return float(np.mean(columns["correct"]))


def ece_15bin(columns: Columns) -> float:
    """ECE with 15 equal-width confidence bins (Guo et al. 2017), as the calibration property computes it."""
    from .properties.calibration import N_BINS, bin_indices, expected_calibration_error

    confidence = columns["confidence"]
    return expected_calibration_error(confidence, columns["correct"], bin_indices(confidence, N_BINS), N_BINS)


def _factor_error(columns: Columns, member: np.ndarray) -> float:
    all_error = 1.0 - float(np.mean(columns["correct"]))
    if not member.any() or all_error == 0:
        return math.nan
    return (1.0 - float(np.mean(columns["correct"][member]))) / all_error


def error_ratio(columns: Columns) -> float:
    """ImageNet-X error ratio (1 - acc_f) / (1 - acc_all) (Idrissi et al. 2023); `member` marks factor f."""
    return _factor_error(columns, columns["member"] > 0)


def error_ratio_average(columns: Columns) -> float:
    """The mean of the defined per-factor error ratios; `member_<factor>` marks each factor."""
    ratios = [_factor_error(columns, column > 0) for name, column in columns.items() if name.startswith("member_")]
    finite = [r for r in ratios if not math.isnan(r)]
    return float(np.mean(finite)) if finite else math.nan


STATISTICS: dict[str, Callable[[Columns], float]] = {"top1_pct": top1_pct, "accuracy": accuracy_fraction,
                                                     "shape_bias": shape_bias, "ece_15bin": ece_15bin,
                                                     "error_ratio": error_ratio,
                                                     "error_ratio_average": error_ratio_average}
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


def _resampled(columns: Columns, statistic: Callable[[Columns], float], draws: int, seed: int,
               paired_with: Columns | None = None) -> np.ndarray:
    """The statistic (or its difference against the paired columns) on `draws` resamples of the rows."""
    n = len(next(iter(columns.values())))
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, draws, CHUNK):
        for rows in rng.integers(0, n, size=(min(CHUNK, draws - start), n)):
            value = statistic({k: v[rows] for k, v in columns.items()})
            if paired_with is not None:
                value -= statistic({k: v[rows] for k, v in paired_with.items()})
            values.append(value)
    return np.asarray(values, dtype=float)


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan, math.nan
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_interval(outcome: Outcome, draws: int = DRAWS, seed: int = SEED,
                       level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of a metric over its images."""
    return _percentiles(_resampled(outcome.columns, STATISTICS[outcome.statistic], draws, seed), level)


@dataclass(frozen=True)
class PairedResult:
    """A - B on the images both were scored on: the difference, its paired bootstrap interval and p-values."""

    n: int
    value_a: float
    value_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_bootstrap: float
    only_a: int | None = None  # McNemar's discordant counts (top-1 only)
    only_b: int | None = None
    p_mcnemar: float | None = None


def aligned(a: Outcome, b: Outcome) -> tuple[Outcome, Outcome]:
    """Both outcomes on the images they share, in one order (ids joined, never positions)."""
    if a.statistic != b.statistic:
        raise ValueError(f"cannot pair a {a.statistic} outcome with a {b.statistic} one")
    shared, in_a, in_b = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
    if not len(shared):
        raise ValueError("the two outcomes share no image id")
    return a.subset(in_a), b.subset(in_b)


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, float]:
    """(only A right, only B right, two-sided exact p): the binomial test of the discordant pairs at 1/2."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return only_a, only_b, binomial_two_sided(min(only_a, only_b), only_a + only_b)


def binomial_two_sided(k: int, n: int) -> float:
    """P(X <= k or X >= n - k) for X ~ Binomial(n, 1/2), k <= n / 2 (exact, in log space for large n)."""
    if n == 0:
        return 1.0
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
                 for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2.0 * tail)


def paired_test(a: Outcome, b: Outcome, draws: int = DRAWS, seed: int = SEED, level: float = LEVEL) -> PairedResult:
    """A - B on their shared images: paired bootstrap interval and p, and McNemar's exact test for top-1."""
    a, b = aligned(a, b)
    statistic = STATISTICS[a.statistic]
    differences = _resampled(a.columns, statistic, draws, seed, paired_with=b.columns)
    low, high = _percentiles(differences, level)
    finite = differences[np.isfinite(differences)]
    # two-sided: twice the share of resampled differences on the far side of zero; below 1/draws it is not resolved
    p_boot = max(min(1.0, 2.0 * min(np.mean(finite <= 0), np.mean(finite >= 0))), 1.0 / draws) \
        if len(finite) else math.nan
    mcnemar = (None, None, None)
    binary = a.statistic in PAIRED_BINARY and all(np.isin(c["correct"], (0, 1)).all() for c in (a.columns, b.columns))
    if binary:
        mcnemar = mcnemar_exact(a.columns["correct"], b.columns["correct"])
    return PairedResult(len(a.ids), a.value(), b.value(), a.value() - b.value(), low, high, p_boot, *mcnemar)
