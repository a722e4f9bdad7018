"""Calibration of the max-softmax confidence: ECE (Naeini et al. 2015; Guo et al. 2017), MCE,
adaptive ECE (Nguyen & O'Connor 2015), NLL and Brier score (Brier 1950), with bootstrap intervals.

Per-bin reliability rows have no bin column in the tidy schema, so the bin is encoded in the
metric name: ``bin07_count`` (images in bin 7), ``bin07_accuracy`` and ``bin07_confidence``
(fractions; NaN for an empty bin), bins numbered 00..14 from low to high confidence, bin b
covering confidences (b/15, (b+1)/15]. ``parse_bin_rows`` turns them back into a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...catalog.labels import class_subset, restrict
from ...catalog.roles import IMAGENET_VAL, key_of
from ...stats.statistics import N_BINS, Outcome, bin_indices, correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from ...store.scores import SOFTMAX_ROWS
from .._registry import Headline, role_headline

NLL_FLOOR = 1e-12  # p(true) is clipped here so one hopeless image cannot make NLL infinite
PROPERTY = "calibration"
BIN_METRICS = ("count", "accuracy", "confidence")
BIN_METRIC_PATTERN = r"^bin(?P<bin>\d{2})_(?P<stat>count|accuracy|confidence)$"


@dataclass(frozen=True)
class ImageStats:
    """Per-image quantities every calibration metric is computed from."""

    confidence: np.ndarray  # max softmax probability, float64
    correct: np.ndarray  # argmax == label, bool
    log_p_true: np.ndarray  # log softmax probability of the true class, float64
    sum_sq: np.ndarray  # sum_k p_k^2, for the Brier score


def image_stats(logits: np.ndarray, labels: np.ndarray) -> ImageStats:
    """Confidence, correctness, log p(true) and sum p^2 per image; one float64 softmax pass in chunks."""
    if logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{logits.shape[0]} logit rows but {labels.shape[0]} labels")
    n = logits.shape[0]
    confidence, log_p_true, sum_sq = (np.empty(n) for _ in range(3))
    rows = np.arange(n)
    for start in range(0, n, SOFTMAX_ROWS):
        part = slice(start, start + SOFTMAX_ROWS)
        shifted = logits[part].astype(np.float64)
        shifted -= shifted.max(axis=1, keepdims=True)
        true_shifted = shifted[rows[part] - start, labels[part]]
        np.exp(shifted, out=shifted)
        total = shifted.sum(axis=1)
        confidence[part] = 1.0 / total  # the max logit was shifted to 0, so its exp is 1
        log_p_true[part] = true_shifted - np.log(total)
        sum_sq[part] = np.einsum("ij,ij->i", shifted, shifted) / total**2
    correct = logits.argmax(axis=1) == labels  # ties take the first maximum, as in accuracy.py
    return ImageStats(confidence, correct, log_p_true, sum_sq)




def bin_summary(confidence: np.ndarray, correct: np.ndarray, bins: np.ndarray, n_bins: int) -> pd.DataFrame:
    """Per bin: image count, accuracy, mean confidence, and gap = confidence - accuracy (NaN if empty)."""
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins) / counts
        mean_conf = np.bincount(bins, weights=confidence, minlength=n_bins) / counts
    return pd.DataFrame({"bin": np.arange(n_bins), "count": counts, "accuracy": accuracy,
                         "confidence": mean_conf, "gap": mean_conf - accuracy})


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: np.ndarray,
                               n_bins: int) -> float:
    """ECE = sum_b (n_b/N) |acc_b - conf_b| (Naeini et al. 2015; Guo et al. 2017)."""
    # (n_b/N)|acc_b - conf_b| = |sum_b correct - sum_b conf| / N, which needs no division by n_b
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    return float(np.abs(gap).sum() / confidence.size)


def max_calibration_error(summary: pd.DataFrame) -> float:
    """MCE = max over non-empty bins of |acc_b - conf_b| (Naeini et al. 2015)."""
    return float(summary.loc[summary["count"] > 0, "gap"].abs().max())


def adaptive_bins(confidence: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Equal-mass bins: images sorted by confidence, cut into n groups of (near-)equal counts."""
    order = np.argsort(confidence, kind="stable")
    bins = np.empty(confidence.size, dtype=np.int64)
    bins[order] = np.arange(confidence.size) * n_bins // max(confidence.size, 1)
    return bins


def signed_calibration(confidence: np.ndarray, correct: np.ndarray) -> float:
    """sum_b (n_b/N)(conf_b - acc_b) = mean confidence - accuracy; positive = over-confident."""
    return float(confidence.mean() - correct.mean())


def negative_log_likelihood(log_p_true: np.ndarray) -> float:
    """Mean -log p(true class), with p clipped at NLL_FLOOR."""
    return float(-np.maximum(log_p_true, np.log(NLL_FLOOR)).mean())


