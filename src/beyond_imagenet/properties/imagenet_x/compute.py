"""ImageNet-X: which factors of variation a model's mistakes concentrate on (Idrissi et al., ICLR 2023).

Error ratio(f) = (1 − acc_f) / (1 − acc_all): acc_f is top-1 accuracy over the annotated images
that carry factor f, acc_all over every annotated image that has a prediction. The paper (Vishniakov
et al. 2024, Fig. "ImageNet-X") uses the top-factor annotations, drops ImageNet-X's 3,000
prototypical images, and plots "average" = the mean of the 16 ratios (not the ratio of the mean).

Annotation file format (the package's own, `imagenet_x/annotations/imagenet_x_val_*_factor.jsonl`):
JSON Lines, one object per image, keys `file_name` (basename, "ILSVRC2012_val_00000293.JPEG") and
the 16 factor names with integer values 0/1. The package's files also carry `class` (ImageNet-1k
index), `justification` and `one_word`; they are read past (we score against our own labels).
A top-factor file has at most one factor set per image; a multi-factor file may have several.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ...stats.statistics import Outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline, first_dataset_headline
from ..accuracy.compute import topk_correct

log = logging.getLogger(__name__)

Kind = Literal["top", "multi"]
KINDS: tuple[str, ...] = ("top", "multi")
# The package's FACTORS order (imagenet_x.utils.FACTORS); columns and rows come out in this order.
FACTORS: tuple[str, ...] = (
    "pose", "background", "pattern", "color", "smaller", "shape", "partial_view", "subcategory",
    "texture", "larger", "darker", "object_blocking", "person_blocking", "style", "brighter", "multiple_objects",
)
# Key order inside the package's JSONL objects; write_factor_annotations writes factors in this order.
FILE_FACTOR_ORDER: tuple[str, ...] = (
    "multiple_objects", "background", "color", "brighter", "darker", "style", "larger", "smaller",
    "object_blocking", "person_blocking", "partial_view", "pattern", "pose", "shape", "subcategory", "texture",
)
# Demo top factor: the first true flag in this order. Rarest first by count in the package's val
# top-factor file (prototypes dropped), so rare factors keep images in a small demo world.
TOP_FACTOR_PRIORITY: tuple[str, ...] = (
    "multiple_objects", "style", "brighter", "person_blocking", "object_blocking", "darker", "larger",
    "texture", "subcategory", "partial_view", "shape", "smaller", "pattern", "color", "background", "pose",
)
AVERAGE_KEY = "average"  # mean of the per-factor ratios, the paper's "average" bar
ALL_KEY = "all"  # every joined image (acc_all and its count)
PROPERTY = "imagenet_x"
RATIO_METRIC = {"top": "error_ratio", "multi": "error_ratio_multi"}  # paper_values.csv names the top variant
VARIANT_SUFFIX = {"top": "", "multi": "_multi"}
PACKAGE = "imagenet_x"
PACKAGE_FILE = "imagenet_x_val_{kind}_factor.jsonl"
PROTOTYPES_FILE = "prototypical_paths.csv"


def _check_kind(kind: str) -> None:
    """Reject anything but "top" and "multi"."""
    if kind not in KINDS:
        raise ValueError(f"ImageNet-X annotation kind must be one of {KINDS}, got {kind!r}")


def package_annotation_dir() -> Path:
    """The `annotations/` folder of the installed imagenet-x package, found without importing it (its
    __init__ pulls in scipy and tqdm)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {PACKAGE!r} is not installed; install `imagenet-x` (requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "annotations"


def _validate_annotations(table: pd.DataFrame, kind: str, source: str) -> None:
    """Factor columns present and 0/1, unique file names, at most one factor per image for "top"."""
    missing = [f for f in ("file_name", *FACTORS) if f not in table.columns]
    if missing:
        raise ValueError(f"{source}: missing ImageNet-X columns {missing}; expected file_name and {list(FACTORS)}")
    values = table[list(FACTORS)]
    if not values.isin([0, 1]).all().all():
        bad = values.columns[~values.isin([0, 1]).all()].tolist()
        raise ValueError(f"{source}: factor columns {bad} hold values other than 0/1")
    duplicated = table["file_name"][table["file_name"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{source}: file name {duplicated.iloc[0]!r} is annotated more than once")
    if kind == "top" and (values.sum(axis=1) > 1).any():
        example = table["file_name"][values.sum(axis=1) > 1].iloc[0]
        raise ValueError(f"{source}: {example!r} has several factors; is this a multi-factor file? (kind='top')")


def _read_jsonl(path: Path) -> pd.DataFrame:
    """file_name + factor columns of an annotation JSONL file (other keys skipped)."""
    # One json.loads over the file as a JSON array: ~3x faster than pd.read_json(lines=True), which
    # also builds the long free-text columns we drop (keeps the package load well under 2 s, no cache).
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = json.loads("[" + ",".join(lines) + "]")
    try:
        names = [str(r["file_name"]) for r in records]
        values = np.array([[r[f] for f in FACTORS] for r in records], dtype=object).reshape(-1, len(FACTORS))
    except KeyError as missing:
        raise ValueError(f"{path}: a record lacks ImageNet-X key {missing}; every line needs "
                         f"file_name and {list(FACTORS)}") from None
    if not np.isin(values, [0, 1]).all():  # checked before the int cast, which would truncate 0.5 to 0
        bad = [f for f, column in zip(FACTORS, values.T) if not np.isin(column, [0, 1]).all()]
        raise ValueError(f"{path}: factor columns {bad} hold values other than 0/1")
    table = pd.DataFrame(values.astype(np.int64), columns=list(FACTORS))
    table.insert(0, "file_name", pd.Series(names, dtype=str))
    return table


def load_factor_annotations(kind: Kind, source: Literal["package"] | Path = "package") -> pd.DataFrame:
    """ImageNet-X val annotations as `file_name` + the 16 factors (0/1 ints), one row per image.

    source "package": the installed package's file, with its 3,000 prototypical images dropped (as the
    package's load_annotations(filter_prototypes=True) does; 2,758 of them are annotated, leaving 46,110).
    source a Path: a JSONL file in the format of this module's docstring, taken as-is (no prototype
    filtering: the demo world reuses real val file names, and its writer decides what to score).
    """
    _check_kind(kind)
    if isinstance(source, str):
        if source != "package":
            raise ValueError(f"source must be 'package' or a pathlib.Path, got {source!r}")
        path = package_annotation_dir() / PACKAGE_FILE.format(kind=kind)
    else:
        path = Path(source)
    table = _read_jsonl(path)
    _validate_annotations(table, kind, str(path))
    if source == "package":
        prototypes = pd.read_csv(package_annotation_dir() / PROTOTYPES_FILE)["file_name"]
        table = table[~table["file_name"].isin(prototypes)]
    return table.reset_index(drop=True)


def write_factor_annotations(annotations: pd.DataFrame, path: Path) -> None:
    """Write annotations as package-format JSONL (file_name, then the factors in the package's key order)."""
    _validate_annotations(annotations, "multi", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for row in annotations[["file_name", *FILE_FACTOR_ORDER]].itertuples(index=False):
            record = {"file_name": str(row[0]), **{f: int(v) for f, v in zip(FILE_FACTOR_ORDER, row[1:])}}
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")  # the package's compact style


def first_by_priority(flags: dict[str, bool]) -> str | None:
    """The first true flag in TOP_FACTOR_PRIORITY, or None when no flag is set."""
    return next((f for f in TOP_FACTOR_PRIORITY if flags[f]), None)


def annotations_from_flags(
    file_names: Sequence[str], flags: Sequence[dict[str, bool]],
    top_factor_of: Callable[[dict[str, bool]], str | None] = first_by_priority,
) -> dict[str, pd.DataFrame]:
    """Demo annotations from known per-image flags: {"multi": all true flags, "top": one factor per image}."""
    if len(file_names) != len(flags):
        raise ValueError(f"{len(file_names)} file names but {len(flags)} flag dicts")
    for name, image_flags in zip(file_names, flags):
        if set(image_flags) != set(FACTORS):
            raise ValueError(f"flags of {name!r} must have exactly the 16 ImageNet-X keys; "
                             f"missing {sorted(set(FACTORS) - set(image_flags))}, "
                             f"unknown {sorted(set(image_flags) - set(FACTORS))}")
    multi = pd.DataFrame([{f: int(bool(fl[f])) for f in FACTORS} for fl in flags], columns=list(FACTORS))
    top = pd.DataFrame(0, index=range(len(flags)), columns=list(FACTORS))
    for row, image_flags in enumerate(flags):
        factor = top_factor_of(image_flags)
        if factor is not None:
            if not image_flags.get(factor):
                raise ValueError(f"top_factor_of chose {factor!r} for {file_names[row]!r}, which is not set there")
            top.loc[row, factor] = 1
    names = pd.Series(list(file_names), dtype=object, name="file_name").astype(str)
    tables = {kind: pd.concat([names, table.astype(np.int64)], axis=1) for kind, table in
              (("top", top), ("multi", multi))}
    for kind, table in tables.items():
        _validate_annotations(table, kind, "annotations_from_flags")
    return tables


def _unique_or_raise(names: pd.Series, side: str) -> None:
    """Raise if a file name occurs twice (a join on names would silently duplicate rows)."""
    duplicated = names[names.duplicated()]
    if len(duplicated):
        raise ValueError(f"{side}: file name {duplicated.iloc[0]!r} occurs more than once; ImageNet-X joins on "
                         "file names, so each image must appear once (are two datasets mixed in one cache?)")


def join_predictions(ids: Sequence[str], correct: np.ndarray, annotations: pd.DataFrame) -> pd.DataFrame:
    """Annotated images with a prediction: `file_name`, `correct` (bool) and the 16 factors, joined on file name."""
    correct = np.asarray(correct, dtype=bool)
    if len(ids) != len(correct):
        raise ValueError(f"{len(ids)} ids but {len(correct)} correctness values")
    # the file name: what follows the last "/" of a root-relative id (PurePosixPath.name of it, 20x faster)
    names = pd.Series([str(i).rpartition("/")[2] for i in ids], dtype=object, name="file_name").astype(str)
    _unique_or_raise(names, "predictions")
    _unique_or_raise(annotations["file_name"], "annotations")
    predictions = pd.DataFrame({"file_name": names, "correct": correct})
    joined = annotations[["file_name", *FACTORS]].merge(predictions, on="file_name", how="inner", validate="1:1")
    if joined.empty:
        raise ValueError(f"no prediction matches an ImageNet-X annotation by file name (e.g. prediction "
                         f"{names.iloc[0] if len(names) else None!r} vs annotation "
                         f"{annotations['file_name'].iloc[0] if len(annotations) else None!r}); "
                         "score the ImageNet val set with its original file names")
    log.info("ImageNet-X join: %d images scored; %d annotated images without a prediction; "
             "%d predictions without an annotation", len(joined), len(annotations) - len(joined),
             len(names) - len(joined))
    return joined[["file_name", "correct", *FACTORS]]


def factor_accuracy(joined: pd.DataFrame) -> pd.DataFrame:
    """Per factor and for "all": number of images and top-1 accuracy (fraction; NaN for no images)."""
    correct = joined["correct"].to_numpy(dtype=bool)
    rows = {}
    for factor in FACTORS:
        mask = joined[factor].to_numpy() == 1
        rows[factor] = (int(mask.sum()), float(correct[mask].mean()) if mask.any() else np.nan)
    rows[ALL_KEY] = (len(correct), float(correct.mean()) if len(correct) else np.nan)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["count", "accuracy"])


def error_ratios(joined: pd.DataFrame) -> pd.Series:
    """ImageNet-X error ratio (1 − acc_f)/(1 − acc_all) per factor, plus "average" = mean of the defined ratios."""
    stats = factor_accuracy(joined)
    empty = stats.index[(stats["count"] == 0) & (stats.index != ALL_KEY)].tolist()
    if empty:
        log.warning("ImageNet-X: no scored image has factor(s) %s; their error ratio is NaN", empty)
    all_error = 1.0 - stats.loc[ALL_KEY, "accuracy"]
    if all_error == 0:
        log.warning("ImageNet-X: no errors on %d images; error ratios are undefined (NaN)", len(joined))
        ratios = pd.Series(np.nan, index=list(FACTORS), dtype=float)
    else:
        ratios = (1.0 - stats.loc[list(FACTORS), "accuracy"]) / all_error
    ratios[AVERAGE_KEY] = ratios.mean()  # pandas' mean skips NaN: the average of the defined factors
    return ratios.astype(float)


def imagenet_x_rows(model: str, dataset: str, ids: Sequence[str], logits: np.ndarray, labels: np.ndarray,
                    annotations: pd.DataFrame, variant: Kind = "top") -> pd.DataFrame:
    """Tidy rows: error ratio per factor + average, and per-factor top-1 (%) and image count (keys + "all")."""
    return _imagenet_x(model, dataset, ids, topk_correct(logits, labels, 1), annotations, variant)[0]


def _imagenet_x(model: str, dataset: str, ids: Sequence[str], correct: np.ndarray, annotations: pd.DataFrame,
                variant: Kind) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows and the joined per-image table they come from (`correct`: each image's top-1 is its label)."""
    _check_kind(variant)
    if variant == "top" and (annotations[list(FACTORS)].sum(axis=1) > 1).any():
        raise ValueError("variant='top' but some images carry several factors: pass top-factor annotations "
                         "or variant='multi'")
    joined = join_predictions(ids, correct, annotations)
    stats = factor_accuracy(joined)
    suffix = VARIANT_SUFFIX[variant]
    base = {"model": model, "property": PROPERTY, "dataset": dataset, "n": len(joined)}
    rows = [{**base, "key": key, "metric": RATIO_METRIC[variant], "value": float(value)}
            for key, value in error_ratios(joined).items()]
    rows += [{**base, "key": key, "metric": f"factor_top1_pct{suffix}", "value": 100.0 * stats.loc[key, "accuracy"]}
             for key in stats.index]
    rows += [{**base, "key": key, "metric": f"factor_count{suffix}", "value": float(stats.loc[key, "count"])}
             for key in stats.index]
    return metric_frame(rows), joined


ANNOTATION_FILES = {"top": "top_factor", "multi": "multi_factor"}


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> tuple[pd.DataFrame, dict]:
    """Property entry point: error ratios per factor, top-factor and multi-factor, joined by file name; and per
    annotated image its correctness and factor (top-factor), behind each error_ratio row and their average."""

    source = settings.get("annotations", "package")
    frames, outcomes = [], {}
    for (dataset, _), cache in merge_parts(caches).items():
        for variant, file_name in ANNOTATION_FILES.items():
            where = "package" if source == "package" else Path(source) / f"imagenet_x_val_{file_name}.jsonl"
            annotations = load_factor_annotations(variant, where)
            rows, joined = _imagenet_x(model, dataset, cache.ids, cache.argmax == cache.labels, annotations, variant)
            frames.append(rows)
            if variant != "top":
                continue
            ids, correct = joined["file_name"].to_numpy(dtype=str), joined["correct"].to_numpy(dtype=float)
            members = {f: (joined[f].to_numpy() == 1).astype(float) for f in FACTORS}
            metric = RATIO_METRIC[variant]
            for factor in FACTORS:
                outcomes[(dataset, factor, metric)] = Outcome(ids, {"correct": correct, "member": members[factor]},
                                                              "error_ratio")
            outcomes[(dataset, AVERAGE_KEY, metric)] = Outcome(
                ids, {"correct": correct, **{f"member_{f}": m for f, m in members.items()}}, "error_ratio_average")
    return pd.concat(frames, ignore_index=True), outcomes


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """The mean of the 16 error ratios (the paper's "average" bar)."""
    return [first_dataset_headline("ImageNet-X mean error ratio", PROPERTY, AVERAGE_KEY, RATIO_METRIC["top"], datasets,
                                   better="lower", axis="error ratio: ← mistakes less tied to a factor")]
