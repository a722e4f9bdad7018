"""Out-of-distribution detection: how well a classifier's own confidence tells ImageNet-O's images (Hendrycks et al.
2021, "Natural Adversarial Examples") from ImageNet val's.

Protocol of the ImageNet-O paper (its eval_many_models.py): the logits are restricted to the OOD set's label space
(ImageNet-O: its 200 classes) and the in-distribution images are the val images of those classes (10,000 of 50,000);
OOD images are the positives. Scores (higher = more in-distribution, negated into an anomaly score): maximum softmax
probability (Hendrycks & Gimpel 2017), maximum logit (Hendrycks et al. 2022) and energy logsumexp(logits / T) with
T = 1 (Liu et al. 2020; OpenOOD's EBO). Metrics (`stats.detection`, equal to scikit-learn / OpenOOD): AUROC, AUPR
(average precision, the ImageNet-O paper's headline) and FPR at 95 % TPR (OpenOOD's definition, OOD positive).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...catalog.labels import NO_IMAGENET_LABEL, class_subset
from ...catalog.roles import IMAGENET_O, IMAGENET_VAL, datasets_of_role, key_of
from ...stats.statistics import STATISTICS, STRATUM, Outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline

PROPERTY = "ood_detection"
ENERGY_TEMPERATURE = 1.0
SCORES = ("msp", "max_logit", "energy")  # in-distribution confidences; the anomaly score is their negative
METRICS = ("aupr_pct", "auroc_pct", "fpr95_pct")
HEADLINE_SCORE, HEADLINE_METRIC = "msp", "aupr_pct"  # the ImageNet-O paper's AUPR of the softmax baseline
IN_PREFIX, OUT_PREFIX = "in:", "out:"  # image ids of one outcome: val and OOD images never collide


def _logsumexp(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


def confidences(logits: np.ndarray) -> dict[str, np.ndarray]:
    """Per image: maximum softmax probability, maximum logit and energy score T * logsumexp(logits / T)."""
    logits = np.asarray(logits, dtype=np.float64)
    return {"msp": np.exp(logits.max(axis=1) - _logsumexp(logits)), "max_logit": logits.max(axis=1),
            "energy": ENERGY_TEMPERATURE * _logsumexp(logits / ENERGY_TEMPERATURE)}


def scored_classes(label_space: str) -> np.ndarray | None:
    """The classes an OOD set is scored in: its label space's subset, all 1000 for imagenet1k or for a set whose
    classes are not ImageNet's (label_space: none, the usual case for an OOD set of one's own)."""
    return None if label_space == NO_IMAGENET_LABEL else class_subset(label_space)


def in_distribution_rows(labels: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """Rows of the in-distribution set whose label is among the scored classes (all rows for all 1000)."""
    return np.ones(len(labels), dtype=bool) if classes is None else np.isin(labels, classes)


def detection_outcome(in_ids: np.ndarray, in_confidence: np.ndarray, out_ids: np.ndarray,
                      out_confidence: np.ndarray, metric: str) -> Outcome:
    """Per-image columns of one OOD metric: the anomaly score (negated confidence) and whether the image is OOD."""
    ids = np.concatenate([[IN_PREFIX + str(i) for i in in_ids], [OUT_PREFIX + str(i) for i in out_ids]])
    ood = np.r_[np.zeros(len(in_ids)), np.ones(len(out_ids))]
    columns = {"score": -np.concatenate([in_confidence, out_confidence]).astype(np.float64), "ood": ood,
               STRATUM: ood.copy()}  # intervals resample each set within itself: the OOD share (AUPR's floor) stays
    return Outcome(ids, columns, metric)


def _in_distribution(merged: dict, datasets: dict) -> tuple[str, CachedOutputs]:
    found = [d for d in datasets_of_role(datasets, IMAGENET_VAL) if any(k[0] == d for k in merged)]
    if not found:
        raise ValueError(f"{PROPERTY}: no dataset of its list declares role: {IMAGENET_VAL} (the in-distribution "
                         "images); add the ImageNet val dataset to properties.ood_detection.datasets")
    return found[0], next(c for (d, _), c in merged.items() if d == found[0])


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: AUPR, AUROC and FPR95 of each confidence score, per OOD dataset against val."""
    merged = merge_parts(caches)
    val_id, val = _in_distribution(merged, datasets)
    rows, outcomes = [], {}
    for (dataset, _), ood in merged.items():
        if dataset == val_id:
            continue
        classes = scored_classes(ood.identity["label_space"])
        inside = in_distribution_rows(val.labels, classes)
        if not inside.any():
            raise ValueError(f"{PROPERTY}: no image of {val_id} has a label among the {len(classes)} classes of "
                             f"{dataset} (label_space {ood.identity['label_space']}); nothing is in-distribution")
        columns = slice(None) if classes is None else classes
        scores_in = confidences(val.logits[inside][:, columns])
        scores_out = confidences(ood.logits[:, columns])
        key = key_of(dataset, datasets.get(dataset, {}).get("role"))
        for score in SCORES:
            for metric in METRICS:
                outcome = detection_outcome(val.ids[inside], scores_in[score], ood.ids, scores_out[score], metric)
                outcome_key = f"{key}/{score}"
                rows.append({"model": model, "property": PROPERTY, "dataset": dataset, "key": outcome_key,
                             "metric": metric, "value": STATISTICS[metric](outcome.columns),
                             "n": len(outcome.ids)})
                outcomes[(dataset, outcome_key, metric)] = outcome
    return metric_frame(rows), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """ImageNet-O AUPR of the maximum softmax probability (the ImageNet-O paper's number)."""
    label = "ImageNet-O AUPR (%)"
    found = datasets_of_role(datasets, IMAGENET_O)
    if not found:
        return [Headline(label, PROPERTY, f"{IMAGENET_O}/{HEADLINE_SCORE}", HEADLINE_METRIC,
                         missing=f"no dataset of properties.{PROPERTY}.datasets declares role: {IMAGENET_O}")]
    return [Headline(label, PROPERTY, f"{IMAGENET_O}/{HEADLINE_SCORE}", HEADLINE_METRIC, dataset=found[0],
                     axis="AUPR (%), OOD positive: OOD images found more surely →")]