def brier_score(stats: ImageStats) -> float:
    """Mean over images of sum_k (p_k - onehot_k)^2 = sum_k p_k^2 - 2 p_true + 1 (Brier 1950)."""
    per_image = stats.sum_sq - 2.0 * np.exp(stats.log_p_true) + 1.0
    return float(np.maximum(per_image, 0.0).mean())  # clip float64 round-off below zero


def bin_metric(bin_index: int, stat: str) -> str:
    """Tidy metric name of one reliability-bin statistic, e.g. bin07_accuracy."""
    if stat not in BIN_METRICS:
        raise ValueError(f"bin statistic {stat!r} is not one of {BIN_METRICS}")
    return f"bin{bin_index:02d}_{stat}"


def parse_bin_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per-bin rows of a tidy table back to columns model, dataset, bin, count, accuracy, confidence."""
    parts = metrics["metric"].str.extract(BIN_METRIC_PATTERN)
    is_bin = parts["bin"].notna().to_numpy()
    rows = metrics.loc[is_bin, ["model", "dataset", "value"]].assign(
        bin=parts.loc[is_bin, "bin"].astype(int).to_numpy(), stat=parts.loc[is_bin, "stat"].to_numpy())
    wide = rows.pivot_table(index=["model", "dataset", "bin"], columns="stat", values="value", dropna=False)
    return wide.reindex(columns=list(BIN_METRICS)).reset_index().rename_axis(columns=None)


def _summary_values(stats: ImageStats, bins: np.ndarray, summary: pd.DataFrame) -> dict[str, float]:
    """The scalar metrics of one model on one dataset."""
    adaptive = adaptive_bins(stats.confidence, N_BINS)
    return {
        "ece_15bin": expected_calibration_error(stats.confidence, stats.correct, bins, N_BINS),
        "mce_15bin": max_calibration_error(summary),
        "adaptive_ece_15bin": expected_calibration_error(stats.confidence, stats.correct, adaptive, N_BINS),
        "signed_calibration": signed_calibration(stats.confidence, stats.correct),
        "nll": negative_log_likelihood(stats.log_p_true),
        "brier": brier_score(stats),
        "top1_pct": float(100.0 * stats.correct.mean()),
    }


def calibration_rows(model: str, dataset: str, logits: np.ndarray, labels: np.ndarray,
                     class_subset: np.ndarray | None = None) -> pd.DataFrame:
    """Tidy calibration rows (scalar metrics, plus per-bin rows) of one model; the intervals of ECE and top-1 come
    from their per-image outcomes (compute), with every other interval's resampling."""
    return _calibration(model, dataset, logits, labels, class_subset)[0]


def _calibration(model: str, dataset: str, logits: np.ndarray, labels: np.ndarray, class_subset: np.ndarray | None,
                 key: str | None = None) -> tuple[pd.DataFrame, ImageStats]:
    """The rows and the per-image statistics they come from (one softmax for both)."""
    restricted = restrict(logits, labels, class_subset)
    labels = restricted.labels
    if labels.size == 0:
        raise ValueError(f"no images for model {model!r} on dataset {dataset!r}; calibration needs at least one")
    stats = image_stats(restricted.logits, labels)
    bins = bin_indices(stats.confidence, N_BINS)
    summary = bin_summary(stats.confidence, stats.correct, bins, N_BINS)
    base = {"model": model, "property": PROPERTY, "dataset": dataset, "key": key or dataset, "n": labels.size}
    rows = [{**base, "metric": metric, "value": value, "ci_low": np.nan, "ci_high": np.nan}
            for metric, value in _summary_values(stats, bins, summary).items()]
    rows += [{**base, "metric": bin_metric(int(row.bin), stat), "value": float(getattr(row, stat)),
              "ci_low": np.nan, "ci_high": np.nan}
             for row in summary.itertuples() for stat in BIN_METRICS]
    return metric_frame(rows), stats


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: ECE & co. per dataset, after restricting logits to its label space (ImageNet-R: 200), and
    the per-image confidence and correctness behind each ece_15bin and top1_pct row."""
    frames, outcomes = [], {}
    for (dataset, _), c in merge_parts(caches).items():
        key = key_of(dataset, datasets.get(dataset, {}).get("role"))
        rows, stats = _calibration(model, dataset, c.logits, c.labels, class_subset(c.identity["label_space"]),
                                   key=key)
        frames.append(rows)
        ids = np.asarray([str(i) for i in c.ids])
        outcomes[(dataset, key, "ece_15bin")] = Outcome(
            ids, {"confidence": np.asarray(stats.confidence, dtype=float),
                  "correct": np.asarray(stats.correct, dtype=float)}, "ece_15bin")
        outcomes[(dataset, key, "top1_pct")] = correct_outcome(ids, stats.correct)
    return pd.concat(frames, ignore_index=True), outcomes


def table_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per-bin rows feed the figure, not the table."""
    return metrics[~metrics["metric"].str.match(r"^bin\d{2}_")]


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """ECE on the dataset with role imagenet_val."""
    return [role_headline("ECE (val)", PROPERTY, "ece_15bin", IMAGENET_VAL, datasets, better="lower",
                          axis="ECE: ← confidence closer to accuracy")]
