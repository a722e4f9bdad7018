"""Robustness: top-1 on ImageNet val and 7 shifted sets (V2, A, C, Hard, R, Sketch, ReaL), and their mean.

The set of benchmarks and the unweighted mean over the 7 shifted sets are those of Vishniakov, Shen,
Liu 2024 (Beyond ImageNet Accuracy, Fig. "robustness"). Each benchmark's own scoring rule is cited on
the function that implements it.

A dataset's rows are keyed by its role (the paper's key, `datasets.<id>.role`), or by its id when it declares
none; the mean is over the datasets declaring the 7 shifted roles. ImageNet-C is recognised by its format, ReaL
relabels the dataset with role imagenet_val (or `real_dataset`): no dataset id is special.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from ...catalog.labels import NUM_IMAGENET_CLASSES, class_subset, restrict, timm_info_file
from ...catalog.public_datasets import REAL_SHA256
from ...catalog.roles import IMAGENET_C, IMAGENET_REAL, IMAGENET_VAL, SHIFTED_SETS, datasets_of_role, key_of
from ...stats.statistics import correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline

LOGGER = logging.getLogger(__name__)

PROPERTY = "robustness"
TOP1_METRIC = "top1_pct"
MCE_METRIC = "mce"
CE_METRIC = "ce"
VAL_KEY = IMAGENET_VAL
# The paper's "average" is over these 7 shifted sets only; ImageNet val is shown but not averaged.
SHIFTED_KEYS = SHIFTED_SETS
AVERAGE_KEY = "average_7_shifted"
PARTIAL_SUFFIX = "/partial"  # a partial ImageNet-C run must never join the paper's "imagenet_c" value

TIMM_INFO_PACKAGE = "timm.data._info"  # where timm ships its label files
# ReaL (Beyer et al. 2020): google-research/reassessed-imagenet `real.json`, 388,478 bytes. timm's
# `imagenet_real_labels.json` and imagenet-x's `annotations/imagenet_real_labels.jsonl` (one JSON
# array despite the .jsonl name) are byte-identical copies with digest data_sources.REAL_SHA256.
REAL_PACKAGE_FILE = "imagenet_real_labels.json"
REAL_NUM_IMAGES = 50_000
REAL_FILE_NAME = re.compile(r"^ILSVRC2012_val_(\d{8})\.JPEG$", re.IGNORECASE)

# ImageNet-C (Hendrycks & Dietterich 2019): the 15 benchmark corruptions in the benchmark's order,
# then the 4 held-out "extra" ones, which the paper's number and mCE leave out.
IMAGENET_C_CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
                          "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
                          "elastic_transform", "pixelate", "jpeg_compression")
IMAGENET_C_EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
IMAGENET_C_SEVERITIES = (1, 2, 3, 4, 5)
# AlexNet top-1 error (fraction) per corruption, averaged over the 5 severities (Hendrycks & Dietterich 2019).
ALEXNET_ERRORS = {
    "gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640, "defocus_blur": 0.819880,
    "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360, "snow": 0.866816,
    "frost": 0.826572, "fog": 0.819324, "brightness": 0.564592, "contrast": 0.853204,
    "elastic_transform": 0.646056, "pixelate": 0.717840, "jpeg_compression": 0.606500,
}

Cell = tuple[str, int]


# ---------------------------------------------------------------- ImageNet-A / -R: 200-class subsets


def restricted_top1(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per image: top-1 correct with argmax over the subset only (ImageNet-A/R rule, Hendrycks et al. 2021)."""
    restricted = restrict(logits, labels, np.asarray(classes))
    return restricted.logits.argmax(axis=1) == restricted.labels


# ---------------------------------------------------------------- multi-label: ReaL, ImageNet-Hard


