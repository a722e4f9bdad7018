"""Uncertainty of headline metrics: a bootstrap over images, and paired tests between two models on the same images.

Per-image outcomes are columns of equal length (e.g. `correct`, or `shape` / `texture` decisions); a statistic
turns a set of rows into the metric (top-1 %, shape bias). The percentile bootstrap (Efron & Tibshirani 1993)
resamples images with replacement; the paired version draws the same images for both models, so the interval is
that of the difference on this image set. An outcome with a `stratum` column (OOD detection's in- and
out-of-distribution images, the IN-9 variants, the classes of class balance) is resampled within each stratum, so
each keeps its size (the stratified bootstrap, as pROC does for AUC). McNemar's test (McNemar 1947) is exact: a two-sided binomial test on
the images exactly one of the two models gets right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .statistics import (
    PAIRED_BINARY,
    STATISTICS,
    STRATUM,
    Columns,
    MeanOf,
    Outcome,
    Weights,
    draws_at_once,
    per_draw,
)

DRAWS = 1000  # bootstrap resamples; recorded with every interval
SEED = 0
LEVEL = 0.95
MAX_PATTERNS = 4096  # up to this many distinct rows, resample counts of distinct rows (multinomial) instead


def _patterns(columns: Columns) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """The distinct rows and how often each occurs, or None when there are too many to be worth it."""
    names = list(columns)
    table = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    distinct, counts = _distinct_rows(table)
    if len(distinct) > MAX_PATTERNS:
        return None
    return {n: distinct[:, k] for k, n in enumerate(names)}, counts


def _distinct_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(table, axis=0, return_counts=True); for 0/1 tables (top-1, ImageNet-X memberships) through one
    integer per row, its bits the columns with the first the highest: the same rows in the same (lexicographic)
    order, without sorting rows column by column."""
    if table.shape[1] > 62 or not np.isin(table, (0.0, 1.0)).all():
        return np.unique(table, axis=0, return_counts=True)
    keys = table.astype(np.int64) @ (np.int64(1) << np.arange(table.shape[1] - 1, -1, -1, dtype=np.int64))
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return table[first], counts


def _resampled(columns: Columns, statistic: Callable[[Columns, Weights], float], draws: int, seed: int,
               paired_with: Columns | None = None) -> np.ndarray:
    """The statistic (or its difference against the paired columns) on `draws` resamples of the rows.

    A resample only says how often each row is drawn. Rows that are equal (a 0/1 top-1 column has two kinds)
    are drawn as one category of a multinomial with their share: the same distribution as drawing row by row,
    at a cost independent of the number of images.
    """
    n = len(next(iter(columns.values())))
    rng = np.random.default_rng(seed)
    joint = {**{("a", k): v for k, v in columns.items()}, **{("b", k): v for k, v in (paired_with or {}).items()}}
    compressed = _patterns({f"{side}:{k}": v for (side, k), v in joint.items()})
    stratified = STRATUM in columns
    if compressed is not None:
        rows, counts = compressed
        weight_draws = (_stratified_multinomial(rng, rows[f"a:{STRATUM}"], counts, draws) if stratified
                        else rng.multinomial(n, counts / n, size=draws))
    else:
        rows = {f"{side}:{k}": v for (side, k), v in joint.items()}
        weight_draws = (_stratified_draws(rng, columns[STRATUM], draws) if stratified else
                        (np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(draws)))
    side_a = {k.partition(":")[2]: v for k, v in rows.items() if k.startswith("a:")}
    side_b = {k.partition(":")[2]: v for k, v in rows.items() if k.startswith("b:")}
    sides = [side_a] + ([side_b] if paired_with is not None else [])
    at_once = [draws_at_once(statistic, side) for side in sides]
    if compressed is not None and all(f is not None for f in at_once):  # every draw in one pass
        values = at_once[0](weight_draws)
        return values - at_once[1](weight_draws) if paired_with is not None else values
    one_draw = [per_draw(statistic, side) for side in sides]
    values = []
    for weights in weight_draws:
        value = one_draw[0](weights)
        if paired_with is not None:
            value -= one_draw[1](weights)
        values.append(value)
    return np.asarray(values, dtype=float)


def _stratified_multinomial(rng: np.random.Generator, strata: np.ndarray, counts: np.ndarray,
                            draws: int) -> np.ndarray:
    """Draws of the distinct rows' counts, each stratum keeping its size (a multinomial within each)."""
    weights = np.zeros((draws, len(counts)), dtype=np.int64)
    for stratum in np.unique(strata):
        members = strata == stratum
        size = counts[members].sum()
        weights[:, members] = rng.multinomial(size, counts[members] / size, size=draws)
    return weights


