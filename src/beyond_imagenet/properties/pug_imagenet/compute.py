"""PUG-ImageNet: top-1 accuracy on photorealistic renders swept along 10 factors (Bordes et al., NeurIPS 2023).

Used by Vishniakov et al. (ICML 2024, "Synthetic data" section): a model's argmax over the 1000
ImageNet logits is mapped to one of PUG's 151 classes through the inverted class → ImageNet-indices
dict (`data/pug_class_to_imagenet_idx.json`, 151 classes → 177 indices); an index outside the dict
is wrong. Accuracy is reported per factor folder and as "average" = mean of the 10 factor accuracies.

Layout: 10 ImageFolder trees `<root>/<Factor>/<class_name>/*.png`; ids are root-relative
(`Object_Yaw/Goldfish/xxx.png`). The class folder is the ground truth: the cache's `labels` are
ImageNet indices and carry no meaning for PUG, so they are never read here.

The 841 trap: ImageNet index 841 ("sweatshirt") is listed under both "Shirt" and "Sweatshirt". The
paper's code sorts the dict by key, `dict(sorted(labels.items()))`, then inverts it with later keys
overwriting earlier ones, so 841 → "Sweatshirt" and a "Shirt" image can never be right (its only
index is 841). NB: in the JSON *file* order "Sweatshirt" (position 100) precedes "Shirt" (101), so an
inversion without the sort would give the opposite. We reproduce the paper knowingly (`top1_pct`) and
also report `top1_pct_corrected`, where a shared index counts for every class that owns it.

Per-value accuracy (`top1_pct_by_value`) takes a table in this package's format: columns `id,value`,
`id` = the root-relative image path as in the cache, `value` = the swept factor's value for that image
(yaw angle, world name, ...). PUG's own `labels_pug_imagenet.csv` (columns `filename, world_name,
character_name, character_label, character_rotation_yaw/roll/pitch, character_scale,
camera_roll/pitch/yaw, character_texture, scene_light`) must be converted first:
`pug_annotation_values` does so by joining on file name and picking the factor's column.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ...stats.statistics import MeanOf, correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline, first_dataset_headline

log = logging.getLogger(__name__)

PROPERTY = "pug_imagenet"
# The paper's dataset_names order (also the figure's bar order).
FACTORS: tuple[str, ...] = (
    "Worlds", "Camera_Pitch", "Camera_Yaw", "Camera_Roll", "Object_Pitch",
    "Object_Yaw", "Object_Roll", "Object_Scale", "Object_Texture", "Scene_Light",
)
AVERAGE_KEY = "average"
METRIC = "top1_pct"  # the paper's scoring (841 → Sweatshirt only)
CORRECTED_METRIC = "top1_pct_corrected"  # a shared index counts for each class owning it
BY_VALUE_METRIC = "top1_pct_by_value"  # paper scoring along a factor's values, key "<Factor>=<value>"
MAPPING_PACKAGE = "beyond_imagenet.catalog.files"
MAPPING_FILE = "pug_class_to_imagenet_idx.json"
NUM_IMAGENET_CLASSES = 1000
# PUG's annotation CSV: the file-name column and the column holding each factor folder's swept value.
PUG_FILENAME_COLUMN = "filename"
PUG_FACTOR_COLUMNS: dict[str, str] = {
    "Worlds": "world_name", "Camera_Pitch": "camera_pitch", "Camera_Yaw": "camera_yaw",
    "Camera_Roll": "camera_roll", "Object_Pitch": "character_rotation_pitch",
    "Object_Yaw": "character_rotation_yaw", "Object_Roll": "character_rotation_roll",
    "Object_Scale": "character_scale", "Object_Texture": "character_texture", "Scene_Light": "scene_light",
}


@lru_cache(maxsize=4)
def _file_mapping(class_map: str | None = None) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The class map JSON in file order (default: the shipped PUG-ImageNet one), frozen for the cache."""
    if class_map is None:
        text = resources.files(MAPPING_PACKAGE).joinpath(MAPPING_FILE).read_text()
    else:
        text = Path(class_map).read_text()
    return tuple((name, tuple(int(i) for i in idxs)) for name, idxs in json.loads(text).items())


