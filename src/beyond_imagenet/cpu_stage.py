"""Entry points of the CPU-stage jobs (metrics, tables, figures), called with their rule's params.

Nothing here imports torch, timm, open_clip or matplotlib: a property that needs one (the linear
probe: torch; every figure: matplotlib) imports it itself, so a job starts in about a second.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .cache import read_outputs
from .registry import property_def

log = logging.getLogger(__name__)


def compute_property(prop: str, model: str, refs: list[list[str]], settings: dict[str, Any],
                     datasets: dict[str, dict[str, Any]]) -> tuple[Any, dict]:
    """Tidy metrics of one property for one model, from the (file, dataset key, view) groups it reads, with
    bootstrap intervals on its headline rows; and the per-image outcomes behind them, by (dataset, key, metric)."""
    from .outcomes import with_intervals

    definition = property_def(prop)
    caches = [read_outputs(Path(path), key, view, expect={"model": model}, features=definition.needs_features)
              for path, key, view in refs]
    rows, outcomes = definition.compute()(model, caches, settings, datasets)
    return with_intervals(rows, prop, outcomes), outcomes


def run_compute_properties(model: str, properties: dict[str, dict[str, Any]], outputs: dict[str, Path],
                           outcomes_path: Path | None = None) -> None:
    """Every per-model property of one model, each into its metrics CSV; the per-image outcomes into one file."""
    from .outcomes import write_outcomes
    from .tables import write_metrics

    everything = {}
    for prop, params in properties.items():
        log.info("computing %s for %s from %d cache groups", prop, model, len(params["refs"]))
        rows, outcomes = compute_property(prop, model, params["refs"], params["settings"], params["datasets"])
        everything.update({(prop, *key): outcome for key, outcome in outcomes.items()})
        write_metrics(rows, outputs[prop])
    if outcomes_path is not None:
        write_outcomes(outcomes_path, everything, model)


def run_compare_models(prop: str, params: dict[str, Any], out_path: Path) -> None:
    """A property that compares models, from every model's groups, into one metrics CSV."""
    from .tables import write_metrics

    definition = property_def(prop)
    caches_by_model = {model: [read_outputs(Path(path), key, view, expect={"model": model},
                                            features=definition.needs_features, layers=definition.needs_layers)
                               for path, key, view in refs]
                       for model, refs in params["refs"].items()}
    log.info("comparing %d models on %s", len(caches_by_model), prop)
    write_metrics(definition.compute()(caches_by_model, params["settings"], params["datasets"]), out_path)


def run_report_property(prop: str, settings: dict[str, Any], models: dict[str, dict[str, Any]],
                        metric_paths: list[Path], table_csv: Path, table_md: Path, figure_base: Path,
                        paper_style: dict[str, Path] | None = None) -> None:
    """The property's tidy table (with the paper's values), its paper-style table and its figure."""
    from .config import ModelSpec
    from .tables import paper_style as wide_table
    from .tables import read_metrics, with_paper_values, write_paper_style, write_table

    definition = property_def(prop)
    metrics = read_metrics(metric_paths)
    specs = {model_id: ModelSpec.from_config(model_id, entry) for model_id, entry in models.items()}
    table = with_paper_values(definition.table_rows(metrics), specs)
    write_table(table, table_csv, table_md)
    if paper_style is not None:
        write_paper_style(wide_table(table, definition.paper_metric), paper_style["csv"], paper_style["md"], paper_style["tex"],
                          f"{prop}: {definition.paper_metric or 'no single metric'}, reproduced (paper)")
    definition.plot()(metrics, specs, figure_base, settings)
