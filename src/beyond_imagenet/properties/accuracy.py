"""Top-k accuracy in the ImageNet-1k label space (Russakovsky et al. 2015, ILSVRC)."""

from __future__ import annotations

import numpy as np
import pandas as pd



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


def restrict_to(logits: np.ndarray, class_subset: np.ndarray | None) -> np.ndarray:
    """Logits outside the label space set to -inf, so neither argmax nor top-k can pick them."""
    if class_subset is None:
        return logits
    masked = np.full_like(logits, -np.inf)
    masked[:, class_subset] = logits[:, class_subset]
    return masked


def accuracy_rows(model: str, dataset: str, logits: np.ndarray, labels: np.ndarray,
                  class_subset: np.ndarray | None = None) -> pd.DataFrame:
    """Tidy rows: top-1 and top-5 accuracy (%) of one model on one dataset, within its label space."""
    restricted = restrict_to(logits, class_subset)
    rows = [{"model": model, "property": "accuracy", "dataset": dataset, "key": dataset,
             "metric": f"top{k}_pct", "value": topk_accuracy_pct(restricted, labels, k), "n": len(labels)}
            for k in (1, 5)]
    return pd.DataFrame(rows)
