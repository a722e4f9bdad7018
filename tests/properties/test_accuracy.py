"""Top-k accuracy by hand, and the paper comparison only for the paper's own models."""

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.properties.accuracy.compute import topk_accuracy_pct, topk_correct
from beyond_imagenet.report.tables import with_paper_values


def test_topk_by_hand():
    logits = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
    labels = np.array([1, 1, 0, 2])
    assert topk_correct(logits, labels, 1).tolist() == [True, False, False, False]
    assert topk_correct(logits, labels, 2).tolist() == [True, True, False, False]
    assert topk_accuracy_pct(logits, labels, 1) == 25.0
    assert topk_accuracy_pct(logits, labels, 3) == 100.0


def test_top1_ties_take_the_first_maximum():
    logits = np.array([[1.0, 1.0, 0.0]])
    assert topk_correct(logits, np.array([0]), 1).tolist() == [True]
    assert topk_correct(logits, np.array([1]), 1).tolist() == [False]


def test_mismatched_rows_fail():
    with pytest.raises(ValueError, match="3 logit rows but 2 labels"):
        topk_correct(np.zeros((3, 5)), np.zeros(2, dtype=int), 1)


def _metrics(model: str) -> pd.DataFrame:
    return pd.DataFrame([{"model": model, "property": "accuracy", "dataset": "imagenet_val",
                          "key": "imagenet_val", "metric": "top1_pct", "value": 85.0, "n": 50000}])


def test_paper_value_joined_for_paper_model_only():
    paper = ModelSpec(id="mine", source="timm", name="deit3_base_patch16_224.fb_in22k_ft_in1k", weights="hub")
    other = ModelSpec(id="vit_sup", source="timm", name="test_vit.r160_in1k", weights="x.pt")
    table = with_paper_values(pd.concat([_metrics("mine"), _metrics("vit_sup")]), {"mine": paper, "vit_sup": other})
    mine, impostor = table.iloc[0], table.iloc[1]
    assert mine["paper"] == 85.5 and mine["diff"] == pytest.approx(-0.5)
    assert np.isnan(impostor["paper"])  # same id as a paper model, but not the paper's weights