def _stratified_draws(rng: np.random.Generator, strata: np.ndarray, draws: int):
    """How often each row is drawn in each resample when every stratum is resampled within itself (its size kept):
    one uniform pick per slot among the rows of the slot's stratum."""
    order = np.argsort(strata, kind="stable")
    _, starts, sizes = np.unique(strata[order], return_index=True, return_counts=True)
    slot_start, slot_size = np.repeat(starts, sizes), np.repeat(sizes, sizes)
    for _ in range(draws):
        picks = slot_start + (rng.random(len(order)) * slot_size).astype(np.int64)
        yield np.bincount(order[picks], minlength=len(order))


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
    for side, outcome in (("A", a), ("B", b)):
        _require_unique(outcome.ids, side)
    shared, in_a, in_b = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
    if not len(shared):
        raise ValueError("the two outcomes share no image id")
    return a.subset(in_a), b.subset(in_b)


def _require_unique(ids: np.ndarray, side: str) -> None:
    """A paired test joins by image id: an id twice would pair one image with two (refused, naming it)."""
    distinct, counts = np.unique(ids, return_counts=True)
    if len(distinct) != len(ids):
        raise ValueError(f"model {side}'s outcome lists image {str(distinct[counts > 1][0])!r} more than once; "
                         "a paired test needs one row per image (the outcomes file is damaged: delete it and rerun)")


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


def _two_sided_p(differences: np.ndarray, draws: int) -> float:
    """Twice the share of resampled differences on the far side of zero; below 1/draws it is not resolved."""
    finite = differences[np.isfinite(differences)]
    if not len(finite):
        return math.nan
    return max(min(1.0, 2.0 * min(np.mean(finite <= 0), np.mean(finite >= 0))), 1.0 / draws)


def _components(mean: MeanOf, outcomes: Mapping) -> list[Outcome]:
    missing = [c for c in mean.components if c not in outcomes]
    if missing:
        raise ValueError(f"a mean over {len(mean.components)} rows lacks the per-image outcomes of {missing}")
    return [outcomes[c] for c in mean.components]


def mean_value(mean: MeanOf, outcomes: Mapping) -> float:
    """The mean of the components' metrics."""
    return float(np.mean([o.value() for o in _components(mean, outcomes)]))


def mean_interval(mean: MeanOf, outcomes: Mapping, draws: int = DRAWS, seed: int = SEED,
                  level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of a mean over disjoint sets, each resampled independently (seed + k for set k)."""
    parts = _components(mean, outcomes)
    values = np.mean([_resampled(p.columns, STATISTICS[p.statistic], draws, seed + k) for k, p in enumerate(parts)],
                     axis=0)
    return _percentiles(values, level)


def paired_mean_test(mean: MeanOf, outcomes_a: Mapping, outcomes_b: Mapping, draws: int = DRAWS, seed: int = SEED,
                     level: float = LEVEL) -> PairedResult:
    """A - B of a mean over disjoint sets: each set's paired differences resampled on its own, then averaged."""
    pairs = [aligned(a, b) for a, b in zip(_components(mean, outcomes_a), _components(mean, outcomes_b), strict=True)]
    differences = np.mean([_resampled(a.columns, STATISTICS[a.statistic], draws, seed + k, paired_with=b.columns)
                           for k, (a, b) in enumerate(pairs)], axis=0)
    low, high = _percentiles(differences, level)
    value_a, value_b = (float(np.mean([pair[side].value() for pair in pairs])) for side in (0, 1))
    return PairedResult(sum(len(a.ids) for a, _ in pairs), value_a, value_b, value_a - value_b, low, high,
                        _two_sided_p(differences, draws))


def paired_test(a: Outcome, b: Outcome, draws: int = DRAWS, seed: int = SEED, level: float = LEVEL) -> PairedResult:
    """A - B on their shared images: paired bootstrap interval and p, and McNemar's exact test for top-1."""
    a, b = aligned(a, b)
    statistic = STATISTICS[a.statistic]
    differences = _resampled(a.columns, statistic, draws, seed, paired_with=b.columns)
    low, high = _percentiles(differences, level)
    p_boot = _two_sided_p(differences, draws)
    mcnemar = (None, None, None)
    binary = a.statistic in PAIRED_BINARY and all(np.isin(c["correct"], (0, 1)).all() for c in (a.columns, b.columns))
    if binary:
        mcnemar = mcnemar_exact(a.columns["correct"], b.columns["correct"])
    return PairedResult(len(a.ids), a.value(), b.value(), a.value() - b.value(), low, high, p_boot, *mcnemar)