@lru_cache(maxsize=4)
def _class_names(class_map: str | None = None) -> frozenset[str]:
    """The PUG class names, for fast membership checks over ~88k ids."""
    return frozenset(name for name, _ in _file_mapping(class_map))


def class_to_indices(class_map: str | None = None) -> dict[str, list[int]]:
    """PUG class → ImageNet-1k indices, keys sorted as the paper's `dict(sorted(labels.items()))`.

    class_map: path of another class_to_imagenet_idx.json (the demo world ships its own); None = PUG's.
    """
    return {name: list(idxs) for name, idxs in sorted(_file_mapping(class_map))}


def pug_classes(class_map: str | None = None) -> list[str]:
    """The PUG classes in ImageFolder order (sorted keys of the mapping)."""
    return list(class_to_indices(class_map))


def paper_inverse(class_map: str | None = None) -> dict[int, str]:
    """ImageNet index → PUG class exactly as the paper inverts it: sorted keys, the later key wins a shared index."""
    return {idx: name for name, idxs in class_to_indices(class_map).items() for idx in idxs}


def owners(class_map: str | None = None) -> dict[int, set[str]]:
    """ImageNet index → every PUG class that lists it (841 → {"Shirt", "Sweatshirt"})."""
    table: dict[int, set[str]] = {}
    for name, idxs in class_to_indices(class_map).items():
        for idx in idxs:
            table.setdefault(idx, set()).add(name)
    return table


