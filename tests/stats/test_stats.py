"""Bootstrap intervals and paired tests: coverage on simulated data, exact values on hand examples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from beyond_imagenet.stats.resampling import bootstrap_interval, mcnemar_exact, paired_test
from beyond_imagenet.stats.statistics import Outcome


def _top1(correct, ids=None) -> Outcome:
    correct = np.asarray(correct, dtype=float)
    return Outcome(np.asarray(ids if ids is not None else [f"i{k:04d}" for k in range(len(correct))]),
                   {"correct": correct}, "top1_pct")


def test_bootstrap_intervals_cover_the_true_value_at_the_nominal_rate():
    rng = np.random.default_rng(12345)
    true_accuracy, trials, covered = 0.7, 200, 0
    for trial in range(trials):
        low, high = bootstrap_interval(_top1(rng.random(400) < true_accuracy), draws=400, seed=trial)
        covered += low <= 100 * true_accuracy <= high
    assert 0.90 <= covered / trials <= 0.99, covered / trials  # nominal 95%


def test_shape_bias_intervals_cover_too():
    rng = np.random.default_rng(7)
    covered, trials = 0, 150
    for trial in range(trials):  # decisions: shape 30%, texture 50%, other 20% -> shape bias 0.375
        kind = rng.choice(3, size=600, p=[0.3, 0.5, 0.2])
        outcome = Outcome(np.arange(600).astype(str), {"shape": (kind == 0).astype(float),
                                                       "texture": (kind == 1).astype(float)}, "shape_bias")
        low, high = bootstrap_interval(outcome, draws=400, seed=trial)
        covered += low <= 0.375 <= high
    assert 0.90 <= covered / trials <= 0.99, covered / trials


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs():
    a = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 1], dtype=bool)
    b = np.array([0, 0, 0, 0, 0, 0, 1, 0, 0, 1], dtype=bool)
    assert mcnemar_exact(a, b) == (6, 0, pytest.approx(0.03125))  # 2 * (1/2)^6
    assert mcnemar_exact(a[:3], b[:3])[2] == pytest.approx(0.25)
    only_a, only_b, p = mcnemar_exact(*(np.random.default_rng(1).random((2, 5000)) < [[0.62], [0.6]]))
    assert p == pytest.approx(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue, rel=1e-9)


def test_paired_test_joins_images_by_id_and_is_exact_for_identical_models():
    correct = np.random.default_rng(3).random(300) < 0.6
    ids = np.array([f"img{k}" for k in range(300)])
    a = _top1(correct, ids)
    order = np.random.default_rng(4).permutation(300)
    b = _top1(correct[order], ids[order])  # the same outcomes in another order
    same = paired_test(a, b, draws=200)
    assert same.difference == 0 and same.ci_low == same.ci_high == 0 and same.only_a == same.only_b == 0
    assert same.p_mcnemar == 1.0
    worse = _top1(np.where(np.arange(300) < 30, False, correct), ids)  # B loses the right answers on 30 images
    result = paired_test(a, worse, draws=500)
    lost = int(correct[:30].sum())
    assert result.only_a == lost and result.only_b == 0
    assert result.difference == pytest.approx(100 * lost / 300) and result.ci_low > 0
    assert result.p_mcnemar == pytest.approx(2 * 0.5 ** lost)


def test_paired_test_uses_only_shared_images():
    a = _top1([1, 0, 1, 1], ["a", "b", "c", "d"])
    b = _top1([1, 1, 0], ["d", "b", "x"])
    result = paired_test(a, b, draws=50)
    assert result.n == 2 and result.value_a == 50.0 and result.value_b == 100.0


def test_intervals_fill_the_headline_rows_and_refuse_an_outcome_that_disagrees():
    import pandas as pd

    from beyond_imagenet.stats.outcomes import with_intervals
    from beyond_imagenet.store.rows import metric_frame, metric_row

    rows = metric_frame([metric_row("m", "accuracy", "val", "val", "top1_pct", 75.0, 4),
                         metric_row("m", "accuracy", "val", "val", "top5_pct", 100.0, 4)])
    filled = with_intervals(rows, "accuracy", {("val", "val", "top1_pct"): _top1([1, 1, 1, 0])}, draws=200)
    top1 = filled.query("metric == 'top1_pct'").iloc[0]
    assert 0 <= top1["ci_low"] <= 75.0 <= top1["ci_high"] <= 100
    assert pd.isna(filled.query("metric == 'top5_pct'")["ci_low"]).all()  # no outcome: no interval claimed
    with pytest.raises(ValueError, match="the per-image outcomes give 50.0, the metric row says 75.0"):
        with_intervals(rows, "accuracy", {("val", "val", "top1_pct"): _top1([1, 0, 1, 0])})


def test_outcomes_round_trip_through_their_file(tmp_path):
    from beyond_imagenet.stats.outcomes import read_outcomes, write_outcomes

    outcomes = {("accuracy", "val", "val", "top1_pct"): _top1([1, 0, 1], ["a/x.JPEG", "b/y.JPEG", "c/z.JPEG"]),
                ("shape_bias", "cue", "cue_conflict", "shape_bias"): Outcome(
                    np.array(["p1", "p2"]), {"shape": np.array([1.0, 0.0]), "texture": np.array([0.0, 1.0])},
                    "shape_bias")}
    write_outcomes(tmp_path / "m.h5", outcomes, "m")
    model, back = read_outcomes(tmp_path / "m.h5")
    assert model == "m" and set(back) == set(outcomes)
    for key, outcome in outcomes.items():
        assert list(back[key].ids) == list(outcome.ids) and back[key].value() == outcome.value()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.faults
def test_the_papers_pairs_and_what_a_difference_says_of_a_claim():
    from beyond_imagenet.config.specs import ModelSpec
    from beyond_imagenet.report.pairs import (
        CONTRADICTED,
        NO_PAPER_SIGN,
        SUPPORTED,
        UNRESOLVED,
        configured_pairs,
        paper_claim,
    )

    models = {m: ModelSpec(id=m, source="timm", name=m, weights="hub", family=f, training=t)
              for m, f, t in (("vs", "vit", "supervised"), ("cs", "convnext", "supervised"),
                              ("vc", "vit", "clip"), ("cc", "convnext", "clip"), ("x", "other", "other"))}
    assert configured_pairs(models, [["x", "vs"], ["vs", "cs"]]) == [
        ("vs", "cs", "architecture (supervised)"), ("vc", "cc", "architecture (clip)"),
        ("vs", "vc", "paradigm (vit)"), ("cs", "cc", "paradigm (convnext)"), ("x", "vs", "declared")]
    assert paper_claim(84.1, 80.0, 0.1, 0.5, 7.0) == SUPPORTED and paper_claim(84.1, 80.0, 0.1, -0.5, 7.0) == UNRESOLVED
    assert paper_claim(80.0, 84.1, 0.1, 0.5, 7.0) == CONTRADICTED and paper_claim(float("nan"), 1, 0.1, 1, 2) == ""
    nan = float("nan")
    assert paper_claim(84.1, 80.0, 0.1, nan, nan) == UNRESOLVED  # an undefined interval resolves nothing
    # 85.5 vs 85.4, each printed to one decimal (+/- 0.05): the paper did not establish which is higher
    assert paper_claim(85.5, 85.4, 0.1, 0.2, 0.9) == NO_PAPER_SIGN
    assert paper_claim(85.5, 85.3, 0.1, 0.2, 0.9) == SUPPORTED


def test_error_ratio_statistics_match_a_hand_count():
    from beyond_imagenet.stats.statistics import STATISTICS

    correct = np.array([1, 0, 0, 1, 1, 1, 1, 0], dtype=float)  # overall error 3/8
    pose = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=float)  # error 1/2 on pose
    color = np.array([0, 0, 1, 1, 0, 0, 0, 1], dtype=float)  # error 2/3 on color
    assert STATISTICS["error_ratio"]({"correct": correct, "member": pose}) == pytest.approx((1 / 2) / (3 / 8))
    average = STATISTICS["error_ratio_average"]({"correct": correct, "member_pose": pose, "member_color": color,
                                                 "member_style": np.zeros(8)})  # no style image: left out
    assert average == pytest.approx(((1 / 2) / (3 / 8) + (2 / 3) / (3 / 8)) / 2)


def test_a_mean_over_disjoint_sets_gets_an_interval_and_a_paired_test():
    from beyond_imagenet.stats.outcomes import with_intervals
    from beyond_imagenet.stats.resampling import mean_interval, mean_value, paired_mean_test
    from beyond_imagenet.stats.statistics import MeanOf
    from beyond_imagenet.store.rows import metric_frame, metric_row

    rng = np.random.default_rng(5)
    parts = {("pug", f, "top1_pct"): _top1(rng.random(300) < p, [f"{f}/{k}" for k in range(300)])
             for f, p in (("Worlds", 0.6), ("Camera_Yaw", 0.8))}
    mean = MeanOf(tuple(parts))
    assert mean_value(mean, parts) == pytest.approx(np.mean([o.value() for o in parts.values()]))
    low, high = mean_interval(mean, parts, draws=400)
    assert low < mean_value(mean, parts) < high
    # narrower than either set's own interval: two independent sets of 300 images each
    assert high - low < min(np.subtract(*bootstrap_interval(o, draws=400)[::-1]) for o in parts.values())
    same = paired_mean_test(mean, parts, parts, draws=100)
    assert same.difference == 0 and same.ci_low == same.ci_high == 0 and same.n == 600
    rows = metric_frame([metric_row("m", "pug_imagenet", "pug", k[1], k[2], o.value(), 300) for k, o in parts.items()]
                        + [metric_row("m", "pug_imagenet", "pug", "average", "top1_pct", mean_value(mean, parts), 600)])
    filled = with_intervals(rows, "pug_imagenet", {**parts, ("pug", "average", "top1_pct"): mean}, draws=400)
    assert filled.query("key == 'average'")[["ci_low", "ci_high"]].notna().all(axis=None)


def test_means_round_trip_through_the_outcomes_file(tmp_path):
    from beyond_imagenet.stats.outcomes import read_outcomes, write_outcomes
    from beyond_imagenet.stats.statistics import MeanOf

    mean = MeanOf((("vtab_dtd", "natural/dtd", "m"), ("vtab_pets", "natural/pets", "m")))
    write_outcomes(tmp_path / "o.h5", {("transfer", "vtab", "natural", "m"): mean}, "x")
    assert read_outcomes(tmp_path / "o.h5")[1] == {("transfer", "vtab", "natural", "m"): mean}
