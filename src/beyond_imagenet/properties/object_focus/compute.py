"""Object focus (Xiao et al. 2021, "Noise or Signal: The Role of Image Backgrounds in Object Recognition"): top-1 of
an ImageNet classifier on the ImageNet-9 variants original, only-FG (background black), mixed-same (the object on a
background of its class) and mixed-rand (on a background of a random class); the BG-gap = mixed-same - mixed-rand
(lower: the model leans less on the background); and QUBA's object focus 1 - BG-gap / ImageNet top-1 (Hesse et al.
2025), where the property also reads the ImageNet val dataset.

Decision (the challenge's in9_eval.py): argmax over the 1000 outputs, mapped through in_to_in9.json; a class outside
IN-9 (-1) is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...catalog.class_maps import in_to_in9
from ...catalog.roles import IMAGENET_9, IMAGENET_VAL, datasets_of_role
from ...data.formats import IN9_VARIANTS
from ...stats.statistics import STATISTICS, STRATUM, Outcome, correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline

PROPERTY = "object_focus"
GAP_KEY, FOCUS_KEY = "bg_gap", "object_focus"
SAME, RAND = "mixed_same", "mixed_rand"


def in9_correct(argmax: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per image: does the model's top-1 ImageNet class map to the image's IN-9 class (0..8)."""
    return in_to_in9()[np.asarray(argmax, dtype=np.int64)] == np.asarray(labels, dtype=np.int64)


def variant_of(ids: np.ndarray) -> np.ndarray:
    """The variant folder of each IN-9 image id (`<variant>/val/<class>/<image>`)."""
    return np.array([str(i).partition("/")[0] for i in ids])


def _gap_columns(correct: np.ndarray, variants: np.ndarray, reference: np.ndarray | None = None) -> dict:
    """Per image: right or not, which side of the gap it is on, and (object focus) whether it is an ImageNet image;
    the stratum keeps each group's size in a bootstrap draw."""
    columns = {"correct": correct.astype(float), "first": (variants == SAME).astype(float),
               "second": (variants == RAND).astype(float)}
    columns[STRATUM] = columns["second"].copy()
    if reference is not None:
        columns["reference"] = reference.astype(float)
        columns[STRATUM] += 2.0 * columns["reference"]
    return columns


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: top-1 per IN-9 variant, the BG-gap and (with ImageNet val) QUBA's object focus."""
    merged = merge_parts(caches)
    val_ids = datasets_of_role(datasets, IMAGENET_VAL)
    val = next((c for (d, _), c in merged.items() if d in val_ids), None)
    rows, outcomes = [], {}
    for (dataset, _), cache in merged.items():
        if dataset in val_ids:
            continue
        correct, variants = in9_correct(cache.argmax, cache.labels), variant_of(cache.ids)
        for variant in IN9_VARIANTS:
            member = variants == variant
            if not member.any():
                continue  # a copy without this variant's images: no row, rather than a rate of nothing
            outcome = correct_outcome(cache.ids[member], correct[member])
            rows.append({"dataset": dataset, "key": variant, "metric": "top1_pct", "value": outcome.value(),
                         "n": int(member.sum())})
            outcomes[(dataset, variant, "top1_pct")] = outcome
        pair = (variants == SAME) | (variants == RAND)
        if not ((variants == SAME).any() and (variants == RAND).any()):
            continue  # a copy without mixed-same or mixed-rand images has no BG-gap (and no object focus)
        gap = Outcome(cache.ids[pair], _gap_columns(correct[pair], variants[pair]), "gap_pct")
        rows.append({"dataset": dataset, "key": GAP_KEY, "metric": "gap_pct", "value": gap.value(),
                     "n": int(pair.sum())})
        outcomes[(dataset, GAP_KEY, "gap_pct")] = gap
        if val is not None and len(val.ids):
            val_correct = val.argmax.astype(np.int64) == val.labels
            focus = Outcome(np.concatenate([cache.ids[pair], ["val:" + str(i) for i in val.ids]]),
                            _gap_columns(np.r_[correct[pair], val_correct],
                                         np.r_[variants[pair], np.full(len(val.ids), "val")],
                                         np.r_[np.zeros(int(pair.sum())), np.ones(len(val.ids))]), "object_focus")
            rows.append({"dataset": dataset, "key": FOCUS_KEY, "metric": "object_focus",
                         "value": STATISTICS["object_focus"](focus.columns), "n": len(focus.ids)})
            outcomes[(dataset, FOCUS_KEY, "object_focus")] = focus
    return metric_frame([{"model": model, "property": PROPERTY, **row} for row in rows]), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """The BG-gap (mixed-same - mixed-rand top-1, points; lower = less reliance on the background)."""
    found = datasets_of_role(datasets, IMAGENET_9)
    label = "BG-gap, IN-9 (points)"
    if not found:
        return [Headline(label, PROPERTY, GAP_KEY, "gap_pct", better="lower",
                         missing=f"no dataset of properties.{PROPERTY}.datasets declares role: {IMAGENET_9}")]
    return [Headline(label, PROPERTY, GAP_KEY, "gap_pct", better="lower", dataset=found[0],
                     axis="← points lost when the background is another class's")]