def _argmax(logits: np.ndarray) -> np.ndarray:
    """Top-1 ImageNet index per row of an N×1000 logit array."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(f"PUG-ImageNet needs N×{NUM_IMAGENET_CLASSES} ImageNet logits, got shape {logits.shape}; "
                         "extract PUG with the full 1000-class head (no label-space restriction)")
    return logits.argmax(axis=1)


def _check_classes(true_classes: Sequence[str], n: int, class_map: str | None = None) -> np.ndarray:
    """True classes as an object array, one per logit row, each a known PUG class."""
    classes = np.asarray(list(true_classes), dtype=object)
    if len(classes) != n:
        raise ValueError(f"{n} logit rows but {len(classes)} true classes")
    unknown = sorted(str(c) for c in set(classes) - _class_names(class_map))
    if unknown:
        raise ValueError(f"unknown PUG class(es) {unknown[:5]}; classes are the keys of {MAPPING_FILE}")
    return classes


def pug_predictions(logits: np.ndarray, class_map: str | None = None) -> np.ndarray:
    """Predicted PUG class per image (object array; None where the argmax is no PUG class's index)."""
    inverse = paper_inverse(class_map)
    return np.array([inverse.get(int(i)) for i in _argmax(logits)], dtype=object)


def correct_paper(logits: np.ndarray, true_classes: Sequence[str], class_map: str | None = None) -> np.ndarray:
    """Correctness as Vishniakov et al. score PUG-ImageNet (index 841 counts for "Sweatshirt" only)."""
    classes = _check_classes(true_classes, len(np.asarray(logits)), class_map)
    predictions = pug_predictions(logits, class_map)
    return np.array([p is not None and p == t for p, t in zip(predictions, classes)], dtype=bool)


def correct_corrected(logits: np.ndarray, true_classes: Sequence[str], class_map: str | None = None) -> np.ndarray:
    """Correctness where a predicted index counts for every PUG class that lists it (fixes the 841 collision)."""
    classes = _check_classes(true_classes, len(np.asarray(logits)), class_map)
    table = owners(class_map)
    return np.array([t in table.get(int(i), ()) for i, t in zip(_argmax(logits), classes)], dtype=bool)


def parse_pug_id(image_id: str, class_map: str | None = None) -> tuple[str, str, str]:
    """(factor, class_name, file_name) of a root-relative id `<Factor>/<class_name>/<file>`."""
    parts = PurePosixPath(str(image_id)).parts
    if len(parts) != 3:
        raise ValueError(f"PUG-ImageNet id {image_id!r} is not '<Factor>/<class_name>/<file>'; "
                         "extract with the PUG-ImageNet root (the folder holding the 10 factor folders) as root")
    factor, class_name, file_name = parts
    if factor not in FACTORS:
        raise ValueError(f"unknown PUG-ImageNet factor {factor!r} in id {image_id!r}; expected one of {list(FACTORS)}")
    if class_name not in _class_names(class_map):
        raise ValueError(f"unknown PUG-ImageNet class {class_name!r} in id {image_id!r}; "
                         f"classes are the keys of {MAPPING_FILE}")
    return factor, class_name, file_name


def _scored(ids: Sequence[str], logits: np.ndarray, class_map: str | None = None) -> pd.DataFrame:
    """One row per image: id, factor, class, and both correctness flags."""
    if len(ids) != len(np.asarray(logits)):
        raise ValueError(f"{len(ids)} ids but {len(np.asarray(logits))} logit rows")
    parsed = [parse_pug_id(i, class_map) for i in ids]
    classes = [p[1] for p in parsed]
    return pd.DataFrame({"id": [str(i) for i in ids], "factor": [p[0] for p in parsed], "class": classes,
                         "paper": correct_paper(logits, classes, class_map),
                         "corrected": correct_corrected(logits, classes, class_map)})


def _factor_rows(scored: pd.DataFrame, column: str, metric: str, base: dict) -> list[dict]:
    """top-1 (%) per factor present, plus "average" = unweighted mean of those factor accuracies."""
    present = [f for f in FACTORS if (scored["factor"] == f).any()]
    rows = []
    for factor in present:
        flags = scored.loc[scored["factor"] == factor, column]
        rows.append({**base, "key": factor, "metric": metric, "value": 100.0 * float(flags.mean()), "n": len(flags)})
    average = float(np.mean([r["value"] for r in rows])) if rows else np.nan
    rows.append({**base, "key": AVERAGE_KEY, "metric": metric, "value": average, "n": len(scored)})
    return rows


def _format_value(value: object) -> str:
    """A factor value as it appears in a key: whole floats without ".0" (yaw 45.0 → "45")."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _by_value_rows(scored: pd.DataFrame, factor_values: pd.DataFrame, base: dict) -> list[dict]:
    """Paper-scored top-1 (%) per (factor, value), key "<Factor>=<value>", for images with a value."""
    if not {"id", "value"} <= set(factor_values.columns):
        raise ValueError(f"factor_values needs columns 'id' and 'value' (root-relative id, factor value), got "
                         f"{list(factor_values.columns)}; convert PUG's CSV with pug_annotation_values")
    doubled = factor_values["id"][factor_values["id"].duplicated()]
    if len(doubled):
        raise ValueError(f"factor_values lists id {doubled.iloc[0]!r} more than once; give one value per image")
    joined = scored.merge(factor_values[["id", "value"]].astype({"id": str}), on="id", how="inner", validate="1:1")
    log.info("PUG-ImageNet by value: %d of %d images have a factor value", len(joined), len(scored))
    rows = []
    for factor in FACTORS:
        part = joined[joined["factor"] == factor]
        # groupby sorts numerically for numeric values, so keys follow the sweep (yaw 0, 20, 40, ...).
        for value, flags in part.groupby("value", sort=True)["paper"]:
            rows.append({**base, "key": f"{factor}={_format_value(value)}", "metric": BY_VALUE_METRIC,
                         "value": 100.0 * float(flags.mean()), "n": len(flags)})
    return rows


def pug_rows(model: str, dataset: str, ids: Sequence[str], logits: np.ndarray,
             factor_values: pd.DataFrame | None = None, class_map: str | None = None) -> pd.DataFrame:
    """Tidy rows: top1_pct (paper scoring) and top1_pct_corrected per factor + average; optionally by value.

    factor_values: columns `id,value` (module docstring); PUG's own annotation CSV must be converted
    to that format first (pug_annotation_values).
    """
    return _pug_rows(model, dataset, _scored(ids, logits, class_map), factor_values)


def _pug_rows(model: str, dataset: str, scored: pd.DataFrame, factor_values: pd.DataFrame | None) -> pd.DataFrame:
    """pug_rows from the per-image scoring table."""
    missing = [f for f in FACTORS if f not in set(scored["factor"])]
    if missing:
        log.warning("PUG-ImageNet: no images for factor(s) %s; 'average' is the mean of the %d present",
                    missing, len(FACTORS) - len(missing))
    log.info("PUG-ImageNet: %s reproduces the paper's inversion (ImageNet 841 → 'Sweatshirt' only, so 'Shirt' "
             "is never right); %s counts 841 for both", METRIC, CORRECTED_METRIC)
    base = {"model": model, "property": PROPERTY, "dataset": dataset}
    rows = _factor_rows(scored, "paper", METRIC, base) + _factor_rows(scored, "corrected", CORRECTED_METRIC, base)
    if factor_values is not None:
        rows += _by_value_rows(scored, factor_values, base)
    return metric_frame(rows)


def pug_annotation_values(annotations: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    """Convert PUG's annotation CSV to `id,value`: join each id's file name, take its factor's column."""
    needed = [PUG_FILENAME_COLUMN, *PUG_FACTOR_COLUMNS.values()]
    absent = [c for c in needed if c not in annotations.columns]
    if absent:
        raise ValueError(f"PUG annotation table lacks columns {absent}; expected PUG's labels_pug_imagenet.csv")
    names = annotations[PUG_FILENAME_COLUMN].map(lambda f: PurePosixPath(str(f)).name)
    doubled = names[names.duplicated()]
    if len(doubled):
        raise ValueError(f"file name {doubled.iloc[0]!r} occurs more than once in the PUG annotation table; "
                         "a join on file names would be ambiguous")
    by_name = annotations.set_index(names)
    rows = []
    for image_id in ids:
        factor, _, file_name = parse_pug_id(image_id)
        if file_name in by_name.index:
            rows.append({"id": str(image_id), "value": by_name.at[file_name, PUG_FACTOR_COLUMNS[factor]]})
    log.info("PUG annotations: %d of %d ids found by file name", len(rows), len(ids))
    return pd.DataFrame(rows, columns=["id", "value"])


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: top-1 per PUG factor (paper scoring and corrected), and along factor values when given;
    and the per-image top-1 (paper scoring) behind each factor's row, their average a mean over the factors."""

    values = settings.get("factor_values")
    table = pd.read_csv(values, dtype=str) if values else None
    frames, outcomes = [], {}
    for (dataset, _), c in merge_parts(caches).items():
        scored = _scored(list(c.ids), c.logits, datasets[dataset].get("class_map"))
        frames.append(_pug_rows(model, dataset, scored, table))
        for factor, part in scored.groupby("factor"):
            outcomes[(dataset, factor, METRIC)] = correct_outcome(part["id"], part["paper"])
        present = [f for f in FACTORS if (scored["factor"] == f).any()]  # the "average" row's factors
        outcomes[(dataset, AVERAGE_KEY, METRIC)] = MeanOf(tuple((dataset, f, METRIC) for f in present))
    return pd.concat(frames, ignore_index=True), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """The mean of the factor accuracies (the paper's scoring)."""
    return [first_dataset_headline("PUG-ImageNet mean top-1 (%)", PROPERTY, AVERAGE_KEY, METRIC, datasets,
                                   axis="mean top-1 (%): more images right →")]
