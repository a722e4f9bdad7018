"""The property table: what each property reads, where its computation and its figure live.

A property is one row here and one folder `beyond_imagenet.properties.<name>/`: `compute.py` holds `compute`
(and `headlines`, and `table_rows` where it filters its table), `plot.py` holds `plot`; both are imported only when
a job runs them (a CPU job imports neither torch nor matplotlib unless its property needs them). Contracts:

- scope "model":  compute(model, caches, settings, datasets) -> (tidy metrics of one model, outcomes): outcomes
                  maps (dataset, key, metric) of a headline row to the stats.Outcome (or stats.MeanOf) behind it,
                  computed from the same per-image arrays as the row (intervals, paired tests)
- scope "models": compute(caches_by_model, settings, datasets) -> tidy metrics comparing models
- every plot:     plot(metrics, models, out_base, settings) -> the files written (pdf, png)
- needs_logits:   a property that reads the 1000-way logits is skipped for a model without an ImageNet head
                  (`head: none`); its metrics file holds no rows and its record says why
- headlines:      headlines(settings, datasets) -> [Headline]: the rows the summary, cards and Table 1 show, each
                  with the reason it cannot be formed in this config (a role no dataset declares, a view not asked)

`caches` are `CachedOutputs` of the (dataset, view) groups the property reads; `datasets` maps a
dataset id to the fields of its config entry a property may need (format, root, class_map, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..catalog.roles import datasets_of_role
from ..data.views import STANDARD_VIEW, invariance_views

Settings = dict[str, Any]
PER_MODEL = "model"
ACROSS_MODELS = "models"


@dataclass(frozen=True)
class Headline:
    """One headline metric of a property: a column of the summary, an axis of the board, a line of every card."""

    label: str
    property: str
    key: str
    metric: str
    better: str | None = "higher"  # higher | lower | None: the paper makes no value judgement (shape bias)
    dataset: str | None = None  # the dataset id whose row it is (None: the property's summary rows, any dataset)
    fallback_key: str | None = None  # used when `key` is absent (VTAB: "average" over the tasks present, not all 19)
    missing: str = ""  # why it cannot be formed in this config; "" when it can
    axis: str = ""  # the board's axis in words: what moving right means ("more images right →")


def role_headline(label: str, prop: str, metric: str, role: str, datasets: dict[str, dict[str, Any]],
                  better: str | None = "higher", axis: str = "") -> Headline:
    """The headline on the property's dataset that declares `role` (keyed by the role), or why there is none."""
    found = datasets_of_role(datasets, role)
    if not found:
        return Headline(label, prop, role, metric, better, axis=axis,
                        missing=f"no dataset of properties.{prop}.datasets declares role: {role}")
    return Headline(label, prop, role, metric, better, dataset=found[0], axis=axis)


def first_dataset_headline(label: str, prop: str, key: str, metric: str, datasets: dict[str, dict[str, Any]],
                           better: str | None = "higher", axis: str = "") -> Headline:
    """The headline on the property's first dataset (a property whose keys do not name its dataset)."""
    if not datasets:
        return Headline(label, prop, key, metric, better, axis=axis, missing=f"properties.{prop}.datasets is empty")
    return Headline(label, prop, key, metric, better, dataset=next(iter(datasets)), axis=axis)


def standard_view_only(settings: Settings) -> list[str]:
    """Most properties read the standard evaluation transform only."""
    return [STANDARD_VIEW]


@dataclass(frozen=True)
class PropertyDef:
    """One property: its modules, the views it reads, whether it needs features, per model or across models."""

    name: str  # also its folder: beyond_imagenet.properties.<name>.compute / .plot
    views: Callable[[Settings], list[str]] = standard_view_only
    needs_features: bool = False
    scope: str = PER_MODEL
    has_table_rows: bool = False  # the module filters rows for the table (e.g. per-bin rows feed only the figure)
    needs_layers: bool = False  # reads per-layer pooled activations, recorded by the extraction of its datasets
    needs_logits: bool = True  # reads 1000-way logits: skipped for a model without an ImageNet head (head: none)
    paper_metric: str = ""  # the metric its paper-style table shows (rows = models, columns = keys)
    caption: str = ""  # the report's caption: what it shows, how it is computed, which of the paper's figures

    def compute(self) -> Callable[..., Any]:
        """The property's compute entry point (imports its module)."""
        return self._module("compute").compute

    def plot(self) -> Callable[..., Any]:
        """The property's plot entry point (imports matplotlib)."""
        return self._module("plot").plot

    def headlines(self, settings: Settings, datasets: dict[str, dict[str, Any]]) -> list[Headline]:
        """The property's headline rows in this config (imports its compute module)."""
        return self._module("compute").headlines(settings, datasets)

    def table_rows(self, metrics: Any) -> Any:
        """The metric rows its table shows."""
        if not self.has_table_rows:
            return metrics
        return self._module("compute").table_rows(metrics)

    def _module(self, part: str) -> Any:
        """One module of the property's folder, imported when first needed."""
        return importlib.import_module(f"beyond_imagenet.properties.{self.name}.{part}")