def multilabel_correct(predictions: np.ndarray, label_sets: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(correct, scored) from each image's top-1 class: in its label set; empty sets are unscored (ReaL, Beyer et
    al. 2020)."""
    if len(predictions) != len(label_sets):
        raise ValueError(f"{len(predictions)} predictions but {len(label_sets)} label sets")
    scored = np.fromiter((len(labels) > 0 for labels in label_sets), dtype=bool, count=len(label_sets))
    correct = np.fromiter((int(p) in {int(label) for label in labels} for p, labels in zip(predictions, label_sets)),
                          dtype=bool, count=len(label_sets))
    return correct, scored


def scored_accuracy_pct(correct: np.ndarray, scored: np.ndarray) -> float:
    """Accuracy in percent over the scored images only (numerator and denominator)."""
    if not scored.any():
        raise ValueError("no image has a non-empty label set; nothing to score")
    return float(100.0 * correct[scored].mean())


def _real_position(image_id: str) -> int:
    match = REAL_FILE_NAME.match(PurePath(image_id).name)
    if match is None or int(match.group(1)) == 0:  # val files are numbered from 1
        raise ValueError(f"image id {image_id!r} does not end in a file name ILSVRC2012_val_<8 digits>.JPEG, "
                         "so it cannot be joined to ReaL labels (ReaL covers the ILSVRC-2012 val set only)")
    return int(match.group(1)) - 1


def real_label_sets(real_json: Sequence[Sequence[int]], ids: Sequence[str]) -> list[list[int]]:
    """ReaL label set of each id, joined by val file name (entry i ↔ ILSVRC2012_val_{i+1:08d}), never by row order."""
    positions = [_real_position(image_id) for image_id in ids]
    owner: dict[int, str] = {}
    for image_id, position in zip(ids, positions):
        if position in owner:  # two ids for one val file would double-count it
            raise ValueError(f"image ids {owner[position]!r} and {image_id!r} name the same val file; "
                             "ids must be unique")
        owner[position] = image_id
        if position >= len(real_json):
            raise ValueError(f"image id {image_id!r} is val image {position + 1}, but the ReaL labels have only "
                             f"{len(real_json)} entries")
    return [[int(label) for label in real_json[position]] for position in positions]


def _check_real_json(labels: Any, source: str, expected: int | None) -> list[list[int]]:
    if not isinstance(labels, list) or (expected is not None and len(labels) != expected):
        size = len(labels) if isinstance(labels, list) else type(labels).__name__
        raise ValueError(f"{source}: expected a JSON list of {expected or 'N'} label lists (ReaL real.json), "
                         f"got {size}")
    if len(labels) != REAL_NUM_IMAGES:
        LOGGER.warning("%s has %d entries, not ReaL's %d (fine for a demo world)", source, len(labels), REAL_NUM_IMAGES)
    for i, entry in enumerate(labels):
        valid = isinstance(entry, list) and all(isinstance(x, int) and 0 <= x < NUM_IMAGENET_CLASSES for x in entry)
        if not valid:
            raise ValueError(f"{source}: entry {i} is {entry!r}, not a list of indices 0..{NUM_IMAGENET_CLASSES - 1}")
    return labels


def load_real_json(path: str | Path | None = None) -> list[list[int]]:
    """Read ReaL's real.json; without a path, timm's packaged byte copy (checked: sha256, 50,000 entries).

    A file given by path may be shorter (a demo world relabels fewer images); every id joined to it
    must still find its entry (real_label_sets checks that).
    """
    if path is None:
        data = timm_info_file(REAL_PACKAGE_FILE).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != REAL_SHA256:
            raise RuntimeError(f"timm's {REAL_PACKAGE_FILE} has sha256 {digest}, not ReaL's {REAL_SHA256}; "
                               "pass the path of google-research/reassessed-imagenet real.json instead")
        source = f"{TIMM_INFO_PACKAGE}/{REAL_PACKAGE_FILE}"
    else:
        data, source = Path(path).read_bytes(), str(path)
    return _check_real_json(json.loads(data), source, REAL_NUM_IMAGES if path is None else None)


# ---------------------------------------------------------------- ImageNet-C


def _benchmark_cells(acc: Mapping[Cell, float]) -> dict[Cell, float]:
    """Validated benchmark cells; the 4 extra corruptions are dropped with a log line."""
    cells: dict[Cell, float] = {}
    for (corruption, severity), value in acc.items():
        if corruption not in IMAGENET_C_CORRUPTIONS + IMAGENET_C_EXTRA:
            raise ValueError(f"unknown ImageNet-C corruption {corruption!r}; "
                             f"known: {IMAGENET_C_CORRUPTIONS + IMAGENET_C_EXTRA}")
        if not isinstance(severity, (int, np.integer)) or int(severity) not in IMAGENET_C_SEVERITIES:
            raise ValueError(f"ImageNet-C severity {severity!r} of {corruption!r} must be an int in 1..5")
        if not 0.0 <= float(value) <= 100.0:
            raise ValueError(f"ImageNet-C accuracy {value!r} for ({corruption!r}, {severity}) is not a percentage")
        if corruption in IMAGENET_C_CORRUPTIONS:
            cells[(corruption, int(severity))] = float(value)
    extra = sorted({c for c, _ in acc if c in IMAGENET_C_EXTRA})
    if extra:
        LOGGER.info("ImageNet-C extra corruptions %s are not part of the 15-corruption benchmark; ignored", extra)
    return cells


def corruption_error(errors_pct: Sequence[float], corruption: str) -> float:
    """CE_c = 100 · Σ_s err_s / Σ_s err_AlexNet,s (Hendrycks & Dietterich 2019); Σ_s err_AlexNet,s = 5 × mean."""
    if len(errors_pct) != len(IMAGENET_C_SEVERITIES):
        raise ValueError(f"corruption error of {corruption!r} needs all {len(IMAGENET_C_SEVERITIES)} severities, "
                         f"got {len(errors_pct)}")
    alexnet_sum_pct = 100.0 * len(IMAGENET_C_SEVERITIES) * ALEXNET_ERRORS[corruption]
    return float(100.0 * sum(errors_pct) / alexnet_sum_pct)


def imagenet_c_summary(acc: Mapping[Cell, float], require_complete: bool = True) -> dict[str, Any]:
    """ImageNet-C top-1 mean over 15 corruptions × 5 severities, per-corruption/severity means and mCE.

    acc maps (corruption, severity) to top-1 in percent. mCE (Hendrycks & Dietterich 2019) is the mean
    over corruptions of CE_c = 100 · Σ_s err_s / Σ_s err_AlexNet,s; the AlexNet errors we have are
    per-corruption means over severities, so Σ_s err_AlexNet,s is taken as 5 × that mean (exactly equal).
    With require_complete=False, missing cells are listed, means use the cells present, mCE uses only
    corruptions with all 5 severities (None if none), and "complete" is False.
    """
    cells = _benchmark_cells(acc)
    missing = [(c, s) for c in IMAGENET_C_CORRUPTIONS for s in IMAGENET_C_SEVERITIES if (c, s) not in cells]
    if missing and require_complete:
        raise ValueError(f"ImageNet-C is missing {len(missing)} of {len(IMAGENET_C_CORRUPTIONS) * 5} "
                         f"(corruption, severity) pairs: {missing}; evaluate them, or pass require_complete=False "
                         "for a summary marked partial")
    if not cells:
        raise ValueError("no ImageNet-C benchmark (corruption, severity) accuracies given")
    per_corruption = {c: float(np.mean([v for (cc, _), v in cells.items() if cc == c]))
                      for c in IMAGENET_C_CORRUPTIONS if any(cc == c for cc, _ in cells)}
    per_severity = {s: float(np.mean([v for (_, ss), v in cells.items() if ss == s]))
                    for s in IMAGENET_C_SEVERITIES if any(ss == s for _, ss in cells)}
    ce = {c: corruption_error([100.0 - cells[(c, s)] for s in IMAGENET_C_SEVERITIES], c)
          for c in IMAGENET_C_CORRUPTIONS if all((c, s) in cells for s in IMAGENET_C_SEVERITIES)}
    return {"mean": float(np.mean(list(cells.values()))), "per_corruption": per_corruption,
            "per_severity": per_severity, "corruption_error": ce,
            "mce": float(np.mean(list(ce.values()))) if ce else None,
            "complete": not missing, "missing": missing, "n_cells": len(cells),
            "cells_per_corruption": {c: sum(cc == c for cc, _ in cells) for c in per_corruption},
            "cells_per_severity": {s: sum(ss == s for _, ss in cells) for s in per_severity}}


# ---------------------------------------------------------------- tidy rows


def _row(model: str, dataset: str, key: str, metric: str, value: float, n: int) -> dict[str, Any]:
    return {"model": model, "property": PROPERTY, "dataset": dataset, "key": key, "metric": metric,
            "value": float(value), "n": int(n)}


def _count(n: Mapping[str, int], key: str) -> int:
    if key not in n:
        raise ValueError(f"no image count for {key!r} in n (has {sorted(n)}); pass the number of scored images")
    return int(n[key])


def _imagenet_c_rows(model: str, summary: Mapping[str, Any], n_total: int, key: str = IMAGENET_C,
                     dataset: str | None = None) -> list[dict[str, Any]]:
    """Detail rows of the ImageNet-C dataset keyed `key` (its role, or its id); n of a per-corruption/severity mean =
    n_total × its share of cells (every cell is all of val)."""
    dataset = dataset or key
    per_cell = n_total / summary["n_cells"]
    rows = [_row(model, dataset, f"{key}/{c}", TOP1_METRIC, v,
                 round(per_cell * summary["cells_per_corruption"][c])) for c, v in summary["per_corruption"].items()]
    rows += [_row(model, dataset, f"{key}/{c}", CE_METRIC, v, round(per_cell * 5))
             for c, v in summary["corruption_error"].items()]
    rows += [_row(model, dataset, f"{key}/severity={s}", TOP1_METRIC, v,
                  round(per_cell * summary["cells_per_severity"][s])) for s, v in summary["per_severity"].items()]
    partial = key + PARTIAL_SUFFIX
    if summary["mce"] is not None:
        n_mce = round(per_cell * 5 * len(summary["corruption_error"]))
        rows.append(_row(model, dataset, key if summary["complete"] else partial, MCE_METRIC, summary["mce"], n_mce))
    if not summary["complete"]:  # the overall mean goes under a key that cannot join the paper's value
        LOGGER.warning("ImageNet-C summary of %s is partial (%d cells missing); its mean is reported as %r",
                       model, len(summary["missing"]), partial)
        rows.append(_row(model, dataset, partial, TOP1_METRIC, summary["mean"], n_total))
    return rows


def _merged_top1(per_dataset_top1: Mapping[str, float], c_summary: Mapping[str, Any] | None,
                 c_key: str) -> dict[str, float]:
    """Per-dataset top-1, with ImageNet-C's value taken from a complete summary (and checked if given twice)."""
    top1 = {key: float(value) for key, value in per_dataset_top1.items()}
    if c_summary is not None and not c_summary["complete"] and c_key in top1:
        raise ValueError(f"{c_key} top-1 given alongside a partial ImageNet-C summary; a partial run cannot "
                         f"stand for the 75-cell benchmark, drop {c_key!r} from per_dataset_top1")
    if c_summary is not None and c_summary["complete"]:
        given = top1.setdefault(c_key, float(c_summary["mean"]))
        if not np.isclose(given, c_summary["mean"]):
            raise ValueError(f"{c_key} top-1 given as {given} but the ImageNet-C summary says "
                             f"{c_summary['mean']}; pass one of them")
    return top1


