"""Every property in one place: which views it reads, how rows are computed from caches, its figure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cache import CachedOutputs
from ..config import ModelSpec, dataset_specs
from ..views import STANDARD_VIEW, View

log = logging.getLogger(__name__)

Settings = dict[str, Any]


@dataclass(frozen=True)
class PropertyDef:
    """How one property is computed and shown."""

    name: str
    compute: Callable[[str, list[CachedOutputs], Settings, dict[str, Any]], pd.DataFrame]
    plot: Callable[[pd.DataFrame, dict[str, ModelSpec], Path, Settings], list[Path]]
    views: Callable[[Settings], list[str]] = lambda settings: [STANDARD_VIEW]
    table_rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda metrics: metrics
    needs_features: bool = False


def merge_parts(caches: Sequence[CachedOutputs]) -> dict[tuple[str, str], CachedOutputs]:
    """Caches grouped by (dataset, view), the parts of a split dataset concatenated in their given order."""
    groups: dict[tuple[str, str], list[CachedOutputs]] = {}
    for cache in caches:
        groups.setdefault((cache.identity["dataset"], cache.identity["view"]), []).append(cache)
    merged = {}
    for key, parts in groups.items():
        if len(parts) == 1:
            merged[key] = parts[0]
            continue
        sets = [p.label_sets for p in parts]
        merged[key] = CachedOutputs(
            logits=np.concatenate([p.logits for p in parts]), labels=np.concatenate([p.labels for p in parts]),
            ids=np.concatenate([p.ids for p in parts]), features=None,
            identity={**parts[0].identity, "part": None, "parts": [p.identity.get("part") for p in parts]},
            label_sets=None if any(s is None for s in sets) else _concat_padded(sets))
    return merged


def _concat_padded(sets: list[np.ndarray]) -> np.ndarray:
    width = max(s.shape[1] for s in sets)
    return np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1])), constant_values=-1) for s in sets])


def class_subset(label_space: str) -> np.ndarray | None:
    """The class indices predictions are restricted to (None = all 1000)."""
    if label_space == "imagenet1k":
        return None
    from .robustness import imagenet_subset

    return imagenet_subset(label_space)


def _label_space(cache: CachedOutputs) -> str:
    return cache.identity.get("label_space", "imagenet1k")


# --- accuracy -------------------------------------------------------------------------------

def compute_accuracy(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Top-1/top-5 per dataset, in each dataset's label space."""
    from .accuracy import accuracy_rows

    return pd.concat([accuracy_rows(model, dataset, cache.logits, cache.labels, class_subset(_label_space(cache)))
                      for (dataset, _), cache in merge_parts(caches).items()], ignore_index=True)


