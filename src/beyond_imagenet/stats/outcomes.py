"""Per-image outcomes of one model's headline metrics: their bootstrap intervals, and the file paired tests read.

`results/outcomes/{model}.h5` holds one group per (property, dataset, key, metric): the image ids and the columns
its statistic reads (beyond_imagenet.stats), written whole (a killed job leaves no file under the real name).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .resampling import DRAWS, LEVEL, SEED, bootstrap_interval, mean_interval, mean_value
from .statistics import MeanOf, Outcome

log = logging.getLogger(__name__)
OutcomeKey = tuple[str, str, str, str]  # property, dataset, key, metric
FORMAT = "beyond_imagenet.outcomes/1"


def with_intervals(rows: pd.DataFrame, prop: str, outcomes: dict[tuple[str, str, str], Outcome | MeanOf],
                   draws: int = DRAWS, seed: int = SEED) -> pd.DataFrame:
    """Fill ci_low / ci_high of each row with per-image outcomes; an outcome that disagrees with its row is an error."""
    rows = rows.copy()
    for (dataset, key, metric), outcome in outcomes.items():
        match = (rows["dataset"] == dataset) & (rows["key"] == key) & (rows["metric"] == metric)
        if match.sum() != 1:
            raise ValueError(f"{prop}: {match.sum()} rows for outcome ({dataset}, {key}, {metric}); expected one")
        value = float(rows.loc[match, "value"].iloc[0])
        found = mean_value(outcome, outcomes) if isinstance(outcome, MeanOf) else outcome.value()
        if not np.isclose(found, value, rtol=1e-9, atol=1e-9, equal_nan=True):
            raise ValueError(f"{prop} ({dataset}, {key}, {metric}): the per-image outcomes give {found}, "
                             f"the metric row says {value}; the two computations disagree")
        if rows.loc[match, ["ci_low", "ci_high"]].notna().all(axis=None):
            continue  # the property computed its own interval (calibration)
        if isinstance(outcome, MeanOf):
            low, high = mean_interval(outcome, outcomes, draws, seed, LEVEL)
        else:
            low, high = bootstrap_interval(outcome, draws, seed, LEVEL)
        rows.loc[match, ["ci_low", "ci_high"]] = [low, high]
    return rows


def write_outcomes(path: Path, outcomes: dict[OutcomeKey, Outcome | MeanOf], model: str) -> None:
    """All outcomes of one model in one HDF5 file, renamed into place when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with h5py.File(partial, "w") as handle:
        handle.attrs.update({"format": FORMAT, "model": model, "bootstrap_draws": DRAWS, "bootstrap_seed": SEED,
                             "level": LEVEL})
        # in the order they were computed (properties, then their datasets, as the config lists them), not by id
        for index, ((prop, dataset, key, metric), outcome) in enumerate(outcomes.items()):
            group = handle.create_group(f"o{index:05d}")
            group.attrs.update({"property": prop, "dataset": dataset, "key": key, "metric": metric,
                                "statistic": outcome.statistic})
            if isinstance(outcome, MeanOf):
                group.attrs["components"] = json.dumps([list(c) for c in outcome.components])
                continue
            group.create_dataset("ids", data=outcome.ids.astype(object), dtype=h5py.string_dtype())
            for name, column in outcome.columns.items():
                group.create_dataset(f"columns/{name}", data=np.asarray(column, dtype=float))
    os.replace(partial, path)


def read_outcomes(path: Path) -> tuple[str, dict[OutcomeKey, Outcome]]:
    """(model, outcomes) of one outcomes file; a file of another format is refused by name."""
    with h5py.File(path, "r") as handle:
        if handle.attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not an outcomes file of this workflow (format {handle.attrs.get('format')!r}); "
                             "delete it and rerun")
        outcomes = {}
        for group in handle.values():
            key = tuple(str(group.attrs[a]) for a in ("property", "dataset", "key", "metric"))
            if "components" in group.attrs:
                outcomes[key] = MeanOf(tuple(tuple(c) for c in json.loads(group.attrs["components"])))
                continue
            columns = {name: column[()] for name, column in group["columns"].items()}
            ids = np.asarray([i.decode() if isinstance(i, bytes) else str(i) for i in group["ids"][()]])
            outcomes[key] = Outcome(ids, columns, str(group.attrs["statistic"]))
        return str(handle.attrs["model"]), outcomes
