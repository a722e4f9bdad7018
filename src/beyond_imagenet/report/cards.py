"""A card per model: its Table-1 row, its headline numbers with intervals, its ranks and the paper's values."""

from __future__ import annotations

import pandas as pd

from ..catalog.paper import paper_model_id
from ..config.specs import ModelSpec
from .tables import interval_cell


def card(model: str, spec: ModelSpec, table1_row: pd.Series, headlines: pd.DataFrame, rank: pd.Series,
         paper: pd.DataFrame, n_models: int, not_formed: list[str] = ()) -> str:
    """One model's card in Markdown: its Table-1 row, headline numbers with intervals, rank and the paper's value;
    the headlines this config cannot form, each with why."""
    name = f"`{spec.source}` `{spec.name}`" + (f" `{spec.pretrained}`" if spec.pretrained else "")
    paradigm = f"- paradigm: {spec.training}; family: {spec.family}; pretraining data: {spec.pretraining_data or 'n/a'}"
    size = (f"- parameters: {table1_row['params_M']:.1f} M ({table1_row['image_params_M']:.1f} M in the image tower); "
            f"{table1_row['gflops']:.2f} GFLOPs ({table1_row['gmacs']:.2f} GMACs) at {table1_row['input_px']} px")
    lines = [f"# {spec.display_name}", "", name, "", paradigm, size, "",
             "| headline | value [95% interval] | rank | paper |", "|---|---|---|---|"]
    paper_model = paper_model_id(spec)
    for row in headlines[headlines["model"] == model].itertuples():
        reported = paper[(paper["property"] == row.property) & (paper["key"] == row.key)
                         & (paper["metric"] == row.metric) & (paper["model"] == paper_model)]["value"]
        place = "n/a" if pd.isna(rank.loc[row.Index]) else f"{int(rank.loc[row.Index])} of {n_models}"
        lines.append(f"| {row.label} | {interval_cell(row.value, row.ci_low, row.ci_high)} | {place} | "
                     f"{reported.iloc[0] if len(reported) else 'n/a'} |")
    if not_formed:
        lines += ["", "Not measured in this config:", *(f"- {line}" for line in not_formed)]
    return "\n".join(lines) + "\n"
