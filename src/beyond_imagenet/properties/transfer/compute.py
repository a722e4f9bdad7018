"""Transfer (VTAB-1k, Zhai et al. 2019): split files, tidy rows and the property's compute.

The probe itself (torch) is `probe.linear_probe`, imported only when a probe is trained, so the transfer figure
and table never import torch. A dataset is a VTAB-1k task when its role says so (`role: vtab_dtd`); any other
task folder is probed the same way, keyed `other/<dataset id>`.

VTAB split files: `train800.txt`, `val200.txt`, `train800val200.txt`, `test.txt`, one `relative/path label`
per line; the paths are relative to the task folder, like the cache ids.

Summary rows (`transfer_summary_rows`): group means (keys `natural`, `specialized`, `structured`, and `other`
for tasks outside VTAB) over the tasks present in each group; `average_19` = mean of the 19 VTAB tasks, only
when all 19 are present; otherwise (or when extra tasks are present) `average` = mean over all present tasks.
For summary rows, `n` is the number of tasks averaged.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...catalog.roles import vtab_task_of
from ...catalog.vtab import OTHER_GROUP, VTAB_CLASSES, VTAB_GROUPS, VTAB_TASKS, task_group
from ...data.samples import read_split_list
from ...stats.statistics import MeanOf, correct_outcome
from ...store.cache import CachedOutputs, merge_parts
from ...store.rows import metric_frame
from .._registry import Headline

if TYPE_CHECKING:
    from .probe import LinearProbeResult

log = logging.getLogger(__name__)

PROPERTY = "transfer"
METRIC_TOP1 = "linear_probe_top1_pct"
METRIC_WEIGHT_DECAY = "weight_decay"
SUMMARY_DATASET = "vtab"
AVERAGE_ALL_KEY = "average_19"
AVERAGE_PRESENT_KEY = "average"
SPLIT_NAMES = ("train800", "val200", "train800val200", "test")
SPLIT_SUFFIX = ".txt"

Split = tuple[np.ndarray, np.ndarray]


def task_of(dataset: str, role: str | None) -> str:
    """The task a dataset is: the VTAB-1k task its role names (`vtab_dtd` -> `dtd`), else its id (group 'other')."""
    return vtab_task_of(role) or dataset


def task_key(task: str) -> str:
    """Paper key of a task, '<group>/<task>' (e.g. 'natural/caltech101'; unknown tasks 'other/<task>')."""
    return f"{task_group(task)}/{task}"


def _row_index(ids: Sequence[str]) -> dict[str, int]:
    """Cache id -> row, each id normalised like the split lists; a duplicate id is an error."""
    index: dict[str, int] = {}
    for row, name in enumerate(ids):
        key = posixpath.normpath(str(name))
        if key in index:
            raise ValueError(f"cache id {key!r} appears in rows {index[key]} and {row}; ids must be unique")
        index[key] = row
    return index


def _select(split_file: Path, entries: list[tuple[str, int]], index: Mapping[str, int],
            labels: np.ndarray) -> np.ndarray:
    """Cache rows of a split's entries; a missing path or a label disagreement is a ValueError naming the path."""
    missing = [name for name, _ in entries if name not in index]
    if missing:
        raise ValueError(f"{split_file}: {len(missing)} listed path(s) are not in the feature cache, first "
                         f"{missing[0]!r}; extract features for the same task folder the split lists refer to")
    rows = np.array([index[name] for name, _ in entries], dtype=np.int64)
    listed = np.array([label for _, label in entries], dtype=np.int64)
    wrong = np.flatnonzero(labels[rows] != listed)
    if wrong.size:
        first = wrong[0]
        raise ValueError(f"{split_file}: path {entries[first][0]!r} has label {listed[first]} in the list but "
                         f"{labels[rows[first]]} in the cache; the cache was built with another label mapping")
    return rows


def split_rows(ids: Sequence[str], features: np.ndarray, labels: np.ndarray, root: Path,
               positions: dict[str, np.ndarray] | None = None) -> dict[str, Split]:
    """Features and labels of each VTAB split file found in `root`, rows picked from the cache by id (and each
    split's cache rows into `positions`, when given)."""
    root = Path(root)
    features, labels = np.asarray(features), np.asarray(labels, dtype=np.int64)
    if not (len(ids) == features.shape[0] == labels.shape[0]):
        raise ValueError(f"cache has {len(ids)} ids, {features.shape[0]} feature rows and {labels.shape[0]} labels")
    index = _row_index(ids)
    splits: dict[str, Split] = {}
    for split in SPLIT_NAMES:
        split_file = root / f"{split}{SPLIT_SUFFIX}"
        if split_file.is_file():
            rows = _select(split_file, read_split_list(split_file), index, labels)
            splits[split] = (features[rows], labels[rows])
            if positions is not None:
                positions[split] = np.asarray(rows)
    if not splits:
        raise ValueError(f"no VTAB split file in {root}; expected some of "
                         f"{[name + SPLIT_SUFFIX for name in SPLIT_NAMES]}")
    return splits


# --- tidy rows --------------------------------------------------------------------------------------------------