def plot_accuracy(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Grouped top-1 bars per dataset."""
    from ..plots.accuracy import plot_accuracy as plot

    return plot(metrics, models, out_base)


# --- calibration ----------------------------------------------------------------------------

def compute_calibration(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """ECE & co. per dataset, after restricting logits to the dataset's label space (ImageNet-R: 200)."""
    from .calibration import calibration_rows

    return pd.concat([calibration_rows(model, dataset, c.logits, c.labels, class_subset(_label_space(c)))
                      for (dataset, _), c in merge_parts(caches).items()], ignore_index=True)


def plot_calibration(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Confidence histograms above reliability diagrams, per dataset and model."""
    from ..plots.calibration import plot_calibration as plot

    return plot(metrics, models, list(settings.get("datasets", [])), out_base)


def calibration_table_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per-bin rows feed the figure, not the table."""
    return metrics[~metrics["metric"].str.match(r"^bin\d{2}_")]


# --- ImageNet-X ------------------------------------------------------------------------------

def compute_imagenet_x(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Error ratios per factor, top-factor and multi-factor, joined to annotations by file name."""
    from .imagenet_x import imagenet_x_rows, load_factor_annotations

    source = settings.get("annotations", "package")
    frames = []
    for (dataset, _), cache in merge_parts(caches).items():
        for variant, file_name in (("top", "top_factor"), ("multi", "multi_factor")):
            where = "package" if source == "package" else Path(source) / f"imagenet_x_val_{file_name}.jsonl"
            annotations = load_factor_annotations(variant, where)
            frames.append(imagenet_x_rows(model, dataset, cache.ids, cache.logits, cache.labels, annotations, variant))
    return pd.concat(frames, ignore_index=True)


def plot_imagenet_x(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Error-ratio bars per factor, one panel per pair."""
    from ..plots.imagenet_x import plot_imagenet_x as plot

    return plot(metrics, models, out_base)


# --- robustness -----------------------------------------------------------------------------

def _corruption_cells(cache: CachedOutputs) -> tuple[dict[tuple[str, int], float], int]:
    """Top-1 (%) per (corruption, severity), from ids '<corruption>/<severity>/<wnid>/<file>'."""
    correct = cache.logits.argmax(axis=1) == cache.labels
    keys = [tuple(str(i).split("/", 2)[:2]) for i in cache.ids]
    cells: dict[tuple[str, int], list[bool]] = {}
    for (corruption, severity), ok in zip(keys, correct):
        cells.setdefault((corruption, int(severity)), []).append(bool(ok))
    return {cell: 100.0 * float(np.mean(v)) for cell, v in cells.items()}, len(cache.labels)


def _top1_pct(cache: CachedOutputs) -> float:
    from .robustness import multilabel_top1, restricted_top1, scored_accuracy_pct

    if cache.label_sets is not None:
        correct, scored = multilabel_top1(cache.logits, [row[row >= 0].tolist() for row in cache.label_sets])
        return scored_accuracy_pct(correct, scored)
    subset = class_subset(_label_space(cache))
    if subset is not None:
        return float(100.0 * restricted_top1(cache.logits, cache.labels, subset).mean())
    return float(100.0 * np.mean(cache.logits.argmax(axis=1) == cache.labels))


def _real_top1(cache: CachedOutputs, settings: Settings) -> tuple[float, int]:
    from .robustness import load_real_json, multilabel_top1, real_label_sets, scored_accuracy_pct

    source = settings.get("real_labels", "package")
    label_sets = real_label_sets(load_real_json(None if source == "package" else source), list(cache.ids))
    correct, scored = multilabel_top1(cache.logits, label_sets)
    return scored_accuracy_pct(correct, scored), int(scored.sum())


def compute_robustness(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Top-1 on each shifted set in its own label space, ImageNet-C summary and mCE, ReaL, and the average."""
    from .robustness import imagenet_c_summary, robustness_rows

    formats = {d.id: d.format for d in dataset_specs(config).values()}
    top1: dict[str, float] = {}
    counts: dict[str, int] = {}
    c_summary = None
    for (dataset, _), cache in merge_parts(caches).items():
        counts[dataset] = len(cache.labels)
        if formats[dataset] == "imagenet_c":
            cells, _ = _corruption_cells(cache)
            c_summary = imagenet_c_summary(cells, require_complete=settings.get("require_complete_c", True))
        else:
            top1[dataset] = _top1_pct(cache)
        if dataset == settings.get("real_dataset", "imagenet_val") and settings.get("real_labels"):
            top1["imagenet_real"], counts["imagenet_real"] = _real_top1(cache, settings)
    return robustness_rows(model, top1, c_summary, counts)


def plot_robustness(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Diverging ConvNeXt - ViT bars per set, one panel per pair; plain bars when no ViT/ConvNeXt pair exists."""
    from ..plots.accuracy import plot_accuracy
    from ..plots.robustness import FIGURE_KEYS, plot_robustness as plot
    from ..plots.style import model_pairs, vit_convnext_pair

    present = {m: s for m, s in models.items() if m in set(metrics["model"])}
    if any(vit_convnext_pair(group, t, "robustness") for t, group in model_pairs(present).items()):
        return plot(metrics, present, out_base)
    log.warning("no ViT/ConvNeXt pair among %s: drawing plain top-1 bars instead of the paper's figure", sorted(present))
    return plot_accuracy(metrics[metrics["key"].isin(FIGURE_KEYS)], present, out_base, category="key")


# --- invariance -----------------------------------------------------------------------------

def invariance_views(settings: Settings) -> list[str]:
    """scale=/shift=/resolution= views from the property's value lists."""
    return [View(kind, float(value)).name
            for kind, key in (("scale", "scales"), ("shift", "shifts"), ("resolution", "resolutions"))
            for value in settings.get(key, [])]


def compute_invariance(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Top-1 and true-class probability per view."""
    from .invariance import invariance_rows

    return pd.concat([invariance_rows(model, dataset, view, c.logits, c.labels)
                      for (dataset, view), c in merge_parts(caches).items()], ignore_index=True)


def plot_invariance(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Accuracy vs scale / shift / resolution."""
    from ..plots.invariance import plot_invariance as plot

    return plot(metrics, models, out_base)


# --- shape bias (cue-conflict) ---------------------------------------------------------------

def compute_shape_bias(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Shape vs texture decisions on cue-conflict images (ids carry shape and texture)."""
    from .shape_bias import shape_bias_rows

    return pd.concat([shape_bias_rows(model, dataset, list(c.ids), c.logits)
                      for (dataset, _), c in merge_parts(caches).items()], ignore_index=True)


def plot_shape_bias(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Per-category shape fractions with the overall value dashed, one panel per pair."""
    from ..plots.shape_bias import plot_shape_bias as plot

    return plot(metrics, models, out_base)


def overall_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per-category rows feed the figure; the table keeps the overall ones."""
    return metrics[metrics["key"] == "cue_conflict"]


# --- PUG-ImageNet ---------------------------------------------------------------------------

def compute_pug(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Top-1 per PUG factor (paper scoring and corrected), plus accuracy along factor values when given."""
    from .pug import pug_rows

    specs = dataset_specs(config)
    frames = []
    for (dataset, _), cache in merge_parts(caches).items():
        values = settings.get("factor_values")
        table = pd.read_csv(values, dtype=str) if values else None
        frames.append(pug_rows(model, dataset, list(cache.ids), cache.logits, table, specs[dataset].class_map))
    return pd.concat(frames, ignore_index=True)


def plot_pug(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Grouped bars over the 10 factors + average, one panel per pair."""
    from ..plots.pug import plot_pug as plot

    return plot(metrics, models, out_base)


# --- transfer (VTAB linear probe) ---------------------------------------------------------------

def compute_transfer(model: str, caches: list[CachedOutputs], settings: Settings, config: dict) -> pd.DataFrame:
    """Linear probe per task on frozen features (train800 -> val200 for the weight decay, then train800val200 -> test)."""
    from .linear_probe import DATASET_PREFIX, linear_probe, split_rows, transfer_rows, transfer_summary_rows

    specs = dataset_specs(config)
    frames = []
    for (dataset, _), cache in merge_parts(caches).items():
        splits = split_rows(list(cache.ids), cache.features, cache.labels, Path(specs[dataset].root))
        result = linear_probe(*splits["train800"], *splits["val200"], *splits["test"])
        task = dataset.removeprefix(DATASET_PREFIX)
        frames.append(transfer_rows(model, task, result, len(splits["test"][1])))
    per_task = pd.concat(frames, ignore_index=True)
    return pd.concat([per_task, transfer_summary_rows(model, per_task)], ignore_index=True)


def plot_transfer(metrics: pd.DataFrame, models: dict[str, ModelSpec], out_base: Path, settings: Settings) -> list[Path]:
    """Diverging ConvNeXt - ViT bars per task (and group means in <name>_groups)."""
    from ..plots.transfer import plot_transfer as plot

    return plot(metrics, models, out_base)


PROPERTIES: dict[str, PropertyDef] = {
    p.name: p for p in (
        PropertyDef("accuracy", compute_accuracy, plot_accuracy),
        PropertyDef("calibration", compute_calibration, plot_calibration, table_rows=calibration_table_rows),
        PropertyDef("imagenet_x", compute_imagenet_x, plot_imagenet_x),
        PropertyDef("robustness", compute_robustness, plot_robustness),
        PropertyDef("invariance", compute_invariance, plot_invariance, views=invariance_views),
        PropertyDef("shape_bias", compute_shape_bias, plot_shape_bias, table_rows=overall_rows),
        PropertyDef("pug_imagenet", compute_pug, plot_pug),
        PropertyDef("transfer", compute_transfer, plot_transfer, needs_features=True),
    )
}


def property_def(name: str) -> PropertyDef:
    """Look up a property, naming the known ones on a miss."""
    if name not in PROPERTIES:
        raise KeyError(f"unknown property {name!r}; known: {sorted(PROPERTIES)}")
    return PROPERTIES[name]

