"""The tidy-row contract of every metrics file: one row per (model, property, dataset, key, metric)."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .digests import ALGORITHM, file_digest

# ci_low / ci_high are NaN where a metric has no interval; n is the number of images behind the value.
METRIC_COLUMNS = ("model", "property", "dataset", "key", "metric", "value", "n", "ci_low", "ci_high")
REQUIRED_COLUMNS = METRIC_COLUMNS[:6]


def metric_row(model: str, prop: str, dataset: str, key: str, metric: str, value: float, n: int | None = None,
               ci_low: float = math.nan, ci_high: float = math.nan) -> dict[str, Any]:
    """One tidy metric row."""
    return {"model": model, "property": prop, "dataset": dataset, "key": key, "metric": metric,
            "value": float(value), "n": n, "ci_low": ci_low, "ci_high": ci_high}


def metric_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame in the contract's column order; an unknown or missing column is an error."""
    rows = list(rows)
    for row in rows:
        unknown = set(row) - set(METRIC_COLUMNS)
        missing = set(REQUIRED_COLUMNS) - set(row)
        if unknown or missing:
            raise ValueError(f"metric row {dict(row)!r}: unknown columns {sorted(unknown)}, missing {sorted(missing)}; "
                             f"the columns are {list(METRIC_COLUMNS)}")
    frame = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    frame["value"] = frame["value"].astype(float)
    frame[["ci_low", "ci_high"]] = frame[["ci_low", "ci_high"]].astype(float)
    return frame


DIGEST_SUFFIX = ".digest.json"  # beside every metrics CSV: its row count, content digest and how intervals were made
DIGEST_FORMAT = "beyond_imagenet.metrics/1"
LOG = logging.getLogger(__name__)


class MetricsFileError(ValueError):
    """A metrics CSV is not what this workflow wrote: cut short, altered, or holding a non-finite value."""


def digest_path(path: Path) -> Path:
    """The record beside a metrics CSV."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def _defined(rows: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Rows whose value is defined. A NaN value (a metric undefined on these images: no shape or texture decision,
    an empty reliability bin, a factor without images) is left out, each named in the log; an infinite value or an
    interval with only one end is an error."""
    values = rows["value"].astype(float)
    undefined = values.isna()
    for row in rows[undefined].itertuples():
        LOG.warning("%s: %s %s/%s %s is undefined on these images; left out", path, row.model, row.dataset, row.key,
                    row.metric)
    rows = rows[~undefined]
    bounds = rows[["ci_low", "ci_high"]].astype(float)
    bad = ~np.isfinite(rows["value"].astype(float)) | (bounds.isna().sum(axis=1) == 1) | np.isinf(bounds).any(axis=1)
    if bad.any():
        first = rows[bad].iloc[0]
        raise MetricsFileError(f"{path}: row {dict(first)!r} has an infinite value or a one-sided interval; a "
                               "property computed it wrongly")
    return rows


def write_metrics(rows: pd.DataFrame, path: Path, intervals: dict[str, Any] | None = None,
                  skipped: str | None = None) -> None:
    """Write a tidy metrics CSV and, beside it, its row count, digest and interval settings; atomically (a killed
    job leaves no half-written file under the real name; the CSV is renamed last). `skipped`: why a property was not
    computed for this model (the file holds no rows; the record says why)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"{path}: metric rows lack columns {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = _defined(rows.reindex(columns=list(METRIC_COLUMNS)), path)
    partial = path.with_name(path.name + ".partial")
    rows.to_csv(partial, index=False)
    record = {"format": DIGEST_FORMAT, "rows": len(rows), "digest": file_digest(partial), "algorithm": ALGORITHM,
              "intervals": intervals or {"method": "none"}, **({"skipped": skipped} if skipped else {})}
    digest_partial = partial.with_name(digest_path(path).name + ".partial")
    digest_partial.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(digest_partial, digest_path(path))
    os.replace(partial, path)


def _verified_record(path: Path) -> dict[str, Any]:
    """The record beside a metrics CSV, checked against the file's bytes."""
    try:
        record = json.loads(digest_path(path).read_text())
    except (OSError, ValueError) as error:
        raise MetricsFileError(f"{path}: its record {digest_path(path).name} is missing or unreadable ({error}); the "
                               "file was not written whole by this workflow — delete it and rerun") from None
    if record.get("format") != DIGEST_FORMAT or record.get("digest") != file_digest(path):
        raise MetricsFileError(f"{path}: does not match the digest in {digest_path(path).name}: it was changed or cut "
                               "after it was written — delete it and rerun")
    return record


def _read_metrics_file(path: Path) -> pd.DataFrame:
    """One metrics CSV, refused (naming the file and line) when altered, cut short, not of this workflow, or holding
    a missing or non-finite number."""
    record = _verified_record(path)
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise MetricsFileError(f"{path}: empty metrics file (a job was interrupted?); delete it and rerun") from None
    except pd.errors.ParserError as error:
        raise MetricsFileError(f"{path}: not a readable metrics CSV ({error}); delete it and rerun") from None
    missing = [c for c in METRIC_COLUMNS if c not in frame.columns]
    if missing:
        raise MetricsFileError(f"{path}: not a metrics file of this workflow (missing columns {missing}); delete it and "
                               "rerun")
    if len(frame) != record["rows"]:
        raise MetricsFileError(f"{path}: {len(frame)} rows, its record says {record['rows']}; delete it and rerun")
    numbers = frame[["value", "n", "ci_low", "ci_high"]].apply(pd.to_numeric, errors="coerce").astype(float)
    incomplete = frame[list(REQUIRED_COLUMNS[:5])].isna().any(axis=1) | ~np.isfinite(numbers["value"])
    incomplete |= numbers["n"].notna() & ~np.isfinite(numbers["n"])
    incomplete |= np.isinf(numbers[["ci_low", "ci_high"]]).any(axis=1) | (numbers[["ci_low", "ci_high"]].isna().sum(axis=1) == 1)
    if incomplete.any():
        line = int(incomplete.to_numpy().argmax()) + 2
        raise MetricsFileError(f"{path}:{line}: a row lacks a field or holds a non-finite number; delete it and rerun")
    return frame


def read_metrics(paths: Iterable[Path]) -> pd.DataFrame:
    """Concatenate tidy metric CSVs, each verified against its record (naming the file and line it refuses)."""
    frames = [_read_metrics_file(Path(path)) for path in paths]
    if not frames:
        raise ValueError("no metric files to tabulate")
    return pd.concat(frames, ignore_index=True)
