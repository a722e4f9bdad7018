"""The tidy-row contract of every metrics file: one row per (model, property, dataset, key, metric)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
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
