"""Class balance equals QUBA's computation (torchmetrics-style per-class accuracy with torch.std, per-class np.std of
the true-class probability, scipy's gmean) on the same per-image results."""

import numpy as np
import pytest
import torch
from scipy.stats.mstats import gmean

from beyond_imagenet.properties.class_balance.compute import compute, table_rows
from beyond_imagenet.stats.statistics import (
    class_accuracy_balance,
    class_balance,
    class_confidence_balance,
)
from beyond_imagenet.store.cache import CachedOutputs


def _quba(labels, predictions, p_true):
    """visinf/beyond-accuracy helper/benchmarks.py (@f330d7c) test_fair_accuracies / test_fair_confidence on the same
    decisions: confusion rows of the classes present, torch.std (ddof 1); np.std (ddof 0) per class; gmean."""
    classes = np.unique(labels)
    confusion = np.array([[np.sum((labels == t) & (predictions == p)) for p in classes] for t in classes])
    class_acc = torch.diagonal(torch.tensor(confusion, dtype=torch.float64)) / torch.tensor(confusion.sum(1))
    fair_pred = 1 - torch.std(class_acc).item()
    fair_conf = 1 - np.mean([np.std(p_true[labels == t]) for t in classes])
    return fair_pred, fair_conf, float(gmean([fair_conf, fair_pred]))


def test_equals_quba_on_the_same_results():
    rng = np.random.default_rng(0)
    labels = rng.choice([3, 17, 250, 999], 400)
    predictions = np.where(rng.random(400) < 0.7, labels, 17)
    p_true = rng.random(400)
    columns = {"class": labels.astype(float), "correct": (predictions == labels).astype(float), "p_true": p_true}
    fair_pred, fair_conf, balance = _quba(labels, predictions, p_true)
    assert class_accuracy_balance(columns) == pytest.approx(fair_pred, abs=1e-12)
    assert class_confidence_balance(columns) == pytest.approx(fair_conf, abs=1e-12)
    assert class_balance(columns) == pytest.approx(balance, abs=1e-12)


def test_perfectly_even_classes_have_balance_one():
    columns = {"class": np.repeat([1.0, 2.0, 3.0], 2), "correct": np.tile([1.0, 0.0], 3), "p_true": np.full(6, 0.4)}
    assert class_accuracy_balance(columns) == 1.0 and class_confidence_balance(columns) == 1.0


def test_compute_keeps_every_class_for_the_figure_and_the_balances_for_the_table():
    labels = np.array([0, 0, 1, 1, 1])
    logits = np.zeros((5, 1000), np.float32)
    logits[np.arange(5), [0, 5, 1, 1, 1]] = 3.0
    cache = CachedOutputs(logits, labels, np.array(list("abcde"), object), None,
                          {"dataset": "val", "view": "standard", "part": None, "label_space": "imagenet1k"})
    rows, outcomes = compute("m", [cache], {}, {"val": {"role": "imagenet_val"}})
    per_class = rows[rows["metric"] == "class_top1_pct"]
    assert dict(zip(per_class["key"], per_class["value"])) == {"class/n01440764": 50.0, "class/n01443537": 100.0}
    assert set(table_rows(rows)["metric"]) == {"class_balance", "class_accuracy_balance", "class_confidence_balance"}
    assert set(outcomes) == {("val", "imagenet_val", m) for m in
                             ("class_balance", "class_accuracy_balance", "class_confidence_balance")}


def test_one_class_has_no_spread_over_classes():
    columns = {"class": np.array([4.0, 4.0]), "correct": np.array([1.0, 0.0]), "p_true": np.array([0.2, 0.4])}
    assert np.isnan(class_accuracy_balance(columns)) and np.isnan(class_balance(columns))


def test_a_set_restricted_to_a_subset_is_refused_by_name():
    cache = CachedOutputs(np.zeros((2, 1000), np.float32), np.array([1, 2]), np.array(["a", "b"], object), None,
                          {"dataset": "renditions", "view": "standard", "part": None, "label_space": "imagenet_r"})
    with pytest.raises(ValueError, match="'renditions' has label_space 'imagenet_r'"):
        compute("m", [cache], {}, {"renditions": {}})
