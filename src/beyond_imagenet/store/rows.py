"""The tidy-row contract of every metrics file: one row per (model, property, dataset, key, metric)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

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


def write_metrics(rows: pd.DataFrame, path: Path) -> None:
    """Write a tidy metrics CSV atomically (a killed job leaves no half-written file under the real name)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"{path}: metric rows lack columns {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    rows.reindex(columns=list(METRIC_COLUMNS)).to_csv(partial, index=False)
    os.replace(partial, path)


def _read_metrics_file(path: Path) -> pd.DataFrame:
    """One metrics CSV, refused (naming the file and line) when empty, cut short or not of this workflow."""
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty metrics file (a job was interrupted?); delete it and rerun") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path}: not a readable metrics CSV ({error}); delete it and rerun") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a metrics file of this workflow (missing columns {missing}); delete it and rerun")
    incomplete = frame[list(REQUIRED_COLUMNS[:5])].isna().any(axis=1) | ~frame["n"].notna().eq(frame["n"].notna().iloc[0])
    if frame.empty or incomplete.any():
        line = int(incomplete.to_numpy().argmax()) + 2 if not frame.empty else 1
        raise ValueError(f"{path}:{line}: a row lacks fields (the file was cut short?); delete it and rerun")
    return frame


def read_metrics(paths: Iterable[Path]) -> pd.DataFrame:
    """Concatenate tidy metric CSVs, refusing one that lacks the contract's columns (naming the file)."""
    frames = [_read_metrics_file(Path(path)) for path in paths]
    if not frames:
        raise ValueError("no metric files to tabulate")
    return pd.concat(frames, ignore_index=True)
