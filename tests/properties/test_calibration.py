"""Calibration metrics by hand (ECE, MCE, adaptive ECE, NLL, Brier), logit restriction, bootstrap, figure."""

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.properties.calibration import compute as calib
from beyond_imagenet.properties.calibration.compute import (
    adaptive_bins,
    calibration_rows,
    image_stats,
    parse_bin_rows,
)
from beyond_imagenet.properties.calibration.plot import plot_calibration
from beyond_imagenet.stats.statistics import N_BINS, bin_indices
from beyond_imagenet.store.cache import CachedOutputs
from beyond_imagenet.store.scores import softmax


def _logits_from_probs(probs: list[list[float]]) -> np.ndarray:
    """Logits whose softmax is exactly the given probability rows (up to float64 round-off)."""
    return np.log(np.asarray(probs, dtype=np.float64))


# Six images, 4 classes. Four have confidence 0.9 (bin 13 = (13/15, 14/15]), three of them right;
# two have confidence 0.3 (bin 4 = (4/15, 5/15]), one right.
HIGH, LOW = [0.9, 0.05, 0.03, 0.02], [0.3, 0.25, 0.25, 0.2]
TWO_BIN_LOGITS = _logits_from_probs([HIGH, HIGH, HIGH, HIGH, LOW, LOW])
TWO_BIN_LABELS = np.array([0, 0, 0, 1, 0, 1])


def test_two_bin_example_by_hand():
    rows = calibration_rows("m", "d", TWO_BIN_LOGITS, TWO_BIN_LABELS)
    value = rows.set_index("metric")["value"]
    # bin 13: acc 3/4, conf 0.9, weight 4/6; bin 4: acc 1/2, conf 0.3, weight 2/6
    assert value["ece_15bin"] == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.2)
    assert value["mce_15bin"] == pytest.approx(0.2)
    assert value["signed_calibration"] == pytest.approx((4 * 0.9 + 2 * 0.3 - 4) / 6)
    assert value["top1_pct"] == pytest.approx(100 * 4 / 6)
    # 6 images < 15 bins: each image is its own equal-mass bin, so adaptive ECE = mean |correct - conf|
    assert value["adaptive_ece_15bin"] == pytest.approx((3 * 0.1 + 0.9 + 0.7 + 0.3) / 6)
    assert value["nll"] == pytest.approx(-(3 * np.log(0.9) + np.log(0.05) + np.log(0.3) + np.log(0.25)) / 6)
    brier_right_high = 0.1**2 + 0.05**2 + 0.03**2 + 0.02**2
    brier_wrong_high = 0.9**2 + 0.95**2 + 0.03**2 + 0.02**2
    brier_right_low = 0.7**2 + 0.25**2 + 0.25**2 + 0.2**2
    brier_wrong_low = 0.3**2 + 0.75**2 + 0.25**2 + 0.2**2
    assert value["brier"] == pytest.approx((3 * brier_right_high + brier_wrong_high + brier_right_low
                                            + brier_wrong_low) / 6)
    assert (rows["n"] == 6).all()


def test_per_bin_rows_by_hand():
    rows = calibration_rows("m", "d", TWO_BIN_LOGITS, TWO_BIN_LABELS).set_index("metric")["value"]
    assert rows["bin13_count"] == 4 and rows["bin13_accuracy"] == pytest.approx(0.75)
    assert rows["bin13_confidence"] == pytest.approx(0.9)
    assert rows["bin04_count"] == 2 and rows["bin04_accuracy"] == pytest.approx(0.5)
    assert rows["bin00_count"] == 0 and np.isnan(rows["bin00_accuracy"])
    assert sum(rows[f"bin{b:02d}_count"] for b in range(N_BINS)) == 6


def test_parse_bin_rows_round_trip():
    rows = calibration_rows("m", "d", TWO_BIN_LOGITS, TWO_BIN_LABELS)
    bins = parse_bin_rows(rows)
    assert list(bins.columns) == ["model", "dataset", "bin", "count", "accuracy", "confidence"]
    assert len(bins) == N_BINS
    bin13 = bins.set_index("bin").loc[13]
    assert (bin13["count"], bin13["accuracy"]) == (4, pytest.approx(0.75))


