"""A card per model: its Table-1 row, its headline numbers with intervals, its ranks and the paper's values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalog.labels import imagenet_lemma
from ..catalog.paper import paper_model_id
from ..config.specs import NO_HEAD_TEXT, ModelSpec
from ..properties.class_balance.compute import BALANCE, CLASS_METRIC, CLASS_PREFIX
from .html import Section, write_page
from .tables import interval_cell, no_head_models


def card_facts(spec: ModelSpec, table1_row: pd.Series) -> list[str]:
    """What the model is: library, name and tag; paradigm, family, pretraining data; size and cost."""
    name = f"`{spec.source}` `{spec.name}`" + (f" `{spec.pretrained}`" if spec.pretrained else "")
    paradigm = f"paradigm: {spec.training}; family: {spec.family}; pretraining data: {spec.pretraining_data or 'n/a'}"
    size = (f"parameters: {table1_row['params_M']:.1f} M ({table1_row['image_params_M']:.1f} M in the image tower); "
            f"{table1_row['gflops']:.2f} GFLOPs ({table1_row['gmacs']:.2f} GMACs) at {table1_row['input_px']} px")
    return [name, paradigm, size]


def card_rows(model: str, spec: ModelSpec, headlines: pd.DataFrame, rank: pd.Series, paper: pd.DataFrame,
              n_models: int) -> pd.DataFrame:
    """One row per headline: value [95% interval] with the metric's digits, rank (none where the paper calls
    neither end better), the paper's value."""
    rows = []
    paper_model = paper_model_id(spec)
    for row in headlines[headlines["model"] == model].itertuples():
        reported = paper[(paper["property"] == row.property) & (paper["key"] == row.key)
                         & (paper["metric"] == row.metric) & (paper["model"] == paper_model)]["value"]
        place = "n/a" if pd.isna(rank.loc[row.Index]) else f"{int(rank.loc[row.Index])} of {n_models}"
        rows.append({"headline": row.label, "value [95% interval]": interval_cell(row.value, row.ci_low, row.ci_high,
                                                                                   row.metric),
                     "rank": place, "paper": f"{reported.iloc[0]}" if len(reported) else "n/a"})
    if spec.headless:  # the headlines of properties that read logits, each saying why it has no value
        for label, prop in dict(zip(headlines["label"], headlines["property"])).items():
            if no_head_models({model: spec}, prop):
                rows.append({"headline": label, "value [95% interval]": NO_HEAD_TEXT, "rank": "n/a", "paper": "n/a"})
        order = list(dict.fromkeys(headlines["label"]))  # the summary's column order
        rows.sort(key=lambda row: order.index(row["headline"]))
    return pd.DataFrame(rows, columns=["headline", "value [95% interval]", "rank", "paper"])


WEAKEST_CLASSES = 5


def weakest_classes(metrics: pd.DataFrame, model: str, count: int = WEAKEST_CLASSES) -> list[str]:
    """Per dataset with per-class top-1 rows: the model's `count` weakest classes (lowest top-1, then by wnid), the
    dataset named by its role where it has one."""
    of_model = metrics[metrics["model"] == model]
    rows = of_model[of_model["metric"] == CLASS_METRIC]
    # a dataset is named by the key of its balance rows (its role, else its id), as the summary names it
    names = dict(zip(of_model.loc[of_model["metric"] == BALANCE, "dataset"],
                     of_model.loc[of_model["metric"] == BALANCE, "key"]))
    lines = []
    for dataset, of_set in rows.groupby("dataset", sort=False):
        weakest = of_set.sort_values(["value", "key"]).head(count)
        named = [f"{imagenet_lemma(key.removeprefix(CLASS_PREFIX))} {value:.1f}% (n {n})"
                 for key, value, n in zip(weakest["key"], weakest["value"], weakest["n"])]
        lines.append(f"weakest classes on {names.get(dataset, dataset)} (top-1 of the class): " + "; ".join(named))
    return lines


def card(model: str, spec: ModelSpec, table1_row: pd.Series, headlines: pd.DataFrame, rank: pd.Series,
         paper: pd.DataFrame, n_models: int, not_formed: list[str] = (), details: list[str] = ()) -> str:
    """One model's card in Markdown: its Table-1 row, headline numbers with intervals, rank and the paper's value;
    details (its weakest classes); the headlines this config cannot form, each with why."""
    name, paradigm, size = card_facts(spec, table1_row)
    table = card_rows(model, spec, headlines, rank, paper, n_models)
    lines = [f"# {spec.display_name}", "", name, "", f"- {paradigm}", f"- {size}", "",
             table.to_markdown(index=False) if len(table) else "(no headline measured)"]
    if details:
        lines += ["", *(f"- {line}" for line in details)]
    if not_formed:
        lines += ["", "Not measured in this config:", *(f"- {line}" for line in not_formed)]
    return "\n".join(lines) + "\n"


def write_card_html(path: Path, model: str, spec: ModelSpec, table1_row: pd.Series, headlines: pd.DataFrame,
                    rank: pd.Series, paper: pd.DataFrame, n_models: int, not_formed: list[str] = (),
                    details: list[str] = ()) -> None:
    """The card as a page of the report."""
    table = card_rows(model, spec, headlines, rank, paper, n_models)
    sections = [Section("what it is", notes=card_facts(spec, table1_row)), Section("headlines", table)]
    if details:
        sections.append(Section("details", notes=list(details)))
    if not_formed:
        sections.append(Section("not measured in this config", notes=not_formed))
    write_page(path, spec.display_name, sections)