def robustness_rows(model: str, per_dataset_top1: Mapping[str, float], c_summary: Mapping[str, Any] | None,
                    n: Mapping[str, int], c_key: str = IMAGENET_C,
                    dataset_of: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Tidy rows: top-1 (%) per set, the mean over the 7 shifted sets (Vishniakov et al. 2024), ImageNet-C detail.

    per_dataset_top1 and n are keyed by each set's key (its role, or its id); n holds the scored images (for
    ImageNet-C: all images over the cells used); `c_key` is the key of the ImageNet-C set; `dataset_of` maps a key to
    the dataset id its rows name (default the key). The average row's n is the sum over the 7 sets; it is emitted
    only when a set of each of the 7 roles is present.
    """
    dataset_of = dataset_of or {}
    top1 = _merged_top1(per_dataset_top1, c_summary, c_key)
    rows = [_row(model, dataset_of.get(key, key), key, TOP1_METRIC, value, _count(n, key))
            for key, value in top1.items()]
    missing = [key for key in SHIFTED_KEYS if key not in top1]
    if missing:
        LOGGER.warning("%s: no %r row, no dataset declares these shifted roles: %s", model, AVERAGE_KEY, missing)
    else:
        rows.append(_row(model, AVERAGE_KEY, AVERAGE_KEY, TOP1_METRIC, np.mean([top1[k] for k in SHIFTED_KEYS]),
                         sum(_count(n, k) for k in SHIFTED_KEYS)))
    if c_summary is not None:
        rows += _imagenet_c_rows(model, c_summary, _count(n, c_key), c_key, dataset_of.get(c_key, c_key))
    return metric_frame(rows)


@dataclass(frozen=True)
class CellImages:
    """The images of one ImageNet-C cell in a cache group: ids without their '<corruption>/<severity>/' prefix."""

    cell: Cell
    images: np.ndarray
    correct: np.ndarray


def cells_of_group(ids: np.ndarray, correct: np.ndarray) -> list[CellImages]:
    """The cells of one group's ids '<corruption>/<severity>/<wnid>/<file>'. A group is one cell as the extraction
    writes it: that case is checked and split in numpy (3.75 M ids per model); a group of mixed cells per id."""
    text = np.asarray(ids, dtype=str)
    if len(text) == 0:
        return []
    corruption, severity, _ = _cell_of_id(str(text[0]))
    prefix = np.frombuffer(f"{corruption}/{severity}/".encode("utf-32-le"), dtype=np.uint32)
    codes = text.view(np.uint32).reshape(len(text), -1)  # fixed-width UTF-32: one column per character
    if codes.shape[1] > len(prefix) and (codes[:, :len(prefix)] == prefix).all():
        rest = np.ascontiguousarray(codes[:, len(prefix):]).view(f"<U{codes.shape[1] - len(prefix)}").ravel()
        return [CellImages((corruption, severity), rest, np.asarray(correct, dtype=bool))]
    found: dict[Cell, tuple[list[str], list[bool]]] = {}
    for image_id, ok in zip(text, correct):
        corruption, severity, rest = _cell_of_id(str(image_id))
        images, hits = found.setdefault((corruption, severity), ([], []))
        images.append(rest)
        hits.append(bool(ok))
    return [CellImages(cell, np.asarray(images, dtype=str), np.asarray(hits)) for cell, (images, hits) in found.items()]


def _cell_of_id(image_id: str) -> tuple[str, int, str]:
    """(corruption, severity, the rest) of an ImageNet-C id '<corruption>/<severity>/<wnid>/<file>'."""
    parts = image_id.split("/", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        raise ValueError(f"ImageNet-C image id {image_id!r} is not '<corruption>/<severity>/<wnid>/<file>'; list "
                         "the set with format: imagenet_c (its root holds the corruption folders)")
    return parts[0], int(parts[1]), parts[2]


def corruption_cells(cells: Sequence[CellImages]) -> dict[Cell, float]:
    """Top-1 (%) per (corruption, severity), over every image of the cell in any group."""
    correct: dict[Cell, list[np.ndarray]] = {}
    for part in cells:
        correct.setdefault(part.cell, []).append(part.correct)
    return {cell: 100.0 * float(np.mean(np.concatenate(hits))) for cell, hits in correct.items()}


def per_image_c(cells: Sequence[CellImages]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted image ids, fraction of the 75 benchmark cells each image is right in): the mean over cells, per
    image. Every image must be in every benchmark cell once."""
    benchmark = [part for part in cells if part.cell[0] in IMAGENET_C_CORRUPTIONS]
    expected = len(IMAGENET_C_CORRUPTIONS) * len(IMAGENET_C_SEVERITIES)
    first = benchmark[0].images if benchmark else np.asarray([], dtype=str)
    same_images = all(np.array_equal(part.images, first) for part in benchmark)
    if same_images and len({part.cell for part in benchmark}) == len(benchmark) == expected:
        order = np.argsort(first, kind="stable")  # as the extraction writes it: each cell lists the same images
        ids = first[order]
        if len(ids) and not (ids[1:] != ids[:-1]).all():
            raise ValueError(f"ImageNet-C: an image is listed twice in a cell; a per-image interval needs every image "
                             f"once in each of the {expected} benchmark cells")
        hits = np.sum([part.correct for part in benchmark], axis=0, dtype=float)  # sums of 0/1: exact in any order
        return ids, hits[order] / expected
    ids, inverse = np.unique(np.concatenate([part.images for part in benchmark]) if benchmark else first,
                             return_inverse=True)
    counts = np.bincount(inverse, minlength=len(ids))
    if not len(ids) or not (counts == expected).all():
        low, high = (int(counts.min()), int(counts.max())) if len(ids) else (0, 0)
        raise ValueError(f"ImageNet-C: an image is in {low}-{high} of the {expected} benchmark cells; a per-image "
                         "interval needs every image in every cell")
    hits = np.concatenate([part.correct for part in benchmark]).astype(float)
    return ids, np.bincount(inverse, weights=hits, minlength=len(ids)) / expected


