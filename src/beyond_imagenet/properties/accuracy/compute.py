"""Top-k accuracy in the ImageNet-1k label space (Russakovsky et al. 2015, ILSVRC)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...catalog.labels import class_subset, restrict
from ...catalog.roles import IMAGENET_VAL, key_of
from ...stats.statistics import correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline, role_headline


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per image: is the label among the k highest logits."""
    if logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{logits.shape[0]} logit rows but {labels.shape[0]} labels")
    if k == 1:  # argmax takes the first of tied maxima, as torch/timm do
        return logits.argmax(axis=1) == labels
    if k >= logits.shape[1]:
        return np.ones(len(labels), dtype=bool)
    top = np.argpartition(-logits, kth=k - 1, axis=1)[:, :k]
    return (top == labels[:, None]).any(axis=1)


def topk_accuracy_pct(logits: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy in percent."""
    return float(100.0 * topk_correct(logits, labels, k).mean())


def accuracy_rows(model: str, dataset: str, logits: np.ndarray, labels: np.ndarray,
                  class_subset: np.ndarray | None = None, key: str | None = None) -> pd.DataFrame:
    """Tidy rows: top-1 and top-5 accuracy (%) of one model on one dataset, within its label space; keyed `key`
    (the dataset's role), else by the dataset id."""
    restricted = restrict(logits, labels, class_subset)
    rows = [{"model": model, "property": "accuracy", "dataset": dataset, "key": key or dataset,
             "metric": f"top{k}_pct", "value": topk_accuracy_pct(restricted.logits, restricted.labels, k),
             "n": len(labels)}
            for k in (1, 5)]
    return metric_frame(rows)


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: top-1/top-5 per dataset in its label space, and the per-image top-1 behind each top-1 row."""
    frames, outcomes = [], {}
    for (dataset, _), c in merge_parts(caches).items():
        key = key_of(dataset, datasets.get(dataset, {}).get("role"))
        restricted = restrict(c.logits, c.labels, class_subset(c.identity["label_space"]))
        frames.append(accuracy_rows(model, dataset, restricted.logits, restricted.labels, key=key))
        outcomes[(dataset, key, "top1_pct")] = correct_outcome(c.ids, topk_correct(restricted.logits,
                                                                            restricted.labels, 1))
    return pd.concat(frames, ignore_index=True), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """ImageNet top-1 on the dataset with role imagenet_val (Table 1's accuracy)."""
    return [role_headline("ImageNet top-1 (%)", "accuracy", "top1_pct", IMAGENET_VAL, datasets,
                          axis="top-1 (%): more images right →")]
