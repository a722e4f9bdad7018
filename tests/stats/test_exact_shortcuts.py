"""The bootstrap's shortcuts (distinct rows by integer keys, every draw of an error ratio at once, ECE bins once)
give the intervals of the plain computation to the bit: a shortcut that drifts fails here."""

import math

import numpy as np
import pytest

from beyond_imagenet.stats import resampling
from beyond_imagenet.stats.resampling import _distinct_rows, bootstrap_interval, paired_test
from beyond_imagenet.stats.statistics import (
    STATISTICS,
    Outcome,
    draws_at_once,
    ece_15bin,
    error_ratio,
    error_ratio_average,
)


@pytest.mark.parametrize("width", [1, 2, 17, 40])
def test_distinct_rows_of_a_0_1_table_equal_numpys_unique_rows(width):
    table = np.random.default_rng(width).integers(0, 2, (5000, width)).astype(float)
    table[:, 0] = table[:, 0] * (np.arange(5000) % 3 == 0)  # uneven columns: the order of rows matters
    rows, counts = _distinct_rows(table)
    expected_rows, expected_counts = np.unique(table, axis=0, return_counts=True)
    assert np.array_equal(rows, expected_rows) and np.array_equal(counts, expected_counts)


def test_distinct_rows_of_other_values_take_numpys_unique():
    table = np.random.default_rng(1).integers(0, 4, (300, 3)) / 3.0
    rows, counts = _distinct_rows(table)
    expected_rows, expected_counts = np.unique(table, axis=0, return_counts=True)
    assert np.array_equal(rows, expected_rows) and np.array_equal(counts, expected_counts)


def _imagenet_x_columns(rows, factors=16, seed=0, accuracy=0.75):
    rng = np.random.default_rng(seed)
    factor = rng.integers(0, factors + 3, rows)  # some images carry no factor
    columns = {"correct": (rng.random(rows) < accuracy).astype(float)}
    columns |= {f"member_{k}": (factor == k).astype(float) for k in range(factors)}
    return columns


def _ratio_by_hand(correct, member, counts):
    """The definition with Python's exact integer sums: (1 - acc_f) / (1 - acc_all), NaN when undefined."""
    right = sum(int(n) for n, c in zip(counts, correct) if c)
    total = sum(int(n) for n in counts)
    in_factor = sum(int(n) for n, m in zip(counts, member) if m)
    right_in_factor = sum(int(n) for n, m, c in zip(counts, member, correct) if m and c)
    all_error = 1.0 - right / total
    if in_factor == 0 or all_error == 0:
        return math.nan
    return (1.0 - right_in_factor / in_factor) / all_error


@pytest.mark.parametrize("accuracy", [0.75, 0.999])  # 0.999: draws where a factor or every error is missing
def test_every_draw_at_once_equals_the_definition_draw_by_draw(accuracy):
    columns = _imagenet_x_columns(60, accuracy=accuracy)
    draws = np.random.default_rng(2).multinomial(60, np.full(60, 1 / 60), size=500)
    by_hand = np.array([[_ratio_by_hand(columns["correct"], columns[f"member_{k}"], w) for k in range(16)]
                        for w in draws])
    single = {"correct": columns["correct"], "member": columns["member_3"]}
    assert draws_at_once(error_ratio, single)(draws).tobytes() == by_hand[:, 3].tobytes()
    expected = np.array([np.mean(row[np.isfinite(row)]) if np.isfinite(row).any() else math.nan for row in by_hand])
    assert draws_at_once(error_ratio_average, columns)(draws).tobytes() == expected.tobytes()
    for weights, counts in ((draws[7], draws[7]), (None, np.ones(60))):  # the one-draw statistic, NaN included
        expected_one = _ratio_by_hand(single["correct"], single["member"], counts)
        assert np.float64(error_ratio(single, weights)).tobytes() == np.float64(expected_one).tobytes()
    if accuracy > 0.99:
        assert np.isnan(by_hand).any()  # the undefined cases were exercised


def test_only_statistics_written_for_many_draws_go_at_once():
    assert draws_at_once(STATISTICS["top1_pct"], {"correct": np.array([0.0, 1.0])}) is None
    assert draws_at_once(ece_15bin, {"correct": np.array([0.0]), "confidence": np.array([0.5])}) is None


def _plain(monkeypatch):
    """The bootstrap with no shortcut: numpy's unique rows, one statistic call per draw."""
    monkeypatch.setattr(resampling, "_distinct_rows", lambda table: np.unique(table, axis=0, return_counts=True))
    monkeypatch.setattr(resampling, "draws_at_once", lambda statistic, columns: None)
    monkeypatch.setattr(resampling, "per_draw", lambda statistic, columns: lambda w: statistic(columns, w))


def test_imagenet_x_and_ece_intervals_equal_the_plain_bootstrap_to_the_bit(monkeypatch):
    rng = np.random.default_rng(5)
    outcomes = [Outcome(np.arange(3000).astype(str), _imagenet_x_columns(3000, seed=5), "error_ratio_average"),
                Outcome(np.arange(3000).astype(str), {"correct": _imagenet_x_columns(3000)["correct"],
                                                      "member": _imagenet_x_columns(3000)["member_2"]}, "error_ratio"),
                Outcome(np.arange(6000).astype(str), {"correct": (rng.random(6000) < 0.7).astype(float),
                                                      "confidence": rng.random(6000)}, "ece_15bin")]
    fast = [bootstrap_interval(o, draws=300) for o in outcomes]
    paired = paired_test(outcomes[0], Outcome(outcomes[0].ids, _imagenet_x_columns(3000, seed=6),
                                              "error_ratio_average"), draws=300)
    _plain(monkeypatch)
    assert fast == [bootstrap_interval(o, draws=300) for o in outcomes]
    plain_paired = paired_test(outcomes[0], Outcome(outcomes[0].ids, _imagenet_x_columns(3000, seed=6),
                                                    "error_ratio_average"), draws=300)
    assert (paired.ci_low, paired.ci_high, paired.p_bootstrap) == (plain_paired.ci_low, plain_paired.ci_high,
                                                                   plain_paired.p_bootstrap)
    assert all(not math.isnan(low) for low, _ in fast)
    assert ece_15bin(outcomes[2].columns) > 0