def set_correct(cache: CachedOutputs) -> tuple[np.ndarray, np.ndarray]:
    """(correct, scored) per image of one set by its own rule: multi-label sets (Hard) by set membership, A/R in
    their 200 classes, every other image scored."""
    if cache.label_sets is not None:
        return multilabel_correct(cache.argmax, [row[row >= 0].tolist() for row in cache.label_sets])
    subset = class_subset(cache.identity["label_space"])
    correct = cache.argmax == cache.labels if subset is None else \
        restricted_top1(cache.logits, cache.labels, subset)
    return correct, np.ones(len(correct), dtype=bool)


def set_top1_pct(cache: CachedOutputs) -> float:
    """Top-1 (%) of one set by its own rule (set_correct), over its scored images."""
    return scored_accuracy_pct(*set_correct(cache))


def _real_correct(cache: CachedOutputs, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """(correct, scored) per val image under ReaL's label sets, joined by file name."""
    source = settings.get("real_labels", "package")
    label_sets = real_label_sets(load_real_json(None if source == "package" else source), list(cache.ids))
    return multilabel_correct(cache.argmax, label_sets)


def real_dataset(settings: dict, datasets: dict) -> str | None:
    """The dataset whose images ReaL relabels: `real_dataset`, else the one with role imagenet_val; None without
    `real_labels`."""
    if not settings.get("real_labels"):
        return None
    if settings.get("real_dataset"):
        return settings["real_dataset"]
    found = datasets_of_role(datasets, IMAGENET_VAL)
    if not found:
        LOGGER.warning("robustness: real_labels is set but no dataset of the property has role %r and no "
                       "real_dataset is named; ReaL is not scored", IMAGENET_VAL)
    return found[0] if found else None


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: top-1 per shifted set, ImageNet-C summary and mCE, ReaL, and the average; and the
    per-image top-1 behind each set's row (ImageNet-C: each image's share of the 75 cells it is right in, when all 75
    are there; ReaL and -Hard: their scored images)."""
    top1: dict[str, float] = {}
    counts: dict[str, int] = {}
    dataset_of: dict[str, str] = {}
    outcomes = {}
    c_summary, c_key = None, IMAGENET_C
    relabelled = real_dataset(settings, datasets)
    corrupted = {id(c) for c in caches if datasets[c.identity["dataset"]]["format"] == "imagenet_c"}
    merged = merge_parts([c for c in caches if id(c) not in corrupted])
    for dataset, view in dict.fromkeys((c.identity["dataset"], c.identity["view"]) for c in caches):
        key = key_of(dataset, datasets.get(dataset, {}).get("role"))
        if (dataset, view) not in merged:  # ImageNet-C, cell by cell: never 3.75 M ids concatenated and split
            groups = [c for c in caches if id(c) in corrupted and c.identity["dataset"] == dataset]
            counts[key], dataset_of[key] = sum(len(c.labels) for c in groups), dataset
            cells = [cell for c in groups for cell in cells_of_group(c.ids, c.argmax == c.labels)]
            c_summary, c_key = imagenet_c_summary(corruption_cells(cells),
                                                  require_complete=settings.get("require_complete_c", True)), key
            try:
                outcomes[(dataset, key, TOP1_METRIC)] = correct_outcome(*per_image_c(cells))
            except ValueError as error:
                LOGGER.info("%s: no interval for %s (%s)", model, dataset, error)
            continue
        cache = merged[(dataset, view)]
        counts[key], dataset_of[key] = len(cache.labels), dataset
        correct, scored = set_correct(cache)
        top1[key] = scored_accuracy_pct(correct, scored)
        outcomes[(dataset, key, TOP1_METRIC)] = correct_outcome(np.asarray(cache.ids)[scored], correct[scored])
        if dataset == relabelled:
            correct, scored = _real_correct(cache, settings)
            top1[IMAGENET_REAL], counts[IMAGENET_REAL] = scored_accuracy_pct(correct, scored), int(scored.sum())
            dataset_of[IMAGENET_REAL] = dataset
            outcomes[(dataset, IMAGENET_REAL, TOP1_METRIC)] = correct_outcome(np.asarray(cache.ids)[scored],
                                                                              correct[scored])
    return robustness_rows(model, top1, c_summary, counts, c_key, dataset_of), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """The mean over the 7 shifted sets: formed when a dataset declares each shifted role and ReaL relabels one."""
    label = "robustness: mean of 7 shifted sets (%)"
    declared = {entry.get("role") for entry in datasets.values()}
    missing = [role for role in SHIFTED_KEYS if role != IMAGENET_REAL and role not in declared]
    if real_dataset(settings, datasets) is None:
        missing.append(f"{IMAGENET_REAL} (set properties.robustness.real_labels and give a dataset role: {IMAGENET_VAL})")
    if missing:
        return [Headline(label, PROPERTY, AVERAGE_KEY, TOP1_METRIC,
                         missing=f"no dataset of properties.robustness.datasets declares role: {', '.join(missing)}")]
    return [Headline(label, PROPERTY, AVERAGE_KEY, TOP1_METRIC, dataset=AVERAGE_KEY,
                     axis="mean top-1 (%): more images right →")]