def test_confidence_equal_to_accuracy_in_every_bin_gives_zero_ece():
    # 10 images at confidence 0.8 with 8 right, 4 at confidence 0.5 with 2 right
    probs = [[0.8, 0.1, 0.1]] * 10 + [[0.5, 0.3, 0.2]] * 4
    labels = np.array([0] * 8 + [1] * 2 + [0, 0, 1, 2])
    rows = calibration_rows("m", "d", _logits_from_probs(probs), labels).set_index("metric")["value"]
    assert rows["ece_15bin"] == pytest.approx(0.0, abs=1e-12)
    assert rows["mce_15bin"] == pytest.approx(0.0, abs=1e-12)
    assert rows["signed_calibration"] == pytest.approx(0.0, abs=1e-12)


def test_all_correct_with_full_confidence_is_perfect():
    labels = np.array([0, 3, 7, 7, 2])
    logits = np.zeros((5, 10), dtype=np.float32)
    logits[np.arange(5), labels] = 200.0  # other classes get exp(-200): p(true) == 1 in float64
    rows = calibration_rows("m", "d", logits, labels).set_index("metric")["value"]
    assert rows["top1_pct"] == 100.0
    assert rows["ece_15bin"] == pytest.approx(0.0, abs=1e-12)
    assert rows["nll"] == pytest.approx(0.0, abs=1e-12)
    assert rows["brier"] == pytest.approx(0.0, abs=1e-12)
    assert rows["bin14_count"] == 5


def test_confidence_on_a_bin_edge_goes_to_the_lower_bin():
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    on_edge = edges[[1, 7, 15]]
    assert bin_indices(on_edge).tolist() == [0, 6, 14]  # (lo, hi]: an upper edge belongs to its bin
    assert bin_indices(np.nextafter(on_edge[:2], 1.0)).tolist() == [1, 7]
    assert bin_indices(np.array([0.0])).tolist() == [0]  # confidence 0 joins the first bin


def test_adaptive_bins_split_sorted_confidence_into_equal_counts():
    confidence = np.array([0.2, 0.9, 0.4, 0.6, 0.95, 0.1])
    assert adaptive_bins(confidence, n_bins=2).tolist() == [0, 1, 0, 1, 1, 0]
    counts = np.bincount(adaptive_bins(np.linspace(0, 1, 47), n_bins=15), minlength=15)
    assert counts.sum() == 47 and set(counts) == {3, 4}  # 47 = 15 * 3 + 2: near-equal mass


def test_signed_calibration_positive_when_over_confident():
    probs = [[0.9, 0.05, 0.05]] * 10
    labels = np.array([0] * 5 + [1] * 5)  # 50% right at 90% confidence
    rows = calibration_rows("m", "d", _logits_from_probs(probs), labels).set_index("metric")["value"]
    assert rows["signed_calibration"] == pytest.approx(0.4)
    assert rows["ece_15bin"] == pytest.approx(0.4)


def test_softmax_is_stable_for_huge_logits():
    probs = softmax(np.array([[1000.0, 1001.0, -1000.0]], dtype=np.float32))
    assert probs.dtype == np.float64
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0)
    assert probs[0, 1] == pytest.approx(1 / (1 + np.exp(-1.0)))


def test_image_stats_match_softmax_across_chunk_boundaries(monkeypatch):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(11, 6)).astype(np.float32) * 3
    labels = rng.integers(0, 6, size=11)
    monkeypatch.setattr(calib, "SOFTMAX_ROWS", 4)  # 11 rows: chunks of 4, 4, 3
    stats = image_stats(logits, labels)
    probs = softmax(logits)
    np.testing.assert_allclose(stats.confidence, probs.max(axis=1))
    np.testing.assert_allclose(np.exp(stats.log_p_true), probs[np.arange(11), labels])
    np.testing.assert_allclose(stats.sum_sq, (probs**2).sum(axis=1))


