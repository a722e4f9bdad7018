"""The property table: what each property reads, where its computation and its figure live.

A property is one row here. Its computation is `compute` in its module under
`beyond_imagenet.properties` and its figure `plot` in its module under `beyond_imagenet.plots`;
both are imported only when a job runs them (a CPU job imports neither torch nor matplotlib
unless its property needs them). Entry-point contracts:

- scope "model":  compute(model, caches, settings, datasets) -> tidy metrics of one model
- scope "models": compute(caches_by_model, settings, datasets) -> tidy metrics comparing models
- every plot:     plot(metrics, models, out_base, settings) -> the files written (pdf, png)
- has_outcomes:   outcomes(model, caches, settings, datasets) -> {(dataset, key, metric): stats.Outcome}, the
                  per-image outcomes behind headline rows (their bootstrap intervals and the paired tests)

`caches` are `CachedOutputs` of the (dataset, view) groups the property reads; `datasets` maps a
dataset id to the fields of its config entry a property may need (format, root, class_map, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .views import STANDARD_VIEW, invariance_views

Settings = dict[str, Any]
PER_MODEL = "model"
ACROSS_MODELS = "models"


def standard_view_only(settings: Settings) -> list[str]:
    """Most properties read the standard evaluation transform only."""
    return [STANDARD_VIEW]


@dataclass(frozen=True)
class PropertyDef:
    """One property: its modules, the views it reads, whether it needs features, per model or across models."""

    name: str
    module: str  # beyond_imagenet.properties.<module> holds compute (and table_rows, if any)
    plot_module: str  # beyond_imagenet.plots.<plot_module> holds plot
    views: Callable[[Settings], list[str]] = standard_view_only
    needs_features: bool = False
    scope: str = PER_MODEL
    has_table_rows: bool = False  # the module filters rows for the table (e.g. per-bin rows feed only the figure)
    needs_layers: bool = False  # reads per-layer pooled activations, recorded by the extraction of its datasets
    has_outcomes: bool = False  # the module's `outcomes` gives per-image outcomes behind its headline rows

    def outcomes(self) -> Callable[..., Any] | None:
        """The property's per-image outcomes entry point, if it has one (imports its module)."""
        if not self.has_outcomes:
            return None
        return getattr(importlib.import_module(f"beyond_imagenet.properties.{self.module}"), "outcomes")

    def compute(self) -> Callable[..., Any]:
        """The property's compute entry point (imports its module)."""
        return getattr(importlib.import_module(f"beyond_imagenet.properties.{self.module}"), "compute")

    def plot(self) -> Callable[..., Any]:
        """The property's plot entry point (imports matplotlib)."""
        return getattr(importlib.import_module(f"beyond_imagenet.plots.{self.plot_module}"), "plot")

    def table_rows(self, metrics: Any) -> Any:
        """The metric rows its table shows."""
        if not self.has_table_rows:
            return metrics
        return importlib.import_module(f"beyond_imagenet.properties.{self.module}").table_rows(metrics)


PROPERTIES: dict[str, PropertyDef] = {
    p.name: p for p in (
        PropertyDef("accuracy", "accuracy", "accuracy", has_outcomes=True),
        PropertyDef("calibration", "calibration", "calibration", has_table_rows=True, has_outcomes=True),
        PropertyDef("imagenet_x", "imagenet_x", "imagenet_x", has_outcomes=True),
        PropertyDef("robustness", "robustness", "robustness", has_outcomes=True),
        PropertyDef("invariance", "invariance", "invariance", views=invariance_views, has_outcomes=True),
        PropertyDef("shape_bias", "shape_bias", "shape_bias", has_table_rows=True, has_outcomes=True),
        PropertyDef("pug_imagenet", "pug", "pug", has_outcomes=True),
        PropertyDef("transfer", "transfer", "transfer", needs_features=True),
        PropertyDef("representation_similarity", "cka", "cka", scope=ACROSS_MODELS, needs_layers=True,
                    has_table_rows=True),
    )
}


def property_def(name: str) -> PropertyDef:
    """Look up a property, naming the known ones on a miss."""
    if name not in PROPERTIES:
        raise KeyError(f"unknown property {name!r}; known: {sorted(PROPERTIES)}")
    return PROPERTIES[name]
