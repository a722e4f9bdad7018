"""ObjectNet (Barbu et al. 2019): top-1 of an ImageNet classifier on the images of ObjectNet's 113 classes that have
ImageNet counterparts, through the published ObjectNet -> ImageNet mapping.

The decision (imagenet-testbed's, Taori et al. 2020; used by CLIP-era studies): the model's 1000 outputs restricted
to the 125 ImageNet classes the 113 stand for, argmax, and right when that class stands for the image's ObjectNet
class. The images are read with their red border cut (data.formats.OBJECTNET_BORDER).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...catalog.class_maps import objectnet_decision_map
from ...catalog.roles import OBJECTNET, key_of
from ...stats.statistics import correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline, role_headline

PROPERTY = "objectnet"


def objectnet_correct(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per image: does the argmax over the mapped ImageNet classes stand for the image's ObjectNet class (0..112)."""
    columns, objectnet_class = objectnet_decision_map()
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > objectnet_class.max()):
        raise ValueError(f"ObjectNet labels must be class numbers 0..{objectnet_class.max()}, found "
                         f"{int(labels.min())}..{int(labels.max())}: list the dataset with format objectnet")
    return objectnet_class[np.asarray(logits)[:, columns].argmax(axis=1)] == labels


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: ObjectNet top-1 per dataset, and its per-image outcome."""
    rows, outcomes = [], {}
    for (dataset, _), cache in merge_parts(caches).items():
        key = key_of(dataset, datasets.get(dataset, {}).get("role"))
        correct = objectnet_correct(cache.logits, cache.labels)
        rows.append({"model": model, "property": PROPERTY, "dataset": dataset, "key": key, "metric": "top1_pct",
                     "value": 100.0 * float(correct.mean()), "n": len(correct)})
        outcomes[(dataset, key, "top1_pct")] = correct_outcome(cache.ids, correct)
    return metric_frame(rows), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """ObjectNet top-1 (%) on the dataset with role objectnet."""
    return [role_headline("ObjectNet top-1 (%)", PROPERTY, "top1_pct", OBJECTNET, datasets,
                          axis="top-1 (%) on the 113 overlapping classes →")]