def test_large_logit_outside_the_subset_is_ignored():
    subset = np.array([2, 5, 7])
    logits = np.zeros((2, 10))
    logits[:, [2, 5, 7]] = [[1.0, 3.0, 2.0], [4.0, 0.0, 1.0]]
    logits[:, 0] = 50.0  # would win the 1000-way argmax and take all the probability mass
    rows = calibration_rows("m", "imagenet_r", logits, np.array([5, 2]), class_subset=subset)
    value = rows.set_index("metric")["value"]
    assert value["top1_pct"] == 100.0
    expected_conf = softmax(logits[:, subset]).max(axis=1)
    assert value["signed_calibration"] == pytest.approx(expected_conf.mean() - 1.0)
    unrestricted = calibration_rows("m", "imagenet_r", logits, np.array([5, 2])).set_index("metric")["value"]
    assert unrestricted["top1_pct"] == 0.0


def test_label_outside_the_subset_raises():
    with pytest.raises(ValueError, match=r"labels \[3\] are not among the 3 classes scored"):
        calibration_rows("m", "imagenet_r", np.zeros((2, 10)), np.array([5, 3]), class_subset=np.array([2, 5, 7]))




def _miscalibrated(n: int = 2000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Confidence ~U(0.5, 1) but right only half as often as it claims."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, size=n)
    correct = rng.uniform(size=n) < confidence / 2
    return confidence, correct


def test_ece_and_top1_intervals_come_from_the_outcomes_with_every_other_intervals_resampling():
    """One resample count for every interval: calibration has no bootstrap of its own; its ECE and top-1 rows get
    theirs from their per-image outcomes, as every property's do."""
    from beyond_imagenet.stats.outcomes import with_intervals

    confidence, correct = _miscalibrated()
    logits = _logits_from_probs(np.stack([confidence, 1 - confidence], axis=1))
    labels = np.where(correct, 0, 1)
    ids = np.asarray([f"i{k}" for k in range(len(labels))], object)
    cache = CachedOutputs(logits.astype(np.float32), labels, ids, None,
                          {"dataset": "d", "view": "standard", "part": None, "label_space": "imagenet1k"})
    rows, outcomes = calib.compute("m", [cache], {}, {})
    assert rows[["ci_low", "ci_high"]].isna().all(axis=None)  # no interval of its own
    assert set(outcomes) == {("d", "d", "ece_15bin"), ("d", "d", "top1_pct")}
    rows = with_intervals(rows, "calibration", outcomes).set_index("metric")
    for metric in ("ece_15bin", "top1_pct"):
        assert rows.loc[metric, "ci_low"] < rows.loc[metric, "value"] < rows.loc[metric, "ci_high"]
    assert rows.loc["nll", ["ci_low", "ci_high"]].isna().all()


def _spec(model_id: str, family: str, training: str) -> ModelSpec:
    return ModelSpec(id=model_id, source="timm", name=model_id, weights="hub", display_name=model_id,
                     family=family, training=training)


def test_figure_smoke(tmp_path):
    # one model per pair keeps the figure small (matplotlib layout dominates the test's time)
    models = {m: _spec(m, f, t)
              for m, f, t in [("vit_clip", "vit", "clip"), ("convnext_sup", "convnext", "supervised")]}
    rng = np.random.default_rng(0)
    frames = []
    for index, model in enumerate(models):
        labels = rng.integers(0, 20, size=300)
        logits = rng.normal(size=(300, 20)) * (1 + index)
        logits[np.arange(300), labels] += 2.0
        frames.append(calibration_rows(model, "imagenet_val", logits, labels))
        if model != "vit_clip":  # one missing panel must still draw
            frames.append(calibration_rows(model, "imagenet_r", logits, labels, class_subset=np.arange(20)))
    paths = plot_calibration(pd.concat(frames, ignore_index=True), models, ["imagenet_val", "imagenet_r"],
                             tmp_path / "calibration")
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_figure_without_calibration_rows_raises(tmp_path):
    with pytest.raises(ValueError, match="no calibration rows"):
        plot_calibration(pd.DataFrame(columns=["model", "property", "dataset", "metric", "value"]),
                         {"a": _spec("a", "vit", "clip")}, ["imagenet_val"], tmp_path / "x")
