"""Shape vs texture bias on cue-conflict images (Geirhos et al., ICLR 2019; model-vs-human, NeurIPS 2021).

Cue-conflict images carry the shape of one of 16 categories and the texture of another; the file
`<shape>/<shape><i>-<texture><j>.png` names both. A model's decision is one of the 16 categories:
softmax over the 1000 ImageNet logits, each category gets the MEAN probability of its member indices
(model-vs-human's `ImageNetProbabilitiesTo16ClassesMapping`, not the sum, which would favour the
categories with many indices: dog has 109, knife 1), then argmax.

Metrics (all fractions, the scale of paper_values.csv; key "cue_conflict" for the whole set, key =
shape category for the per-category rows):

- `shape_bias` = #shape decisions / (#shape + #texture decisions) over the images whose shape and
  texture differ ("scored" images: 1,200 of 1,280); decisions that are neither are ignored.
- `shape_fraction`, `texture_fraction`, `other_fraction`: shares of the scored images (sum to 1).
  model-vs-human's "fraction-correct-shape" divides by all 1,280 images instead; the ratio is the same.
- `shape_decisions`, `texture_decisions`, `other_decisions`: the counts behind them.
- `accuracy_16class` (overall only): share of ALL images, the 80 shape == texture ones included,
  whose decision is the SHAPE category, i.e. model-vs-human's `SixteenClassAccuracy`
  (`object_response == category`, with `category` = the image's folder = its shape).
  Evidence: (1) model-vs-human scores cue-conflict with `Accuracy(topk=1)` against the ImageFolder
  target (the folder, i.e. the shape) and its analysis counts `object_response == category` over
  every row; (2) the paper's four values (0.3242, 0.3055, 0.3898, 0.2930, recomputed from the
  authors' per-image outputs) are k/1280 for integers k = 415, 391, 499, 375, while three of them
  are no k/1200; (3) a texture-also-counts reading would make ViT-sup (shape bias 0.399) answer
  neither cue on ~70% of the images, far from the ~20% such models show.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ...stats.statistics import Outcome, correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from ...store.scores import softmax
from .._registry import Headline, first_dataset_headline

log = logging.getLogger(__name__)

PROPERTY = "shape_bias"
OVERALL_KEY = "cue_conflict"  # paper_values.csv key of the whole-set metrics, whatever the dataset id
CATEGORY_FILE = "cue_conflict_16_categories.csv"
NUM_CATEGORIES = 16
NUM_CLASSES = 1000
# `<shape><i>-<texture><j>.png`; category names hold no digits, so the digits end each name.
FILE_PATTERN = re.compile(r"^(?P<shape>[^\W\d]+)\d+-(?P<texture>[^\W\d]+)\d+\.png$")
DECISION_KINDS = ("shape", "texture", "other")


@lru_cache(maxsize=1)
def category_indices() -> dict[str, np.ndarray]:
    """The 16 cue-conflict categories (package CSV order) → their ImageNet-1k indices (model-vs-human's mapping)."""
    with resources.files("beyond_imagenet.catalog.files").joinpath(CATEGORY_FILE).open() as handle:
        table = pd.read_csv(handle)
    if list(table.columns) != ["category", "imagenet_index"]:
        raise ValueError(f"{CATEGORY_FILE}: columns {list(table.columns)}, expected ['category', 'imagenet_index']")
    mapping = {str(c): group["imagenet_index"].to_numpy(dtype=np.int64)
               for c, group in table.groupby("category", sort=False)}
    if len(mapping) != NUM_CATEGORIES:
        raise ValueError(f"{CATEGORY_FILE}: {len(mapping)} categories {sorted(mapping)}, expected {NUM_CATEGORIES}")
    indices = table["imagenet_index"]
    if not indices.between(0, NUM_CLASSES - 1).all():
        raise ValueError(f"{CATEGORY_FILE}: index {indices[~indices.between(0, NUM_CLASSES - 1)].iloc[0]} "
                         f"is outside 0..{NUM_CLASSES - 1}")
    if indices.duplicated().any():
        twice = indices[indices.duplicated()].iloc[0]
        raise ValueError(f"{CATEGORY_FILE}: index {twice} belongs to "
                         f"{sorted(table.loc[indices == twice, 'category'])}; each index may have one category")
    for array in mapping.values():
        array.flags.writeable = False  # shared by the cache
    return mapping


def categories() -> list[str]:
    """The 16 category names in decision-column order."""
    return list(category_indices())


def category_probabilities(logits: np.ndarray) -> np.ndarray:
    """N×16: mean softmax probability of each category's member indices (model-vs-human's decision mapping)."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] != NUM_CLASSES:
        raise ValueError(f"logits of shape {logits.shape}: expected N×{NUM_CLASSES} ImageNet-1k logits")
    probabilities = softmax(logits)
    return np.stack([probabilities[:, idx].mean(axis=1) for idx in category_indices().values()], axis=1)


def decisions(logits: np.ndarray) -> np.ndarray:
    """Per image, the category with the highest mean probability (first in CSV order on ties)."""
    return np.array(categories())[category_probabilities(logits).argmax(axis=1)]


def parse_cue_conflict_id(image_id: str) -> tuple[str, str]:
    """(shape, texture) of a root-relative id like 'airplane/airplane1-bicycle2.png'."""
    folder, _, name = str(image_id).rpartition("/")
    match = FILE_PATTERN.match(name)
    if match is None:
        raise ValueError(f"cue-conflict image {image_id!r}: file name is not '<shape><i>-<texture><j>.png' "
                         "(e.g. 'airplane1-bicycle2.png')")
    shape, texture = match["shape"], match["texture"]
    if folder.rpartition("/")[2] != shape:
        raise ValueError(f"cue-conflict image {image_id!r}: folder {folder!r} disagrees with the file name's "
                         f"shape {shape!r}; images live in their shape category's folder")
    known = category_indices()
    for role, category in (("shape", shape), ("texture", texture)):
        if category not in known:
            raise ValueError(f"cue-conflict image {image_id!r}: {role} {category!r} is not one of the 16 "
                             f"categories {list(known)}")
    return shape, texture


def decision_kinds(shapes: np.ndarray, textures: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """Per image: 'shape', 'texture' or 'other', by which cue the decision names."""
    return np.where(decided == shapes, "shape", np.where(decided == textures, "texture", "other"))


def shape_bias_value(kinds: np.ndarray, where: str) -> float:
    """#shape / (#shape + #texture) over already-scored images; NaN with a warning if the denominator is 0."""
    shape, texture = int(np.sum(kinds == "shape")), int(np.sum(kinds == "texture"))
    if shape + texture == 0:
        log.warning("%s: no decision names the shape or the texture of its image; shape bias is NaN", where)
        return float("nan")
    return shape / (shape + texture)


def _row(model: str, dataset: str, key: str, metric: str, value: float, n: int) -> dict:
    """One tidy metric row of this property."""
    return {"model": model, "property": PROPERTY, "dataset": dataset, "key": key, "metric": metric,
            "value": float(value), "n": int(n)}


def _cue_rows(model: str, dataset: str, key: str, kinds: np.ndarray) -> list[dict]:
    """shape_bias, the three decision counts and their fractions, over scored images `kinds`."""
    n = len(kinds)
    rows = [_row(model, dataset, key, "shape_bias", shape_bias_value(kinds, f"{model}/{dataset}/{key}"), n)]
    for kind in DECISION_KINDS:
        count = int(np.sum(kinds == kind))
        rows.append(_row(model, dataset, key, f"{kind}_decisions", count, n))
        if key == OVERALL_KEY:  # per category the counts say it; the fractions would only repeat them
            rows.append(_row(model, dataset, key, f"{kind}_fraction", count / n if n else float("nan"), n))
    return rows


def shape_bias_rows(model: str, dataset: str, ids: Sequence[str], logits: np.ndarray) -> pd.DataFrame:
    """Tidy rows: shape bias & co. overall (key 'cue_conflict') and per shape category (Geirhos et al. 2019)."""
    return _shape_bias(model, dataset, ids, logits)[0]


def _shape_bias(model: str, dataset: str, ids: Sequence[str], logits: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """The rows and the per-image decisions behind the overall shape_bias and accuracy_16class rows."""

    ids = [str(i) for i in ids]
    if len(ids) != len(logits):
        raise ValueError(f"{len(ids)} image ids but {len(logits)} logit rows for {model}/{dataset}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{model}/{dataset}: image id {pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]!r} "
                         "appears more than once")
    if not ids:
        raise ValueError(f"{model}/{dataset}: no cue-conflict images to score")
    parsed = [parse_cue_conflict_id(i) for i in ids]
    shapes = np.array([s for s, _ in parsed])
    textures = np.array([t for _, t in parsed])
    decided = decisions(logits)
    conflict = shapes != textures  # shape == texture images carry no conflict: dropped from the bias
    kinds = decision_kinds(shapes[conflict], textures[conflict], decided[conflict])
    outcomes = {(dataset, OVERALL_KEY, "shape_bias"): Outcome(
                    np.asarray(ids)[conflict], {"shape": (kinds == "shape").astype(float),
                                                "texture": (kinds == "texture").astype(float)}, "shape_bias"),
                (dataset, OVERALL_KEY, "accuracy_16class"): correct_outcome(ids, decided == shapes, "accuracy")}
    rows = _cue_rows(model, dataset, OVERALL_KEY, kinds)
    rows.append(_row(model, dataset, OVERALL_KEY, "accuracy_16class", np.mean(decided == shapes), len(ids)))
    for category in categories():
        members = shapes[conflict] == category
        if members.any():
            rows.extend(_cue_rows(model, dataset, category, kinds[members]))
    return metric_frame(rows), outcomes


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: shape vs texture decisions on cue-conflict images (ids carry shape and texture)."""
    frames, outcomes = [], {}
    for (dataset, _), c in merge_parts(caches).items():
        rows, found = _shape_bias(model, dataset, c.ids, c.logits)
        frames.append(rows)
        outcomes.update(found)
    return pd.concat(frames, ignore_index=True), outcomes


def table_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per-category rows feed the figure; the table keeps the overall ones."""
    return metrics[metrics["key"] == "cue_conflict"]


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """Shape bias over the whole cue-conflict set."""
    return [first_dataset_headline("shape bias (share of shape decisions)", PROPERTY, OVERALL_KEY, "shape_bias",
                                   datasets, better=None, axis="shape bias: more decisions by shape →")]
