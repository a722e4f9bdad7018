"""Entry points of the CPU-stage jobs (metrics, tables, figures), called with their rule's params.

Nothing here imports torch, timm, open_clip or matplotlib: a property that needs one (the linear
probe: torch; every figure: matplotlib) imports it itself, so a job starts in about a second.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog.paper import paper_values
from ..catalog.roles import IMAGENET_VAL
from ..config.specs import ModelSpec
from ..properties import property_def
from ..report.cards import card, weakest_classes, write_card_html
from ..report.html import Section, write_page
from ..report.pairs import paired_rows
from ..report.summary import (
    consistency,
    declared_headlines,
    headline_rows,
    overview_sections,
    paper_comparison,
    plot_board,
    ranks,
    summary_table,
    table1,
    unformed,
)
from ..report.tables import (
    for_reading,
    metric_notes,
    no_head_notes,
    paper_style_caption,
    with_no_head_rows,
    with_paper_values,
    write_paper_style,
    write_table,
)
from ..report.tables import paper_style as wide_table
from ..report.units import INTERVAL_NOTE, N_NOTE, format_value
from ..stats.outcomes import INTERVALS, with_intervals, write_outcomes
from ..store.cache import read_outputs
from ..store.rows import metric_frame, read_metrics, write_metrics

log = logging.getLogger(__name__)


def compute_property(prop: str, model: str, refs: list[list[str]], settings: dict[str, Any],
                     datasets: dict[str, dict[str, Any]]) -> tuple[Any, dict]:
    """Tidy metrics of one property for one model, from the (file, dataset key, view) groups it reads, with
    bootstrap intervals on its headline rows; and the per-image outcomes behind them, by (dataset, key, metric)."""

    definition = property_def(prop)
    caches = [read_outputs(Path(path), key, view, expect={"model": model}, features=definition.needs_features,
                           logits=definition.needs_logits)
              for path, key, view in refs]
    rows, outcomes = definition.compute()(model, caches, settings, datasets)
    return with_intervals(rows, prop, outcomes), outcomes


def run_compute_properties(model: str, properties: dict[str, dict[str, Any]], outputs: dict[str, Path],
                           outcomes_path: Path | None = None) -> None:
    """Every per-model property of one model, each into its metrics CSV; the per-image outcomes into one file."""

    everything = {}
    for prop, params in properties.items():
        if params.get("skipped"):
            log.info("%s for %s: skipped (%s)", prop, model, params["skipped"])
            write_metrics(metric_frame([]), outputs[prop], skipped=params["skipped"])
            continue
        log.info("computing %s for %s from %d cache groups", prop, model, len(params["refs"]))
        rows, outcomes = compute_property(prop, model, params["refs"], params["settings"], params["datasets"])
        everything.update({(prop, *key): outcome for key, outcome in outcomes.items()})
        write_metrics(rows, outputs[prop], INTERVALS)
    if outcomes_path is not None:
        write_outcomes(outcomes_path, everything, model)


def run_compare_models(prop: str, params: dict[str, Any], out_path: Path) -> None:
    """A property that compares models, from every model's groups, into one metrics CSV."""

    definition = property_def(prop)
    caches_by_model = {model: [read_outputs(Path(path), key, view, expect={"model": model},
                                            features=definition.needs_features, layers=definition.needs_layers,
                                            logits=definition.needs_logits)
                               for path, key, view in refs]
                       for model, refs in params["refs"].items()}
    log.info("comparing %d models on %s", len(caches_by_model), prop)
    write_metrics(definition.compute()(caches_by_model, params["settings"], params["datasets"]), out_path)


def run_report_property(prop: str, settings: dict[str, Any], models: dict[str, dict[str, Any]],
                        metric_paths: list[Path], table_csv: Path, table_md: Path, figure_base: Path,
                        paper_style: dict[str, Path] | None = None, table_html: Path | None = None) -> None:
    """The property's tidy table (with the paper's values), its paper-style table, one page with both (the
    report's entry), and its figure."""
    definition = property_def(prop)
    metrics = read_metrics(metric_paths)
    specs = {model_id: ModelSpec.from_config(model_id, entry) for model_id, entry in models.items()}
    table = with_paper_values(definition.table_rows(metrics), specs)
    notes = [N_NOTE, INTERVAL_NOTE, *no_head_notes(specs, prop)]
    write_table(table, table_csv, table_md, title=f"{prop}: every row", notes=notes)
    wide = with_no_head_rows(wide_table(table, definition.paper_metric), specs, prop)
    caption = paper_style_caption(prop, definition.paper_metric)
    if paper_style is not None:
        write_paper_style(wide, paper_style["csv"], paper_style["md"], paper_style["tex"], caption)
    if table_html is not None:
        write_page(table_html, prop, [Section(caption, wide.reset_index() if len(wide.columns) else None),
                                      Section("every row", for_reading(table), notes + metric_notes(table))])
    definition.plot()(metrics, specs, figure_base, settings)


