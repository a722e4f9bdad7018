"""Tables: metric rows of all models side by side with the paper's reported values."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .config import ModelSpec
from .paper import paper_model_id, paper_values
from .rows import METRIC_COLUMNS, REQUIRED_COLUMNS


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


def with_paper_values(metrics: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    """Add display name, the paper's value and reproduced − paper, where the model is a paper model."""
    table = metrics.copy()
    table["display_name"] = table["model"].map(lambda m: models[m].display_name)
    table["paper_model"] = table["model"].map(lambda m: paper_model_id(models[m]))
    paper = paper_values().rename(columns={"model": "paper_model", "value": "paper", "precision": "paper_precision"})
    table = table.merge(paper, on=["property", "metric", "key", "paper_model"], how="left")
    table["diff"] = table["value"] - table["paper"]
    return table.drop(columns=["paper_model"])


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