PROPERTIES: dict[str, PropertyDef] = {
    p.name: p for p in (
        PropertyDef("accuracy", paper_metric="top1_pct",
                    caption="ImageNet top-1 / top-5 of each model in each dataset's label space, from the cached "
                            "logits of the standard evaluation transform (the paper's Table 1 accuracy)."),
        PropertyDef("calibration", has_table_rows=True,
                    paper_metric="ece_15bin",
                    caption="Calibration: ECE with 15 equal-width confidence bins, MCE, adaptive ECE, NLL and Brier "
                            "on ImageNet val and ImageNet-R (logits restricted to its 200 classes), with bootstrap "
                            "intervals; reliability diagrams (the paper's calibration figures)."),
        PropertyDef("imagenet_x", paper_metric="error_ratio",
                    caption="Model mistakes (ImageNet-X): error ratio (1 - acc_f) / (1 - acc_all) per annotated "
                            "factor of the top-factor annotations, prototypes dropped; 'average' = mean of the 16 "
                            "(the paper's model-mistakes figure)."),
        PropertyDef("robustness", paper_metric="top1_pct",
                    caption="Robustness: top-1 on ImageNet-V2, -A, -C (mean of 15 corruptions x 5 severities), "
                            "-Hard, -R, -Sketch and ReaL, A/R restricted to their 200 classes, and their mean "
                            "(the paper's robustness figure)."),
        PropertyDef("invariance", views=invariance_views,
                    paper_metric="top1_pct",
                    caption="Invariance: ImageNet val top-1 under the paper's scale, shift and resolution "
                            "transforms (the authors' bilinear resize and int() shift windows; the model rebuilt "
                            "at each resolution) (the paper's invariance figure)."),
        PropertyDef("shape_bias", has_table_rows=True,
                    paper_metric="shape_bias",
                    caption="Shape vs texture: on the 1,280 cue-conflict images, the decision is the category with "
                            "the highest mean softmax probability of its ImageNet classes; shape bias = shape / "
                            "(shape + texture) decisions (the paper's shape-bias figure)."),
        PropertyDef("pug_imagenet", paper_metric="top1_pct",
                    caption="Synthetic data (PUG-ImageNet): top-1 per factor of variation through the paper's "
                            "inverted class map (841 -> 'Sweatshirt') and a corrected score beside it (the paper's "
                            "PUG-ImageNet figure)."),
        PropertyDef("transfer", needs_features=True, needs_logits=False, paper_metric="linear_probe_top1_pct",
                    caption="Transferability (VTAB-1k): top-1 of a linear probe on L2-normalised frozen features, "
                            "weight decay searched on val200, retrained on train800val200, scored on test; group "
                            "means and the mean of 19 (the paper's transfer figure)."),
        PropertyDef("ood_detection", paper_metric="aupr_pct",
                    caption="OOD detection (beyond the paper): ImageNet-O as out-of-distribution against the ImageNet "
                            "val images of its 200 classes, logits restricted to them (the ImageNet-O paper's "
                            "protocol); maximum softmax probability, maximum logit and energy (T = 1) scores; AUPR "
                            "(average precision, OOD positive), AUROC and FPR at 95% TPR as OpenOOD defines them."),
        PropertyDef("objectnet", paper_metric="top1_pct",
                    caption="ObjectNet (beyond the paper): top-1 on the images of its 113 classes with ImageNet "
                            "counterparts, the argmax over the 125 mapped ImageNet classes (imagenet-testbed's "
                            "rule), images read with their red border cut."),
        PropertyDef("object_focus", paper_metric="top1_pct",
                    caption="Object focus (beyond the paper): top-1 on the ImageNet-9 backgrounds challenge's "
                            "original, only-FG, mixed-same and mixed-rand images (argmax over 1000 mapped to the 9 "
                            "classes, outside = wrong), the BG-gap mixed-same - mixed-rand, and QUBA's object focus "
                            "1 - BG-gap / ImageNet top-1."),
        PropertyDef("class_balance", has_table_rows=True, paper_metric="class_balance",
                    caption="Class balance (beyond the paper; QUBA's definition): 1 - std of per-class top-1, 1 - "
                            "mean within-class std of the true class's probability, and their geometric mean, on "
                            "ImageNet val; the figure sorts every class's top-1."),
        PropertyDef("representation_similarity", scope=ACROSS_MODELS, needs_layers=True, needs_logits=False,
                    has_table_rows=True,
                    paper_metric="adjacent_cka_mean",
                    caption="Representation similarity: layer x layer linear CKA (minibatch unbiased HSIC) within "
                            "each model and across every pair, on a seeded 5,000-image subset of ImageNet val "
                            "(the paper's CKA analysis)."),
    )
}


def property_def(name: str) -> PropertyDef:
    """Look up a property, naming the known ones on a miss."""
    if name not in PROPERTIES:
        raise KeyError(f"unknown property {name!r}; known: {sorted(PROPERTIES)}")
    return PROPERTIES[name]