def run_report_summary(metric_paths: list[Path], description_paths: list[Path], models: dict[str, dict[str, Any]],
                       out: dict[str, Path], cards_dir: Path, properties: dict[str, dict[str, Any]],
                       val_dataset: str | None) -> None:
    """The report_summary job: Table 1, summary table and board, cards, paper comparison, consistency checks.

    `properties`: each per-model property's settings and datasets (what its headlines are declared from);
    `val_dataset`: the id of the dataset with role imagenet_val, if any (the consistency checks).
    """
    specs = {model_id: ModelSpec.from_config(model_id, entry) for model_id, entry in models.items()}
    metrics = read_metrics(metric_paths)
    metrics = metrics[metrics["model"].isin(specs)]  # rows of one model each (not a comparison's "a|b" rows)
    descriptions = {d["model"]: d for d in (json.loads(Path(p).read_text()) for p in description_paths)}
    declared = declared_headlines(properties)
    not_formed = unformed(declared)
    for line in not_formed:
        log.warning("summary: %s", line)
    accuracy = next((h for h in declared if h.property == "accuracy"), None)
    first = table1(specs, descriptions, metrics, accuracy)
    write_table(first, out["table1_csv"], out["table1_md"])
    if accuracy is not None and accuracy.missing:
        _append(out["table1_md"], [f"ImageNet top-1: {accuracy.missing}"])
    headlines = headline_rows(metrics, declared)
    summary = summary_table(headlines, specs)
    write_table(summary, out["summary_csv"], out["summary_md"])
    _append(out["summary_md"], not_formed)
    plot_board(headlines, specs, out["summary_png"].with_suffix(""), not_formed)
    comparison = paper_comparison(metrics, specs)
    if comparison.empty:
        out["paper_md"].write_text("No configured model is one of the paper's four, so there is nothing to compare "
                                   "with the paper's values.\n")
        comparison.to_csv(out["paper_csv"], index=False)
    else:
        write_table(comparison, out["paper_csv"], out["paper_md"])
    checks = consistency(metrics, val_dataset)
    write_table(checks, out["consistency_csv"], out["consistency_md"])
    if checks.empty:
        _append(out["consistency_md"], [f"Nothing to check: no property scores a dataset with role {IMAGENET_VAL}"
                                        + ("" if val_dataset is None else f" ({val_dataset})")])
    write_page(out["overview_html"], "Beyond ImageNet accuracy: the results",
               overview_sections(out["summary_svg"].read_text(), summary, not_formed, first, comparison, checks))
    rank = ranks(headlines) if len(headlines) else pd.Series(dtype=float)
    cards_dir.mkdir(parents=True, exist_ok=True)
    paper = paper_values()
    for index, (model, spec) in enumerate(specs.items()):
        details = weakest_classes(metrics, model)
        text = card(model, spec, first.iloc[index], headlines, rank, paper, len(specs), not_formed, details)
        (cards_dir / f"{model}.md").write_text(text)
        write_card_html(cards_dir / f"{model}.html", model, spec, first.iloc[index], headlines, rank, paper,
                        len(specs), not_formed, details)
    log.info("summary: %d headline metrics x %d models (%d not formed); %d paper values compared",
             len(set(headlines["label"])), len(specs), len(not_formed), len(comparison))


def _append(md_path: Path, lines: list[str]) -> None:
    """Lines under a Markdown table (what a table cannot show: why a column or row is absent)."""
    if lines:
        with open(md_path, "a") as handle:
            handle.write("\n" + "".join(f"- {line}\n" for line in lines))


PAIRED_COLUMNS = {"pair": "pair (A − B)", "dataset": "dataset", "key": "key", "metric": "metric", "n": "n",
                  "value_a": "A", "value_b": "B", "difference": "A − B", "interval": "95% interval",
                  "p_bootstrap": "p (bootstrap)", "p_mcnemar": "p (McNemar)", "paper_difference": "paper's A − B",
                  "paper_claim": "the paper's direction"}


def paired_sections(table: pd.DataFrame) -> list[Section]:
    """The paired tests per property, the columns a reader needs first (the full table is the CSV)."""
    sections = []
    for prop, rows in table.groupby("property", sort=False):
        shown = rows.assign(pair=rows["model_a"] + " − " + rows["model_b"] + " (" + rows["contrast"] + ")",
                            interval=["" if pd.isna(low) else f"[{format_value(metric, low)}, {format_value(metric, high)}]"
                                      for low, high, metric in zip(rows["ci_low"], rows["ci_high"], rows["metric"])])
        shown = for_reading(shown)[list(PAIRED_COLUMNS)].rename(columns=PAIRED_COLUMNS)
        sections.append(Section(str(prop), shown, metric_notes(rows)))
    return sections


def run_paired_tests(outcome_files: list[Path], models: dict[str, dict[str, Any]], declared: list[list[str]],
                     csv_path: Path, md_path: Path, html_path: Path | None = None) -> None:
    """The compare_pairs job: every paired test as CSV; for reading, one section per property (Markdown, HTML)."""
    specs = {model_id: ModelSpec.from_config(model_id, entry) for model_id, entry in models.items()}
    table = paired_rows(outcome_files, specs, declared)
    if table.empty:
        log.warning("no pair of models shares a headline metric: the paired-tests table is empty")
        table = pd.DataFrame(columns=["model_a", "model_b", "contrast", "property", "dataset", "key", "metric"])
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    sections = paired_sections(table) if len(table) else []
    notes = [PAIRED_NOTE]
    md_path.write_text("# Paired tests on the same images\n\n" + "".join(f"- {n}\n" for n in notes) + "".join(
        f"\n## {s.heading}\n\n" + s.table.to_markdown(index=False) + "\n" for s in sections)
        + ("" if sections else "\n(no pair of models shares a headline metric)\n"))
    if html_path is not None:
        write_page(html_path, "Paired tests on the same images", [Section("how to read", notes=notes), *sections])


PAIRED_NOTE = ("A − B on the images both models were scored on; its 95% interval: a paired percentile bootstrap "
               "(the same images drawn for both models, 1,000 resamples, seed 0); p (McNemar): McNemar's exact test "
               "for top-1. The paper's direction: supported (the interval excludes 0 on the paper's side), not "
               "resolved (it includes 0, or is undefined), contradicted, or the paper's sign is not established "
               "(its two values are within their rounding).")
