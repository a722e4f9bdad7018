"""OOD-detection metrics: equal to scikit-learn's (AUROC, average precision) and OpenOOD's FPR at 95% TPR on the
same scores (ties, weights), with hand examples that catch a flipped sign or positive class."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from beyond_imagenet.stats.resampling import bootstrap_interval, paired_test
from beyond_imagenet.stats.statistics import (
    STATISTICS,
    Outcome,
    aupr_pct,
    auroc_pct,
    fpr95_pct,
    per_draw,
)


def _openood_fpr95(ood, anomaly, weights=None):
    """OpenOOD's auc_and_fpr_recall (openood/evaluators/metrics.py @3c35632): roc_curve(ood_indicator, -conf) with
    its default drop_intermediate, then fpr_list[np.argmax(tpr_list >= 0.95)]; anomaly = -conf."""
    fpr, tpr, _ = roc_curve(ood, anomaly, sample_weight=weights)
    return fpr[np.argmax(tpr >= 0.95)]


def _random_case(rng, n, weighted):
    ood = (rng.random(n) < 0.3).astype(float)
    ood[:2] = [0.0, 1.0]
    score = np.round(rng.normal(size=n) + ood, int(rng.integers(0, 3)))  # rounded: many ties
    weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float) if weighted else None
    if weights is not None:
        weights[:2] = [1.0, 1.0]
    return {"score": score, "ood": ood}, weights


@pytest.mark.parametrize("weighted", [False, True])
def test_each_metric_equals_the_reference_on_the_same_scores(weighted):
    rng = np.random.default_rng(3)
    for _ in range(60):
        columns, weights = _random_case(rng, int(rng.integers(4, 400)), weighted)
        y, s = columns["ood"], columns["score"]
        assert auroc_pct(columns, weights) / 100 == pytest.approx(roc_auc_score(y, s, sample_weight=weights), abs=1e-12)
        assert aupr_pct(columns, weights) / 100 == pytest.approx(
            average_precision_score(y, s, sample_weight=weights), abs=1e-12)
        assert fpr95_pct(columns, weights) / 100 == pytest.approx(_openood_fpr95(y, s, weights), abs=1e-12)


def test_a_perfect_detector_and_its_mirror():
    perfect = {"score": np.array([0.1, 0.2, 0.3, 0.8, 0.9]), "ood": np.array([0, 0, 0, 1, 1.0])}
    assert (auroc_pct(perfect), aupr_pct(perfect), fpr95_pct(perfect)) == (100.0, 100.0, 0.0)
    mirror = {**perfect, "score": -perfect["score"]}  # the confidence used as anomaly score: every sign flipped
    assert auroc_pct(mirror) == 0.0
    assert fpr95_pct(mirror) == 100.0
    assert aupr_pct(mirror) == pytest.approx(100 * (0.5 * 1 / 4 + 0.5 * 2 / 5))  # the positives found 4th and 5th


def test_hand_example_with_a_tie():
    # OOD at 3 and 1; ID at 3 (tied with an OOD image) and 0: the four (OOD, ID) pairs score 0.5, 1, 0, 1
    columns = {"score": np.array([3.0, 1.0, 3.0, 0.0]), "ood": np.array([1.0, 1.0, 0.0, 0.0])}
    assert auroc_pct(columns) == pytest.approx(62.5)
    # thresholds 3 (TP 1, FP 1: P 1/2, R 1/2), 1 (TP 2, FP 1: P 2/3, R 1): AP = 1/2 * 1/2 + 1/2 * 2/3
    assert aupr_pct(columns) == pytest.approx(100 * (0.25 + 1 / 3))
    # 95% of OOD found only at threshold 1, where one of the two ID images is flagged
    assert fpr95_pct(columns) == pytest.approx(50.0)


def test_fpr95_keeps_openoods_reading_of_a_straight_run_of_the_curve():
    # 20 OOD and 20 ID in alternating steps: the ROC points on a straight line are dropped by roc_curve, so the
    # first point with TPR >= 95% is further along the line than the first threshold that reaches it
    ood = np.r_[np.ones(17), np.tile([1.0, 0.0], 3), np.zeros(17)]
    score = -np.arange(len(ood), dtype=float)
    columns = {"score": score, "ood": ood}
    assert fpr95_pct(columns) / 100 == pytest.approx(_openood_fpr95(ood, score))


def test_a_draw_reweights_the_ranking_as_the_statistic_would():
    rng = np.random.default_rng(5)
    columns, _ = _random_case(rng, 300, False)
    for name in ("auroc_pct", "aupr_pct", "fpr95_pct"):
        one_draw = per_draw(STATISTICS[name], columns)
        for _ in range(5):
            weights = np.bincount(rng.integers(0, 300, 300), minlength=300).astype(float)
            assert one_draw(weights) == STATISTICS[name](columns, weights)


def test_intervals_and_paired_tests_work_on_detection_outcomes():
    rng = np.random.default_rng(6)
    ids = np.array([f"i{k}" for k in range(400)])
    ood = (np.arange(400) < 100).astype(float)
    good = Outcome(ids, {"score": rng.normal(size=400) + 2 * ood, "ood": ood}, "auroc_pct")
    weak = Outcome(ids, {"score": rng.normal(size=400) + 0.2 * ood, "ood": ood}, "auroc_pct")
    low, high = bootstrap_interval(good, draws=200)
    assert low < good.value() < high
    result = paired_test(good, weak, draws=200)
    assert result.difference > 0 and result.ci_low > 0


def test_a_stratified_outcome_keeps_each_groups_size_in_every_draw():
    from beyond_imagenet.stats.resampling import _resampled, _stratified_draws, _stratified_multinomial
    from beyond_imagenet.stats.statistics import STRATUM

    rng = np.random.default_rng(0)
    strata = np.array([2.0, 0.0, 1.0, 0.0, 2.0, 2.0, 1.0, 0.0, 0.0])
    for weights in _stratified_draws(rng, strata, 200):
        assert [weights[strata == s].sum() for s in (0, 1, 2)] == [4, 2, 3]
    counts = np.array([3, 1, 2, 5])
    drawn = _stratified_multinomial(rng, np.array([0.0, 1.0, 0.0, 1.0]), counts, 200)
    assert (drawn[:, [0, 2]].sum(axis=1) == 5).all() and (drawn[:, [1, 3]].sum(axis=1) == 6).all()
    # one OOD image among 40: drawn as one pool, many resamples lose it (AUROC undefined); within its stratum, none
    ood = np.r_[np.zeros(39), 1.0]
    columns = {"score": np.arange(40.0), "ood": ood}
    pooled = _resampled(columns, STATISTICS["auroc_pct"], 300, 0)
    stratified = _resampled({**columns, STRATUM: ood.copy()}, STATISTICS["auroc_pct"], 300, 0)
    assert np.isnan(pooled).sum() > 50 and np.isfinite(stratified).all()
    assert stratified == pytest.approx(np.full(300, 100.0))  # the OOD image scores highest in every draw
