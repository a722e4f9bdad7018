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

from ..store.digests import array_digest, text_digest
from .resampling import DRAWS, LEVEL, SEED, bootstrap_interval, mean_interval, mean_value
from .statistics import MeanOf, Outcome

log = logging.getLogger(__name__)
OutcomeKey = tuple[str, str, str, str]  # property, dataset, key, metric
FORMAT = "beyond_imagenet.outcomes/2"  # 2: a digest per outcome and their count


# How every interval is made; recorded beside each metrics file, in the outcomes file and in the paired tests.
INTERVALS = {"method": "percentile bootstrap over images", "draws": DRAWS, "seed": SEED, "level": LEVEL}


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
        if isinstance(outcome, MeanOf):
            low, high = mean_interval(outcome, outcomes, draws, seed, LEVEL)
        else:
            low, high = bootstrap_interval(outcome, draws, seed, LEVEL)
        rows.loc[match, ["ci_low", "ci_high"]] = [low, high]
    return rows


def _outcome_digest(outcome: Outcome | MeanOf) -> str:
    """Digest of what an outcome group stores: its statistic, and its ids and columns (or a mean's components)."""
    if isinstance(outcome, MeanOf):
        return text_digest([outcome.statistic, json.dumps([list(c) for c in outcome.components])])
    parts = [outcome.statistic, text_digest(outcome.ids)]
    parts += [f"{name}:{array_digest(np.asarray(outcome.columns[name], dtype=float))}"
              for name in sorted(outcome.columns)]  # the file lists its columns by name, not in their given order
    return text_digest(parts)


def write_outcomes(path: Path, outcomes: dict[OutcomeKey, Outcome | MeanOf], model: str) -> None:
    """All outcomes of one model in one HDF5 file (each group with its digest), renamed into place when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with h5py.File(partial, "w") as handle:
        handle.attrs.update({"format": FORMAT, "model": model, "bootstrap_draws": DRAWS, "bootstrap_seed": SEED,
                             "level": LEVEL, "outcomes": len(outcomes)})
        # in the order they were computed (properties, then their datasets, as the config lists them), not by id
        for index, ((prop, dataset, key, metric), outcome) in enumerate(outcomes.items()):
            group = handle.create_group(f"o{index:05d}")
            group.attrs.update({"property": prop, "dataset": dataset, "key": key, "metric": metric,
                                "statistic": outcome.statistic, "digest": _outcome_digest(outcome)})
            if isinstance(outcome, MeanOf):
                group.attrs["components"] = json.dumps([list(c) for c in outcome.components])
                continue
            group.create_dataset("ids", data=outcome.ids.astype(object), dtype=h5py.string_dtype())
            for name, column in outcome.columns.items():
                group.create_dataset(f"columns/{name}", data=np.asarray(column, dtype=float))
    os.replace(partial, path)


def read_outcomes(path: Path) -> tuple[str, dict[OutcomeKey, Outcome | MeanOf]]:
    """(model, outcomes) of one outcomes file; a truncated, altered or foreign file is refused by name."""
    try:
        with h5py.File(path, "r") as handle:
            return _read_outcome_groups(Path(path), handle)
    except (OSError, KeyError, ValueError) as error:
        if isinstance(error, OutcomesError):
            raise
        raise OutcomesError(f"{path}: not a readable outcomes file ({error}); it is truncated or damaged — delete it "
                            "and rerun (snakemake recomputes it with the model's properties)") from error


class OutcomesError(ValueError):
    """An outcomes file is not what this workflow wrote: truncated, altered or of another format."""


def _read_outcome_groups(path: Path, handle: h5py.File) -> tuple[str, dict[OutcomeKey, Outcome | MeanOf]]:
    if handle.attrs.get("format") != FORMAT:
        raise OutcomesError(f"{path}: not an outcomes file of this workflow (format {handle.attrs.get('format')!r}); "
                            "delete it and rerun")
    outcomes: dict[OutcomeKey, Outcome | MeanOf] = {}
    for name, group in handle.items():
        key = tuple(str(group.attrs[a]) for a in ("property", "dataset", "key", "metric"))
        if "components" in group.attrs:
            outcome: Outcome | MeanOf = MeanOf(tuple(tuple(c) for c in json.loads(group.attrs["components"])))
        else:
            columns = {column: data[()] for column, data in group["columns"].items()}
            ids = np.asarray([i.decode() if isinstance(i, bytes) else str(i) for i in group["ids"][()]])
            outcome = Outcome(ids, columns, str(group.attrs["statistic"]))
        if _outcome_digest(outcome) != group.attrs.get("digest"):
            raise OutcomesError(f"{path}:{name} ({', '.join(key)}): does not match its digest: the file was changed "
                                "after it was written — delete it and rerun")
        outcomes[key] = outcome
    if len(outcomes) != int(handle.attrs.get("outcomes", -1)):
        raise OutcomesError(f"{path}: holds {len(outcomes)} outcomes, its header says {handle.attrs.get('outcomes')}; "
                            "delete it and rerun")
    return str(handle.attrs["model"]), outcomes
