"""Tables: metric rows of all models side by side with the paper's reported values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalog.paper import paper_model_id, paper_values
from ..config.specs import ModelSpec


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


def interval_cell(value: float, low: float, high: float) -> str:
    """A value with its 95% interval, "value [low, high]" (4 significant digits), or "n/a"."""
    if pd.isna(value):
        return "n/a"
    text = f"{value:.4g}"
    return text if pd.isna(low) else f"{text} [{low:.4g}, {high:.4g}]"


def write_table(table: pd.DataFrame, csv_path: Path, md_path: Path) -> None:
    """Write a table as CSV (all digits) and Markdown (4 significant digits, for reading)."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    # 4 significant digits: ECE-like fractions (0.0415) and chosen weight decays (1e-06) must survive.
    md_path.write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")


def paper_style(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows = models, columns = the keys of one metric (datasets, factors, views), each cell "reproduced (paper)"
    where the paper reports the value; detail keys ("a/b") stay in the tidy table."""
    rows = table[(table["metric"] == metric) & ~table["key"].astype(str).str.contains("/")]
    if rows.empty:
        return pd.DataFrame()

    def cell(row: pd.Series) -> str:
        text = f"{row['value']:.4g}"
        return text if pd.isna(row.get("paper")) else f"{text} ({row['paper']:.4g})"

    cells = rows.assign(cell=rows.apply(cell, axis=1))
    wide = cells.pivot_table(index="display_name", columns="key", values="cell", aggfunc="first", sort=False)
    return wide.reindex(columns=list(dict.fromkeys(cells["key"]))).fillna("").rename_axis(index="model", columns=None)


def write_paper_style(wide: pd.DataFrame, csv_path: Path, md_path: Path, tex_path: Path, caption: str) -> None:
    """The paper-style table as CSV, Markdown and a LaTeX tabular."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    if wide.empty:
        wide = pd.DataFrame({"model": []}).set_index("model")
    wide.to_csv(csv_path)
    md_path.write_text(wide.to_markdown() + "\n" if len(wide.columns) else "(no rows)\n")
    tex_path.write_text(wide.to_latex(caption=caption, escape=True) if len(wide.columns)
                        else "% no rows\n")
