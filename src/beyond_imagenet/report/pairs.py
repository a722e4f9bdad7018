"""Paired tests between models on the same images: the paper's pairs and any the config declares.

The paper compares ViT with ConvNeXt within a training paradigm, and supervised with CLIP within an
architecture (Vishniakov, Shen, Liu 2024). For each headline metric both models have per-image outcomes for,
the table gives A - B, its paired bootstrap interval and p, McNemar's exact p for top-1, and whether the paper's
direction is supported by this data (the interval excludes 0 on the paper's side), not resolved (it includes 0)
or contradicted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from math import nan
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog.paper import paper_model_id, paper_values
from ..config.specs import ModelSpec
from ..stats.outcomes import read_outcomes
from ..stats.resampling import DRAWS, SEED, paired_mean_test, paired_test
from ..stats.statistics import MeanOf

log = logging.getLogger(__name__)
ARCHITECTURES = ("vit", "convnext")
PARADIGMS = ("supervised", "clip")
SUPPORTED, UNRESOLVED, CONTRADICTED = "supported", "not resolved", "contradicted"
NO_PAPER_SIGN = "the paper's sign is not established"  # its two values are within their rounding of each other


def paper_pairs(models: dict[str, ModelSpec]) -> list[tuple[str, str, str]]:
    """(model A, model B, what differs): ViT vs ConvNeXt per paradigm, supervised vs CLIP per architecture."""
    def first(family: str, training: str) -> str | None:
        return next((m for m, s in models.items() if s.family == family and s.training == training), None)

    pairs = []
    for training in PARADIGMS:
        a, b = first("vit", training), first("convnext", training)
        if a and b:
            pairs.append((a, b, f"architecture ({training})"))
    for family in ARCHITECTURES:
        a, b = first(family, "supervised"), first(family, "clip")
        if a and b:
            pairs.append((a, b, f"paradigm ({family})"))
    return pairs


def configured_pairs(models: dict[str, ModelSpec], declared: Iterable[Iterable[str]]) -> list[tuple[str, str, str]]:
    """The paper's pairs and the config's `report.pairs`, each once."""
    pairs = paper_pairs(models)
    seen = {(a, b) for a, b, _ in pairs}
    for a, b in declared:
        if (a, b) not in seen:
            pairs.append((a, b, "declared"))
            seen.add((a, b))
    return pairs


def paper_claim(paper_a: float, paper_b: float, tolerance: float, low: float, high: float) -> str:
    """Whether the reproduced A - B interval supports the sign of the paper's A - B.

    "" when the paper reports no such pair; the paper's sign is not established when its two values lie within their
    combined tolerance (`tolerance`: the sum of the two values' rounding); not resolved when the interval is undefined
    or contains 0; else supported or contradicted.
    """
    if pd.isna(paper_a) or pd.isna(paper_b):
        return ""
    if abs(paper_a - paper_b) <= tolerance + 1e-12:
        return NO_PAPER_SIGN
    if pd.isna(low) or pd.isna(high) or low <= 0 <= high:
        return UNRESOLVED
    return SUPPORTED if (low > 0) == (paper_a > paper_b) else CONTRADICTED


def _paper_lookup(models: dict[str, ModelSpec]) -> dict[tuple[str, str, str, str], tuple[float, float]]:
    """(value, tolerance) the paper reports, by (our model id, property, key, metric)."""
    values = paper_values()
    ours = {paper_model_id(spec): model for model, spec in models.items() if paper_model_id(spec)}
    return {(ours[r.model], r.property, r.key, r.metric): (float(r.value), float(r.tolerance))
            for r in values.itertuples() if r.model in ours}


def paired_rows(outcome_files: list[Path], models: dict[str, ModelSpec], declared: Iterable[Iterable[str]] = (),
                draws: int = DRAWS, seed: int = SEED) -> pd.DataFrame:
    """One row per (pair, headline metric both models have outcomes for)."""
    by_model = dict(read_outcomes(Path(path)) for path in outcome_files)
    paper = _paper_lookup(models)
    rows: list[dict[str, Any]] = []
    for a, b, contrast in configured_pairs(models, declared):
        if a not in by_model or b not in by_model:
            log.warning("pair %s / %s: no outcomes for %s", a, b, [m for m in (a, b) if m not in by_model])
            continue
        for key in [k for k in by_model[a] if k in by_model[b]]:  # A's order: the config's
            prop, dataset, metric_key, metric = key
            if isinstance(by_model[a][key], MeanOf):
                of_property = [{k[1:]: o for k, o in by_model[m].items() if k[0] == prop} for m in (a, b)]
                result = paired_mean_test(by_model[a][key], *of_property, draws, seed)
            else:
                result = paired_test(by_model[a][key], by_model[b][key], draws, seed)
            (paper_a, tol_a), (paper_b, tol_b) = (paper.get((m, prop, metric_key, metric), (nan, nan)) for m in (a, b))
            paper_difference = paper_a - paper_b
            rows.append({"model_a": a, "model_b": b, "contrast": contrast, "property": prop, "dataset": dataset,
                         "key": metric_key, "metric": metric, "n": result.n, "value_a": result.value_a,
                         "value_b": result.value_b, "difference": result.difference, "ci_low": result.ci_low,
                         "ci_high": result.ci_high, "p_bootstrap": result.p_bootstrap, "only_a": result.only_a,
                         "only_b": result.only_b, "p_mcnemar": result.p_mcnemar,
                         "paper_difference": paper_difference,
                         "paper_tolerance": tol_a + tol_b,
                         "paper_claim": paper_claim(paper_a, paper_b, tol_a + tol_b, result.ci_low, result.ci_high),
                         "bootstrap_draws": draws, "bootstrap_seed": seed})
    return pd.DataFrame(rows)


