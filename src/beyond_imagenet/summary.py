"""The paper at a glance: Table 1 (measured), the headline board across properties, a card per model, every
paper value beside its reproduction, and the consistency checks between properties that score the same images.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import ModelSpec
from .paper import paper_model_id, paper_values
from .tables import read_metrics, with_paper_values, write_table

log = logging.getLogger(__name__)
VAL = "imagenet_val"


@dataclass(frozen=True)
class Headline:
    """One headline metric: a column of the summary, an axis of the board."""

    label: str
    property: str
    key: str
    metric: str
    higher_is_better: bool = True
    dataset: str | None = None  # None: any dataset whose row has this key
    fallback_key: str | None = None  # used when `key` is absent (VTAB: "average" over the tasks present, not all 19)


HEADLINES = (
    Headline("ImageNet top-1 (%)", "accuracy", VAL, "top1_pct"),
    Headline("ECE (val)", "calibration", VAL, "ece_15bin", higher_is_better=False),
    Headline("ImageNet-X mean error ratio", "imagenet_x", "average", "error_ratio", higher_is_better=False),
    Headline("robustness: mean of 7 shifted sets (%)", "robustness", "average_7_shifted", "top1_pct"),
    Headline("shape bias (share of shape decisions)", "shape_bias", "cue_conflict", "shape_bias"),
    Headline("PUG-ImageNet mean top-1 (%)", "pug_imagenet", "average", "top1_pct"),
    Headline("VTAB linear probe, mean (%)", "transfer", "average_19", "linear_probe_top1_pct",
             fallback_key="average"),
    Headline("invariance: scale=3 top-1 (%)", "invariance", "scale=3", "top1_pct"),
)


def headline_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows behind each headline metric present: model, label, value, ci_low, ci_high, higher_is_better."""
    found = []
    for headline in HEADLINES:
        of_metric = metrics[(metrics["property"] == headline.property) & (metrics["metric"] == headline.metric)]
        rows = of_metric[of_metric["key"] == headline.key]
        if rows.empty and headline.fallback_key is not None:
            rows = of_metric[of_metric["key"] == headline.fallback_key]
        if headline.dataset is not None:
            rows = rows[rows["dataset"] == headline.dataset]
        for row in rows.itertuples():
            found.append({"model": row.model, "label": headline.label, "property": headline.property,
                          "key": headline.key, "metric": headline.metric, "value": row.value,
                          "ci_low": row.ci_low, "ci_high": row.ci_high,
                          "higher_is_better": headline.higher_is_better})
    return pd.DataFrame(found, columns=["model", "label", "property", "key", "metric", "value", "ci_low",
                                        "ci_high", "higher_is_better"])


def _cell(value: float, low: float, high: float) -> str:
    if pd.isna(value):
        return "n/a"
    text = f"{value:.4g}"
    return text if pd.isna(low) else f"{text} [{low:.4g}, {high:.4g}]"


