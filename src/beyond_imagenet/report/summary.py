"""The paper at a glance: Table 1 (measured), the headline board across properties, a card per model, every
paper value beside its reproduction, and the consistency checks between properties that score the same images.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog.paper import paper_model_id, paper_values
from ..catalog.roles import IMAGENET_VAL
from ..config.specs import NO_HEAD_TEXT, ModelSpec
from ..properties import PROPERTIES, Headline, property_def
from .html import Section, inline_svg
from .tables import for_reading, interval_cell, no_head_models, with_paper_values

log = logging.getLogger(__name__)
FLOAT_SLACK = 1e-9  # a difference of exactly the tolerance is within it, whatever float round-off says
ROW_COLUMNS = ["model", "label", "property", "dataset", "key", "metric", "value", "ci_low", "ci_high", "better",
               "axis"]


def declared_headlines(properties: dict[str, dict[str, Any]]) -> list[Headline]:
    """Every headline the enabled per-model properties declare for this config (settings and datasets by property),
    formable or not, in the property table's order."""
    return [headline for prop in PROPERTIES if prop in properties
            for headline in property_def(prop).headlines(properties[prop]["settings"], properties[prop]["datasets"])]


def unformed(headlines: list[Headline]) -> list[str]:
    """One line per headline that cannot be formed, saying which and why."""
    return [f"{h.label} ({h.property}): not formed, {h.missing}" for h in headlines if h.missing]


def _rows_of(metrics: pd.DataFrame, headline: Headline) -> pd.DataFrame:
    of_metric = metrics[(metrics["property"] == headline.property) & (metrics["metric"] == headline.metric)]
    if headline.dataset is not None:
        of_metric = of_metric[of_metric["dataset"] == headline.dataset]
    rows = of_metric[of_metric["key"] == headline.key]
    if rows.empty and headline.fallback_key is not None:
        rows = of_metric[of_metric["key"] == headline.fallback_key]
    return rows


def headline_rows(metrics: pd.DataFrame, headlines: list[Headline]) -> pd.DataFrame:
    """The rows behind each formable headline: model, label, property, dataset, key, metric, value, interval, and
    the metric's orientation; a formed headline without a row for a model is logged."""
    found = []
    for headline in (h for h in headlines if not h.missing):
        rows = _rows_of(metrics, headline)
        absent = sorted(set(metrics["model"]) - set(rows["model"]))
        if absent:
            log.warning("summary: %s has no %s row %s/%s for models %s", headline.label, headline.property,
                        headline.dataset, headline.key, absent)
        for row in rows.itertuples():
            found.append({"model": row.model, "label": headline.label, "property": headline.property,
                          "dataset": row.dataset, "key": row.key, "metric": headline.metric, "value": row.value,
                          "ci_low": row.ci_low, "ci_high": row.ci_high,
                          "better": headline.better, "axis": headline.axis})
    return pd.DataFrame(found, columns=ROW_COLUMNS)


