"""Per-image scores derived from logits, computed once where the logits are (the extraction job) and stored beside
them, so a property that needs only these reads a few bytes per image instead of 1000 floats: the top-1 class
(`argmax`, numpy's first maximum) and the softmax probability of the true class (`p_true`, float64). A reader of a
cache made before they were stored computes them from the logits with the same functions, to the bit."""

from __future__ import annotations

import numpy as np

from ..catalog.labels import NO_IMAGENET_LABEL

SOFTMAX_ROWS = 4096  # rows per chunk: float64 work arrays of ~30 MB, not one of 400 MB for 50k x 1000 (rows are
# independent, so a row's value is the same in any chunking)


def has_class_labels(label_space: str | None, labels: np.ndarray, multi_label: bool, num_classes: int) -> bool:
    """Whether each image's label is one of the model's `num_classes` classes, so that its true-class probability
    is defined: not a multi-label set, not a set whose classes are not ImageNet's (label_space: none), every label a
    class index."""
    labels = np.asarray(labels)
    in_range = not len(labels) or (int(labels.min()) >= 0 and int(labels.max()) < num_classes)
    return not multi_label and label_space != NO_IMAGENET_LABEL and in_range


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row maximum so exp never overflows."""
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def top1(logits: np.ndarray) -> np.ndarray:
    """The top-1 class of each row (the first of tied maxima, as argmax), as int16."""
    return np.asarray(logits).argmax(axis=1).astype(np.int16)


def true_class_probability(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The softmax probability of each row's label, float64; computed in chunks of rows (each row's value is the
    same as from one softmax over all rows: nothing is summed across rows)."""
    labels = np.asarray(labels)
    out = np.empty(len(labels), dtype=np.float64)
    for start in range(0, len(labels), SOFTMAX_ROWS):
        stop = min(start + SOFTMAX_ROWS, len(labels))
        out[start:stop] = softmax(logits[start:stop])[np.arange(stop - start), labels[start:stop]]
    return out