def summary_table(headlines: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    """One row per model, one column per headline metric: "value [95% interval]"."""
    order = [h.label for h in HEADLINES if h.label in set(headlines["label"])]
    table = pd.DataFrame(index=[models[m].display_name for m in models if m in set(headlines["model"])],
                         columns=order, dtype=object)
    for row in headlines.itertuples():
        table.loc[models[row.model].display_name, row.label] = _cell(row.value, row.ci_low, row.ci_high)
    return table.fillna("n/a").rename_axis("model").reset_index()


def ranks(headlines: pd.DataFrame) -> pd.Series:
    """Rank of each (model, label) row among the models (1 = best, by the metric's orientation), on its index."""
    placed = pd.Series(float("nan"), index=headlines.index)
    for _, group in headlines.groupby("label"):
        ascending = not bool(group["higher_is_better"].iloc[0])
        placed.loc[group.index] = group["value"].rank(ascending=ascending, method="min")
    return placed


def plot_board(headlines: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path) -> list[Path]:
    """Every model on every headline metric, one panel each, better to the right, with the intervals."""
    from .plots.style import model_color, plt, save_figure

    labels = [h.label for h in HEADLINES if h.label in set(headlines["label"])]
    figure, axes = plt.subplots(len(labels), 1, figsize=(6.5, 0.55 + 0.32 * len(models) * len(labels)),
                                squeeze=False)
    for ax, label in zip(axes[:, 0], labels):
        rows = headlines[headlines["label"] == label]
        present = [m for m in models if m in set(rows["model"])]
        for position, model in enumerate(present):
            row = rows[rows["model"] == model].iloc[0]
            error = None if pd.isna(row.ci_low) else [[row.value - row.ci_low], [row.ci_high - row.value]]
            ax.errorbar(row.value, position, xerr=error, fmt="o", color=model_color(models[model]), capsize=3)
        ax.set_yticks(range(len(present)), [models[m].display_name for m in present], fontsize=8)
        ax.set_ylim(-0.7, len(present) - 0.3)
        better = bool(rows["higher_is_better"].iloc[0])
        if not better:
            ax.invert_xaxis()  # every axis reads "better to the right"
        ax.set_title(f"{label} ({'higher' if better else 'lower'} is better, better to the right)", fontsize=8,
                     loc="left")
        ax.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    return save_figure(figure, out_base)


def table1(models: dict[str, ModelSpec], descriptions: dict[str, dict[str, Any]], metrics: pd.DataFrame) -> pd.DataFrame:
    """Table 1, measured: architecture, source, pretraining, parameters, GFLOPs, ImageNet top-1, the paper's top-1."""
    paper = paper_values()
    rows = []
    for model, spec in models.items():
        described = descriptions.get(model, {})
        top1 = metrics[(metrics["property"] == "accuracy") & (metrics["model"] == model)
                       & (metrics["key"] == VAL) & (metrics["metric"] == "top1_pct")]
        paper_top1 = paper[(paper["property"] == "accuracy") & (paper["key"] == VAL) & (paper["metric"] == "top1_pct")
                           & (paper["model"] == paper_model_id(spec))]["value"]
        rows.append({"model": spec.display_name, "architecture": described.get("architecture", ""),
                     "source": spec.source, "name": spec.name, "pretrained": spec.pretrained or "",
                     "paradigm": spec.training, "pretraining_data": spec.pretraining_data,
                     "params_M": described.get("parameters", math.nan) / 1e6,
                     "image_params_M": described.get("image_parameters", math.nan) / 1e6,
                     "input_px": described.get("input_size", math.nan), "gflops": described.get("gflops", math.nan),
                     "gmacs": described.get("gmacs", math.nan),
                     "imagenet_top1": float(top1["value"].iloc[0]) if len(top1) else math.nan,
                     "imagenet_top1_ci": _cell(top1["value"].iloc[0], top1["ci_low"].iloc[0], top1["ci_high"].iloc[0])
                     if len(top1) else "n/a",
                     "paper_top1": float(paper_top1.iloc[0]) if len(paper_top1) else math.nan})
    return pd.DataFrame(rows)


def paper_comparison(metrics: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    """Every paper value of a configured paper model beside the reproduced one, the difference and its precision."""
    columns = ["display_name", "property", "dataset", "key", "metric", "value", "ci_low", "ci_high", "paper", "diff",
               "paper_precision", "within_precision"]
    joined = with_paper_values(metrics, models)
    joined = joined[joined["paper"].notna()].copy()
    if joined.empty:
        return pd.DataFrame(columns=columns)
    tolerance = joined["paper_precision"].map(precision_tolerance).astype(float)
    joined["within_precision"] = (joined["diff"].abs() <= tolerance).where(tolerance.notna())
    return joined[columns].sort_values(["property", "key", "metric", "display_name"]).reset_index(drop=True)


def precision_tolerance(precision: str) -> float:
    """How far off the paper's number may be, from how it was obtained (shared/reference: paper_values.csv)."""
    if not isinstance(precision, str):
        return math.nan
    if precision == "printed" or precision == "authors_raw_csv":
        return 0.05 + 1e-9  # printed to one decimal
    if precision.endswith("winner_minus_diff"):
        return 0.1 + 1e-9
    if precision.startswith("figure_measured_"):
        try:
            return float(precision.removeprefix("figure_measured_")) + 1e-9
        except ValueError:
            return math.nan
    return math.nan


def consistency(metrics: pd.DataFrame) -> pd.DataFrame:
    """ImageNet val top-1 of each model from every property that scores it; a mismatch between sources scoring the
    same images with the same transform is flagged."""
    sources = (("accuracy", VAL, VAL, "top1_pct"), ("calibration", VAL, VAL, "top1_pct"),
               ("robustness", VAL, VAL, "top1_pct"), ("invariance", VAL, "scale=1", "top1_pct"),
               ("imagenet_x", VAL, "all", "factor_top1_pct"))
    rows = []
    for model in dict.fromkeys(metrics["model"]):
        found = []
        for prop, dataset, key, metric in sources:
            hit = metrics[(metrics["model"] == model) & (metrics["property"] == prop) & (metrics["dataset"] == dataset)
                          & (metrics["key"] == key) & (metrics["metric"] == metric)]
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
    table = pd.DataFrame(rows, columns=["model", "source", "value", "n", "reference", "status"])
    if (table["status"] == "MISMATCH").any():
        log.error("consistency: ImageNet val top-1 disagrees between properties:\n%s",
                  table[table["status"] == "MISMATCH"].to_string(index=False))
    return table


def card(model: str, spec: ModelSpec, table1_row: pd.Series, headlines: pd.DataFrame, rank: pd.Series,
         paper: pd.DataFrame, n_models: int) -> str:
    """One model's card in Markdown: its Table-1 row, headline numbers with intervals, rank and the paper's value."""
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
        lines.append(f"| {row.label} | {_cell(row.value, row.ci_low, row.ci_high)} | {place} | "
                     f"{reported.iloc[0] if len(reported) else 'n/a'} |")
    return "\n".join(lines) + "\n"


def run_report_summary(metric_paths: list[Path], description_paths: list[Path], models: dict[str, dict[str, Any]],
                       out: dict[str, Path], cards_dir: Path) -> None:
    """The report_summary job: Table 1, summary table and board, cards, paper comparison, consistency checks."""
    specs = {model_id: ModelSpec.from_config(model_id, entry) for model_id, entry in models.items()}
    metrics = read_metrics(metric_paths)
    metrics = metrics[metrics["model"].isin(specs)]  # rows of one model each (not a comparison's "a|b" rows)
    descriptions = {d["model"]: d for d in (json.loads(Path(p).read_text()) for p in description_paths)}
    first = table1(specs, descriptions, metrics)
    write_table(first, out["table1_csv"], out["table1_md"])
    headlines = headline_rows(metrics)
    summary = summary_table(headlines, specs)
    write_table(summary, out["summary_csv"], out["summary_md"])
    plot_board(headlines, specs, out["summary_png"].with_suffix(""))
    comparison = paper_comparison(metrics, specs)
    if comparison.empty:
        out["paper_md"].write_text("No configured model is one of the paper's four, so there is nothing to compare "
                                   "with the paper's values.\n")
        comparison.to_csv(out["paper_csv"], index=False)
    else:
        write_table(comparison, out["paper_csv"], out["paper_md"])
    write_table(consistency(metrics), out["consistency_csv"], out["consistency_md"])
    rank = ranks(headlines) if len(headlines) else pd.Series(dtype=float)
    cards_dir.mkdir(parents=True, exist_ok=True)
    paper = paper_values()
    for index, (model, spec) in enumerate(specs.items()):
        text = card(model, spec, first.iloc[index], headlines, rank, paper, len(specs))
        (cards_dir / f"{model}.md").write_text(text)
    log.info("summary: %d headline metrics x %d models; %d paper values compared", len(set(headlines["label"])),
             len(specs), len(comparison))