def summary_table(headlines: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    """One row per model, one column per headline metric (in declared order): "value [95% interval]"; a model
    without an ImageNet head says so in the columns of properties that read logits."""
    order = list(dict.fromkeys(headlines["label"]))
    shown = [m for m in models if m in set(headlines["model"]) or models[m].headless]
    table = pd.DataFrame(index=[models[m].display_name for m in shown], columns=order, dtype=object)
    for row in headlines.itertuples():
        table.loc[models[row.model].display_name, row.label] = interval_cell(row.value, row.ci_low, row.ci_high,
                                                                             row.metric)
    for label, prop in dict(zip(headlines["label"], headlines["property"])).items():
        for model in no_head_models(models, prop):
            table.loc[models[model].display_name, label] = NO_HEAD_TEXT
    return table.fillna("n/a").rename_axis("model").reset_index()


def ranks(headlines: pd.DataFrame) -> pd.Series:
    """Rank of each (model, label) row among the models (1 = best, by the metric's direction; none where the paper
    makes no value judgement, as for shape bias), on its index."""
    placed = pd.Series(float("nan"), index=headlines.index)
    for _, group in headlines.groupby("label"):
        better = group["better"].iloc[0]
        if better in ("higher", "lower"):
            placed.loc[group.index] = group["value"].rank(ascending=better == "lower", method="min")
    return placed


DIRECTION_WORDS = {"higher": "higher is better", "lower": "lower is better", None: "the paper calls neither end better"}


def plot_board(headlines: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path,
               not_formed: list[str] = ()) -> list[Path]:
    """Every model on every headline metric, one panel each with the axis in words (never flipped), the intervals,
    and a legend of the models' colours and markers; a board without any headline says why instead. Writes pdf,
    png and svg (the report's landing page inlines the svg)."""
    from ..figures.style import model_styles, paradigm_legend, plt, save_figure  # matplotlib: only the board draws

    formats = ("pdf", "png", "svg")
    labels = list(dict.fromkeys(headlines["label"]))
    if not labels:
        figure = plt.figure(figsize=(6.5, 1.0 + 0.25 * len(not_formed)))
        figure.text(0.02, 0.95, "No headline metric could be formed in this config:\n" + "\n".join(not_formed),
                    va="top", fontsize=8, wrap=True)
        return save_figure(figure, out_base, formats)
    styles = model_styles(models)
    panel_height = 0.55 + 0.26 * len(models)  # inches: the title, the axis words and a row per model
    figure, axes = plt.subplots(len(labels), 1, figsize=(7.5, 0.8 + panel_height * len(labels)), squeeze=False)
    for ax, label in zip(axes[:, 0], labels):
        rows = headlines[headlines["label"] == label]
        present = [m for m in models if m in set(rows["model"])]
        for position, model in enumerate(present):
            row = rows[rows["model"] == model].iloc[0]
            error = None if pd.isna(row.ci_low) else [[row.value - row.ci_low], [row.ci_high - row.value]]
            ax.errorbar(row.value, position, xerr=error, fmt=styles[model].marker, color=styles[model].color,
                        capsize=3, label=models[model].display_name)
        ax.set_yticks(range(len(present)), [models[m].display_name for m in present], fontsize=8)
        ax.set_ylim(-0.7, len(present) - 0.3)
        better = rows["better"].iloc[0]
        ax.set_title(f"{label} ({DIRECTION_WORDS[better if isinstance(better, str) else None]})", fontsize=8,
                     loc="left")
        ax.set_xlabel(rows["axis"].iloc[0], fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    handles = [plt.Line2D([], [], color=styles[m].color, marker=styles[m].marker, linestyle="",
                          label=models[m].display_name) for m in models if m in set(headlines["model"])]
    figure.legend(handles=handles + paradigm_legend(models), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=3, fontsize=7, frameon=False)
    figure.tight_layout()
    return save_figure(figure, out_base, formats)


def table1(models: dict[str, ModelSpec], descriptions: dict[str, dict[str, Any]], metrics: pd.DataFrame,
           accuracy: Headline | None) -> pd.DataFrame:
    """Table 1, measured: architecture, source, pretraining, parameters, GFLOPs, ImageNet top-1 (the accuracy
    property's headline, on the dataset with role imagenet_val), the paper's top-1."""
    paper = paper_values()
    formed = accuracy is not None and not accuracy.missing
    rows = []
    for model, spec in models.items():
        described = descriptions.get(model, {})
        top1 = _rows_of(metrics[metrics["model"] == model], accuracy) if formed else metrics.iloc[:0]
        paper_top1 = paper[(paper["property"] == "accuracy") & (paper["key"] == IMAGENET_VAL)
                           & (paper["metric"] == "top1_pct") & (paper["model"] == paper_model_id(spec))]["value"]
        rows.append({"model": spec.display_name, "architecture": described.get("architecture", ""),
                     "source": spec.source, "name": spec.name, "pretrained": spec.pretrained or "",
                     "paradigm": spec.training, "pretraining_data": spec.pretraining_data,
                     "params_M": described.get("parameters", math.nan) / 1e6,
                     "image_params_M": described.get("image_parameters", math.nan) / 1e6,
                     "input_px": described.get("input_size", math.nan), "gflops": described.get("gflops", math.nan),
                     "gmacs": described.get("gmacs", math.nan),
                     "imagenet_top1": float(top1["value"].iloc[0]) if len(top1) else math.nan,
                     "imagenet_top1_ci": interval_cell(top1["value"].iloc[0], top1["ci_low"].iloc[0],
                                                       top1["ci_high"].iloc[0], "top1_pct") if len(top1)
                     else NO_HEAD_TEXT if spec.headless else "n/a",
                     "paper_top1": float(paper_top1.iloc[0]) if len(paper_top1) else math.nan})
    return pd.DataFrame(rows)


def paper_comparison(metrics: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    """Every paper value of a configured paper model beside the reproduced one, the difference, and whether it lies
    within the paper value's own tolerance (half a unit of its last printed digit; a figure reading's stated +/-)."""
    columns = ["display_name", "property", "dataset", "key", "metric", "value", "ci_low", "ci_high", "paper", "diff",
               "paper_precision", "paper_tolerance", "within_precision"]
    joined = with_paper_values(metrics, models)
    joined = joined[joined["paper"].notna()].copy()
    if joined.empty:
        return pd.DataFrame(columns=columns)
    joined["within_precision"] = joined["diff"].abs() <= joined["paper_tolerance"] + FLOAT_SLACK
    return joined[columns].sort_values(["property", "key", "metric", "display_name"]).reset_index(drop=True)


def consistency(metrics: pd.DataFrame, val_dataset: str | None) -> pd.DataFrame:
    """ImageNet val top-1 of each model from every property that scores the dataset with role imagenet_val
    (`val_dataset`, its id); a mismatch between sources scoring the same images with the same transform is flagged."""
    columns = ["model", "source", "value", "n", "reference", "status"]
    if val_dataset is None:
        log.warning("consistency: no dataset declares role %s; nothing to check", IMAGENET_VAL)
        return pd.DataFrame(columns=columns)
    sources = (("accuracy", IMAGENET_VAL, "top1_pct"), ("calibration", IMAGENET_VAL, "top1_pct"),
               ("robustness", IMAGENET_VAL, "top1_pct"), ("invariance", "scale=1", "top1_pct"),
               ("imagenet_x", "all", "factor_top1_pct"))
    rows = []
    for model in dict.fromkeys(metrics["model"]):
        found = []
        for prop, key, metric in sources:
            hit = metrics[(metrics["model"] == model) & (metrics["property"] == prop)
                          & (metrics["dataset"] == val_dataset) & (metrics["key"] == key) & (metrics["metric"] == metric)]
            if len(hit):
                found.append((prop, key, float(hit["value"].iloc[0]), int(hit["n"].iloc[0])))
        if not found:
            continue
        reference = next((f for f in found if f[0] == "accuracy"), found[0])
        for prop, key, value, n in found:
            same_images = n == reference[3]
            # invariance's scale=1 uses the paper's bilinear transform; it equals val only for a bilinear model
            comparable = same_images and prop != "invariance"
            agrees = abs(value - reference[2]) <= 1e-9
            status = "agrees" if agrees else ("MISMATCH" if comparable else
                                              "differs (other images)" if not same_images else
                                              "differs (the paper's bilinear transform)")
            rows.append({"model": model, "source": f"{prop} ({key})", "value": value, "n": n,
                         "reference": reference[2], "status": status})
    table = pd.DataFrame(rows, columns=columns)
    if table.empty:
        log.warning("consistency: no property scores %r (role %s); nothing to check", val_dataset, IMAGENET_VAL)
    if (table["status"] == "MISMATCH").any():
        log.error("consistency: ImageNet val top-1 disagrees between properties:\n%s",
                  table[table["status"] == "MISMATCH"].to_string(index=False))
    return table


def overview_sections(board_svg: str, summary: pd.DataFrame, not_formed: list[str], first: pd.DataFrame,
                      comparison: pd.DataFrame, checks: pd.DataFrame) -> list[Section]:
    """The report's landing page: the board, the headline table, Table 1, the paper comparison, the consistency
    checks, each with what it shows."""
    within = comparison["within_precision"].astype(bool) if len(comparison) else pd.Series(dtype=bool)
    paper_note = (f"{len(comparison)} of the paper's values have a reproduction here; {int(within.sum())} lie within "
                  "the paper value's own precision (half a unit of its last printed digit, or a figure reading's "
                  "stated +/-)" if len(comparison) else
                  "No configured model is one of the paper's four: nothing to compare with the paper's values.")
    return [Section("every model on every headline", raw=inline_svg(board_svg),
                    notes=["Each panel: a headline metric, its axis in words, the 95% bootstrap interval over images. "
                           "Colour: the model (ViT orange hues, ConvNeXt purple hues, others distinct); marker: "
                           "its paradigm (legend below the board)."]),
            Section("headlines: value [95% interval]", summary, notes=not_formed),
            Section("Table 1, measured", for_reading(first)),
            Section("beside the paper's values", for_reading(comparison) if len(comparison) else None,
                    notes=[paper_note]),
            Section("ImageNet val top-1 from every property that scores it", for_reading(checks),
                    notes=["agrees / MISMATCH: the same images with the same transform must give the same number; "
                           "differs: other images or another transform, as expected."])]
