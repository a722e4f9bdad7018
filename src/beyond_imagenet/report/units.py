"""What each metric measures, in words and units, and how many digits a reader sees of it (one place for all)."""

from __future__ import annotations

import math
import re

# metric -> (what it is, with its unit; digits after the point a table shows)
METRICS: dict[str, tuple[str, int]] = {
    "top1_pct": ("top-1 accuracy (%)", 2),
    "top5_pct": ("top-5 accuracy (%)", 2),
    "top1_pct_corrected": ("top-1 (%), index 841 counted for Shirt and Sweatshirt", 2),
    "top1_pct_by_value": ("top-1 (%) at one value of the factor", 2),
    "factor_top1_pct": ("top-1 (%) on the annotated images with the factor", 2),
    "factor_top1_pct_multi": ("top-1 (%) on the images with the factor (multi-factor)", 2),
    "linear_probe_top1_pct": ("linear-probe test top-1 (%)", 2),
    "ece_15bin": ("expected calibration error, 15 equal-width bins (fraction; 0 = calibrated)", 4),
    "adaptive_ece_15bin": ("expected calibration error, 15 equal-mass bins (fraction)", 4),
    "mce_15bin": ("largest gap of a bin between confidence and accuracy (fraction)", 4),
    "signed_calibration": ("mean confidence − accuracy (fraction; > 0 over-confident)", 4),
    "nll": ("negative log-likelihood (nats per image)", 4),
    "brier": ("Brier score (per image, 0..2)", 4),
    "error_ratio": ("ImageNet-X error ratio (1 − acc_factor) / (1 − acc_all); 1 = as often wrong as overall", 3),
    "error_ratio_multi": ("ImageNet-X error ratio, multi-factor annotations", 3),
    "factor_count": ("annotated images with the factor", 0),
    "factor_count_multi": ("annotated images with the factor (multi-factor)", 0),
    "mce": ("mean corruption error (%, AlexNet = 100)", 2),
    "ce": ("corruption error (%, AlexNet = 100)", 2),
    "true_class_prob": ("mean softmax probability of the true class (fraction)", 4),
    "shape_bias": ("shape decisions / (shape + texture decisions)", 4),
    "accuracy_16class": ("16-class accuracy: decisions naming the shape (fraction of all images)", 4),
    "weight_decay": ("weight decay chosen on val200", -3),  # negative: significant digits
    "cka_linear": ("linear CKA (0..1)", 4),
    "adjacent_cka_mean": ("mean linear CKA of consecutive blocks (0..1)", 4),
    "aupr_pct": ("AUPR (%), OOD images positive (average precision; chance = their share)", 2),
    "auroc_pct": ("AUROC (%) of telling OOD from in-distribution images (50 = chance)", 2),
    "fpr95_pct": ("in-distribution images flagged (%) when 95% of OOD images are", 2),
    "gap_pct": ("BG-gap: mixed-same − mixed-rand top-1 (points)", 2),
    "object_focus": ("QUBA object focus: 1 − BG-gap / ImageNet top-1 (fractions; 1 = no reliance)", 4),
    "class_balance": ("QUBA class balance: geometric mean of the two balances (0..1, higher = more even)", 4),
    "class_accuracy_balance": ("1 − std of per-class top-1 (fractions, ddof 1)", 4),
    "class_confidence_balance": ("1 − mean within-class std of the true class's probability", 4),
    "class_top1_pct": ("top-1 (%) of one class", 2),
}
PATTERNS: tuple[tuple[str, tuple[str, int]], ...] = (
    (r"^(shape|texture|other)_decisions$", ("decisions naming the {0} (count)", 0)),
    (r"^(shape|texture|other)_fraction$", ("share of scored images decided by {0} (fraction)", 4)),
    (r"^bin(\d\d)_count$", ("images in reliability bin {0} (count)", 0)),
    (r"^bin(\d\d)_(accuracy|confidence)$", ("{1} in reliability bin {0} (fraction)", 4)),
)
# What `n` counts, and what an interval resamples: said under every tidy table.
N_NOTE = ("n: the images behind a value (ImageNet-C: image x corruption cell evaluations; a mean over sets or "
          "tasks: the images of all of them; a count of sets where the key is a mean of means)")
INTERVAL_NOTE = ("ci_low / ci_high: 95% percentile bootstrap interval over images (1,000 resamples, seed 0): images "
                 "resampled with replacement (ImageNet-C: the val images, each with all its cells; a mean over "
                 "disjoint sets: each set on its own; OOD detection, BG-gap, object focus and class balance: within "
                 "each group, so its size stays: in- and out-of-distribution images, IN-9 variants and val, classes); "
                 "empty where a value has no per-image outcome")


def describe(metric: str) -> tuple[str, int]:
    """(what the metric is with its unit, digits a table shows) — an unknown metric is named as it is."""
    if metric in METRICS:
        return METRICS[metric]
    for pattern, (text, digits) in PATTERNS:
        match = re.match(pattern, metric)
        if match:
            return text.format(*match.groups()), digits
    return metric, 4


def format_value(metric: str, value: float) -> str:
    """A value as a table shows it: the metric's fixed digits (percentages 2, fractions 4, counts 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    digits = describe(metric)[1]
    return f"{value:.{-digits}g}" if digits < 0 else f"{value:.{digits}f}"
