"""Class balance (QUBA, Hesse et al. 2025, "Beyond Accuracy: What Matters in Designing Well-Behaved Image
Classification Models", visinf/beyond-accuracy helper/benchmarks.py test_fair_accuracies / test_fair_confidence):

- accuracy balance = 1 - std (ddof 1) of the per-class top-1 fractions over the classes present;
- confidence balance = 1 - mean over classes of the std (ddof 0) of the true class's softmax probability within it;
- class balance = their geometric mean (QUBA's "Class Balance", higher = more even).

Per-class top-1 rows (`class/<wnid>`, metric class_top1_pct) feed the figure and the cards' weakest classes; the
table shows the summary rows. Reads only each image's stored top-1 class and true-class probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...catalog.labels import IMAGENET_1K, imagenet_wnids
from ...catalog.roles import IMAGENET_VAL, key_of
from ...stats.statistics import STATISTICS, STRATUM, Outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline, role_headline

PROPERTY = "class_balance"
BALANCE = "class_balance"  # QUBA's number, the headline
BALANCES = (BALANCE, "class_accuracy_balance", "class_confidence_balance")
CLASS_METRIC = "class_top1_pct"
CLASS_PREFIX = "class/"


def balance_columns(labels: np.ndarray, argmax: np.ndarray, p_true: np.ndarray) -> dict[str, np.ndarray]:
    """The per-image columns every balance statistic reads."""
    labels = np.asarray(labels, dtype=np.int64)
    return {"class": labels.astype(float), "correct": (np.asarray(argmax, dtype=np.int64) == labels).astype(float),
            "p_true": np.asarray(p_true, dtype=np.float64),
            STRATUM: labels.astype(float)}  # a bootstrap draw keeps every class's image count (val: 50 each)


def class_rows(dataset: str, columns: dict[str, np.ndarray]) -> list[dict]:
    """Top-1 (%) of every class present, keyed class/<wnid>."""
    classes = columns["class"].astype(np.int64)
    counts = np.bincount(classes, minlength=1000)
    right = np.bincount(classes, weights=columns["correct"], minlength=1000)
    wnids = imagenet_wnids()
    return [{"dataset": dataset, "key": CLASS_PREFIX + wnids[c], "metric": CLASS_METRIC,
             "value": 100.0 * right[c] / counts[c], "n": int(counts[c])} for c in np.flatnonzero(counts)]


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: QUBA's class balance and its two parts per dataset, and every class's top-1."""
    rows, outcomes = [], {}
    for (dataset, _), cache in merge_parts(caches).items():
        key = key_of(dataset, datasets.get(dataset, {}).get("role"))
        if cache.identity.get("label_space") != IMAGENET_1K:
            raise ValueError(f"{PROPERTY}: dataset {dataset!r} has label_space {cache.identity.get('label_space')!r}; "
                             "class balance is defined over the 1000 classes (QUBA: ImageNet val) — list a dataset "
                             "with label_space imagenet1k in properties.class_balance.datasets")
        columns = balance_columns(cache.labels, cache.argmax, cache.p_true)
        for metric in BALANCES:
            outcome = Outcome(np.asarray([str(i) for i in cache.ids]), columns, metric)
            rows.append({"dataset": dataset, "key": key, "metric": metric,
                         "value": STATISTICS[metric](columns), "n": len(cache.ids)})
            outcomes[(dataset, key, metric)] = outcome
        rows.extend(class_rows(dataset, columns))
    return metric_frame([{"model": model, "property": PROPERTY, **row} for row in rows]), outcomes


def table_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The table shows the balances; the per-class rows feed the figure and the cards."""
    return metrics[metrics["metric"] != CLASS_METRIC]


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """QUBA's class balance on ImageNet val."""
    return [role_headline("Class balance (QUBA)", PROPERTY, BALANCE, IMAGENET_VAL, datasets,
                          axis="geometric mean of 1 - spreads: more even over classes →")]