def transfer_rows(model: str, dataset: str, task: str, result: LinearProbeResult, n_test: int) -> pd.DataFrame:
    """Tidy rows of one task (of the dataset with that id): test top-1 (%) and the chosen weight decay, key
    '<group>/<task>'."""
    base = {"model": model, "property": PROPERTY, "dataset": dataset, "key": task_key(task),
            "n": n_test}
    rows = [{**base, "metric": METRIC_TOP1, "value": result.test_top1_pct},
            {**base, "metric": METRIC_WEIGHT_DECAY, "value": result.weight_decay}]
    return metric_frame(rows)


def _task_scores(model: str, per_task: pd.DataFrame) -> pd.Series:
    """Test top-1 per task name of one model; a task twice is an error."""
    rows = per_task[(per_task["model"] == model) & (per_task["metric"] == METRIC_TOP1)
                    & per_task["key"].str.contains("/", regex=False)]
    tasks = rows["key"].str.split("/").str[-1]
    if tasks.duplicated().any():
        raise ValueError(f"model {model!r} has several top-1 rows for task {tasks[tasks.duplicated()].iloc[0]!r}; "
                         "pass one row per task")
    return pd.Series(rows["value"].to_numpy(dtype=np.float64), index=tasks.to_numpy())


def transfer_summary_rows(model: str, per_task: pd.DataFrame) -> pd.DataFrame:
    """Group means over present tasks and average_19 (all 19 present) or average (otherwise); n = tasks averaged."""
    scores = _task_scores(model, per_task)
    if scores.empty:
        raise ValueError(f"no {METRIC_TOP1} task rows for model {model!r}; compute the per-task rows first")
    groups = pd.Series([task_group(task) for task in scores.index], index=scores.index)
    means = {group: scores[groups == group] for group in [*VTAB_GROUPS, OTHER_GROUP] if (groups == group).any()}
    if set(scores.index) == set(VTAB_TASKS):
        means[AVERAGE_ALL_KEY] = scores
    else:
        absent = [task for task in VTAB_TASKS if task not in scores.index]
        log.warning("model %s: %d of the 19 VTAB tasks missing (%s) or extra tasks present; writing '%s' over "
                    "the %d present tasks instead of '%s'", model, len(absent), ", ".join(absent) or "none",
                    AVERAGE_PRESENT_KEY, scores.size, AVERAGE_ALL_KEY)
        means[AVERAGE_PRESENT_KEY] = scores
    rows = [{"model": model, "property": PROPERTY, "dataset": SUMMARY_DATASET, "key": key, "metric": METRIC_TOP1,
             "value": float(values.mean()), "n": int(values.size)} for key, values in means.items()]
    return metric_frame(rows)


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict):
    """Property entry point: linear probe per task (train800 -> val200 picks the weight decay; train800val200 -> test).

    Returns the rows and the per-test-image outcomes of the one probe trained per task, behind each task's top-1
    row; each group mean and the overall mean is a mean over its tasks' outcomes.
    """

    frames, outcomes = [], {}
    for (dataset, _), cache in merge_parts(caches).items():
        positions: dict[str, np.ndarray] = {}
        splits = split_rows(list(cache.ids), cache.features, cache.labels, Path(datasets[dataset]["root"]), positions)
        from .probe import linear_probe  # torch: only where a probe is trained

        task = task_of(dataset, datasets.get(dataset, {}).get("role"))
        classes = datasets.get(dataset, {}).get("classes") or VTAB_CLASSES.get(task)
        result = linear_probe(*splits["train800"], *splits["val200"], *splits["test"], num_classes=classes)
        frames.append(transfer_rows(model, dataset, task, result, len(splits["test"][1])))
        if result.test_correct is not None:
            test_ids = np.asarray([str(i) for i in cache.ids])[positions["test"]]
            outcomes[(dataset, task_key(task), METRIC_TOP1)] = correct_outcome(test_ids, result.test_correct)
    per_task = pd.concat(frames, ignore_index=True)
    summary = transfer_summary_rows(model, per_task)
    outcomes.update(_summary_means(per_task, summary, outcomes))
    return pd.concat([per_task, summary], ignore_index=True), outcomes


def _summary_means(per_task: pd.DataFrame, summary: pd.DataFrame, outcomes: dict) -> dict:
    """Each group mean and the overall mean as a mean over its tasks' outcomes (disjoint test sets)."""

    tasks = per_task[per_task["metric"] == METRIC_TOP1]
    keyed = {row.key.split("/")[-1]: (row.dataset, row.key, METRIC_TOP1) for row in tasks.itertuples()}
    if not all(key in outcomes for key in keyed.values()):
        return {}
    means = {}
    for row in summary.itertuples():
        members = [task for task in keyed if row.key in (task_group(task), AVERAGE_ALL_KEY, AVERAGE_PRESENT_KEY)]
        means[(row.dataset, row.key, row.metric)] = MeanOf(tuple(keyed[task] for task in members))
    return means


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """The mean over the 19 VTAB-1k tasks, or over the tasks present when they are not the 19."""
    label = "VTAB linear probe, mean (%)"
    if not datasets:
        return [Headline(label, PROPERTY, AVERAGE_ALL_KEY, METRIC_TOP1, missing="properties.transfer.datasets is empty")]
    return [Headline(label, PROPERTY, AVERAGE_ALL_KEY, METRIC_TOP1, dataset=SUMMARY_DATASET,
                     fallback_key=AVERAGE_PRESENT_KEY, axis="probe top-1 (%): more test images right →")]
