"""Tables: metric rows of all models side by side with the paper's reported values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalog.paper import paper_model_id, paper_values
from ..config.specs import NO_HEAD_TEXT, ModelSpec
from ..properties import property_def
from .html import Section, write_page
from .units import describe, format_value


def no_head_models(models: dict[str, ModelSpec], prop: str) -> list[str]:
    """The models a property was not computed for: they have no ImageNet head and it reads 1000-way logits."""
    return [model for model, spec in models.items() if spec.headless and property_def(prop).needs_logits]


def with_no_head_rows(wide: pd.DataFrame, models: dict[str, ModelSpec], prop: str) -> pd.DataFrame:
    """A paper-style table with a row saying "no ImageNet head" for each model the property was not computed for."""
    skipped = [models[m].display_name for m in no_head_models(models, prop)]
    if not skipped or not len(wide.columns):
        return wide
    extra = pd.DataFrame(NO_HEAD_TEXT, index=pd.Index(skipped, name=wide.index.name), columns=wide.columns)
    return pd.concat([wide, extra])


def no_head_notes(models: dict[str, ModelSpec], prop: str) -> list[str]:
    """A line per model the property was not computed for, saying why (the tidy table has no row for it)."""
    return [f"{models[m].display_name}: {NO_HEAD_TEXT} (head: none); {prop} reads 1000-way logits"
            for m in no_head_models(models, prop)]


def with_paper_values(metrics: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    """Add display name, the paper's value and reproduced − paper, where the model is a paper model."""
    table = metrics.copy()
    table["display_name"] = table["model"].map(lambda m: models[m].display_name)
    table["paper_model"] = table["model"].map(lambda m: paper_model_id(models[m]))
    paper = paper_values().rename(columns={"model": "paper_model", "value": "paper", "precision": "paper_precision",
                                           "tolerance": "paper_tolerance"})
    table = table.merge(paper, on=["property", "metric", "key", "paper_model"], how="left")
    table["diff"] = table["value"] - table["paper"]
    return table.drop(columns=["paper_model"])


VALUE_COLUMNS = ("value", "ci_low", "ci_high", "paper", "diff", "paper_tolerance", "value_a", "value_b",
                 "difference", "paper_difference")


def interval_cell(value: float, low: float, high: float, metric: str = "") -> str:
    """A value with its 95% interval, "value [low, high]", with the metric's digits; or "n/a"."""
    if pd.isna(value):
        return "n/a"
    text = format_value(metric, value)
    return text if pd.isna(low) else f"{text} [{format_value(metric, low)}, {format_value(metric, high)}]"


def for_reading(table: pd.DataFrame) -> pd.DataFrame:
    """A copy whose numbers are text with their metric's digits (percentages 2, fractions 4, counts 0), where the
    table says the metric of each row; other floats with 4 significant digits."""
    shown = table.copy()
    if "metric" in shown:
        for column in (c for c in VALUE_COLUMNS if c in shown):
            shown[column] = [format_value(metric, value) if not pd.isna(value) else ""
                             for metric, value in zip(shown["metric"], shown[column])]
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown


def metric_notes(table: pd.DataFrame) -> list[str]:
    """One line per metric of a table: what it measures, in its unit."""
    metrics = list(dict.fromkeys(table["metric"])) if "metric" in table else []
    return [f"{metric}: {describe(metric)[0]}" for metric in metrics if not metric.startswith("bin")]


def write_table(table: pd.DataFrame, csv_path: Path, md_path: Path, html_path: Path | None = None, title: str = "",
                notes: list[str] | None = None) -> None:
    """Write a table as CSV (all digits), and as Markdown (and HTML) for reading: each number with its metric's
    digits, under the notes that say what the metrics, `n` and the intervals are."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    notes = (notes if notes is not None else []) + metric_notes(table)
    shown = for_reading(table)
    header = "".join(f"- {note}\n" for note in notes)
    md_path.write_text((f"# {title}\n\n" if title else "") + (header + "\n" if header else "")
                       + shown.to_markdown(index=False) + "\n")
    if html_path is not None:
        write_page(html_path, title or csv_path.stem, [Section(title or csv_path.stem, shown, notes)])


def paper_style(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows = models, columns = the keys of one metric (datasets, factors, views), each cell "reproduced (paper)"
    where the paper reports the value; detail keys ("a/b") stay in the tidy table."""
    rows = table[(table["metric"] == metric) & ~table["key"].astype(str).str.contains("/")]
    if rows.empty:
        return pd.DataFrame()

    def cell(row: pd.Series) -> str:
        text = format_value(metric, row["value"])
        return text if pd.isna(row.get("paper")) else f"{text} ({format_value(metric, row['paper'])})"

    cells = rows.assign(cell=rows.apply(cell, axis=1))
    wide = cells.pivot_table(index="display_name", columns="key", values="cell", aggfunc="first", sort=False)
    return wide.reindex(columns=list(dict.fromkeys(cells["key"]))).fillna("").rename_axis(index="model", columns=None)


def paper_style_caption(prop: str, metric: str) -> str:
    """What a paper-style table shows: the property, its metric in words and unit, how a cell reads."""
    if not metric:
        return f"{prop}: no single metric (see the tidy table)"
    return f"{prop}: {describe(metric)[0]}; each cell: reproduced (the paper's value, where it reports one)"


def write_paper_style(wide: pd.DataFrame, csv_path: Path, md_path: Path, tex_path: Path, caption: str) -> None:
    """The paper-style table as CSV, Markdown (under its caption) and a LaTeX tabular."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    if wide.empty:
        wide = pd.DataFrame({"model": []}).set_index("model")
    wide.to_csv(csv_path)
    md_path.write_text(f"{caption}\n\n" + (wide.to_markdown() + "\n" if len(wide.columns) else "(no rows)\n"))
    tex_path.write_text(wide.to_latex(caption=caption, escape=True) if len(wide.columns)
                        else "% no rows\n")
