"""Which files a run must produce and each rule's params, derived from config (the rules only wire them).

A rule's params are exactly what changes its outputs (what the cache records), so a cosmetic edit
(`display_name`, a dataset's `get:` text) or a runtime knob (`extraction.threads`, `batch_size`,
`device`) reruns nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..catalog.roles import IMAGENET_VAL
from ..config.needs import demo_root, enabled_properties, is_generated
from ..config.schema import ConfigError
from ..config.specs import ACROSS_MODELS_ID, NO_HEAD_TEXT, ZeroShotSpec, dataset_specs, model_specs
from ..data.views import VIEW_TRANSFORMS_VERSION
from ..properties import ACROSS_MODELS, PER_MODEL, property_def
from ..store.cache import FORMAT_VERSION, caches_being_written
from .plan import (
    JOB_CACHE,
    dataset_layer_requests,
    dataset_listing_stamp,
    dataset_views,
    extraction_jobs,
    property_refs,
)

HEAD = "results/heads/{model}.h5"
METRICS = "results/metrics/{property}/{model}.csv"
MODEL_DESCRIPTION = "results/models/{model}.json"  # Table 1 facts counted from the architecture
OUTCOMES = "results/outcomes/{model}.h5"  # per-image outcomes of a model's headline metrics (paired tests)
PAIRED_TESTS = "results/tables/paired_tests.{ext}"
SUMMARY_FILES = {  # what report_summary writes, by output name
    "table1_csv": "results/tables/table1.csv", "table1_md": "results/tables/table1.md",
    "summary_csv": "results/tables/summary.csv", "summary_md": "results/tables/summary.md",
    "summary_pdf": "results/figures/summary.pdf", "summary_png": "results/figures/summary.png",
    "paper_csv": "results/tables/paper_comparison.csv", "paper_md": "results/tables/paper_comparison.md",
    "consistency_csv": "results/tables/consistency.csv", "consistency_md": "results/tables/consistency.md",
    "summary_svg": "results/figures/summary.svg", "overview_html": "results/report/overview.html",
}
# shown in the HTML report, with captions (the overview is also its landing page)
SUMMARY_IN_REPORT = ("overview_html", "table1_csv", "summary_csv", "summary_png", "paper_csv", "consistency_csv")
CARD = "results/cards/{model}.md"
CARD_HTML = "results/cards/{model}.html"
TABLE = "results/tables/{property}.{ext}"
FIGURE = "results/figures/{property}.{ext}"
PAPER_STYLE = "results/tables/paper_style/{property}.{ext}"  # rows = models, columns = keys: "reproduced (paper)"
DEMO_MANIFEST = "{root}/manifest.json"
PREPARED = "resources/prepared/{name}.json"  # what prepare_data verified of a dataset (by id): sources, checksums, counts
DEMO_WEIGHTS = "{root}/models/{model}.pt"

# Fields of a model / dataset entry that change what an extraction computes.
MODEL_OUTPUT_FIELDS = ("source", "name", "weights", "pretrained", "arch_config", "model_kwargs", "preprocess",
                       "training")
# Also output fields, in the params only when set: a model that does not use them keeps the params (and caches) it had.
MODEL_OPTIONAL_OUTPUT_FIELDS = {"factory": None, "factory_path": None, "labels": None, "head": "imagenet"}
DATASET_OUTPUT_FIELDS = ("format", "root", "label_file", "label_space", "features", "native_resolution",
                         "corruptions", "severities", "unlabelled_images", "split", "label_column",
                         "label_encoding")
# Fields a property's computation reads of its datasets (robustness: format; transfer: root; PUG: class_map; the
# role keys rows and picks the dataset a headline is on).
DATASET_PROPERTY_FIELDS = ("format", "root", "label_space", "class_map", "role", "classes")
# Fields a figure or table shows of a model.
MODEL_DISPLAY_FIELDS = ("source", "name", "pretrained", "weights", "display_name", "family", "training",
                        "pretraining_data", "head")


def another_run_writing() -> str:
    """Why this run must not start while another one writes caches (after `snakemake --unlock`), or ""."""
    busy = caches_being_written(Path(JOB_CACHE.split("{")[0]))
    if not busy:
        return ""
    return ("Another run is still writing these caches:\n- " + "\n- ".join(busy) + "\nWait for it to finish (or stop "
            "it), then run again: `snakemake --unlock` is only for a run that is gone, and two runs would each take the "
            "other's outputs for incomplete.")


def properties_of_scope(config: dict[str, Any], scope: str) -> list[str]:
    """Enabled properties computed per model, or across models."""
    return [p for p in enabled_properties(config) if property_def(p).scope == scope]


def per_model_metrics(config: dict[str, Any]) -> list[str]:
    """Metrics files one compute_properties job writes (the {model} wildcard left in)."""
    return [METRICS.format(property=p, model="{model}") for p in properties_of_scope(config, PER_MODEL)]


def metrics_inputs(config: dict[str, Any], prop: str) -> list[str]:
    """The metrics files a property's table and figure read."""
    if property_def(prop).scope == ACROSS_MODELS:
        return [METRICS.format(property=prop, model=ACROSS_MODELS_ID)]
    return [METRICS.format(property=prop, model=m) for m in config["models"]]


def final_targets(config: dict[str, Any]) -> list[str]:
    """Every table and figure of every enabled property (which pulls in exactly the caches they need), and the
    paired tests when a per-model property runs."""
    outputs = []
    for prop in enabled_properties(config):
        outputs += [TABLE.format(property=prop, ext=ext) for ext in ("csv", "md", "html")]
        outputs += [FIGURE.format(property=prop, ext=ext) for ext in ("pdf", "png")]
    if properties_of_scope(config, PER_MODEL):
        outputs += [PAIRED_TESTS.format(ext=ext) for ext in ("csv", "md")]
        outputs += list(SUMMARY_FILES.values()) + [CARD.format(model=m) for m in config["models"]]
        outputs += [CARD_HTML.format(model=m) for m in config["models"]] + [PAIRED_TESTS.format(ext="html")]
    return outputs


def summary_inputs(config: dict[str, Any]) -> list[str]:
    """Every metrics file of the enabled per-model properties (what the summary reads)."""
    return sorted({path for prop in properties_of_scope(config, PER_MODEL) for path in metrics_inputs(config, prop)})


def summary_params(config: dict[str, Any]) -> dict[str, Any]:
    """What the summary's headlines are declared from: each per-model property's settings and datasets."""
    specs = dataset_specs(config)
    return stable({prop: {"settings": config["properties"][prop],
                          "datasets": {d: _fields(specs[d], DATASET_PROPERTY_FIELDS)
                                       for d in enabled_properties(config)[prop]}}
                   for prop in properties_of_scope(config, PER_MODEL)})


def val_dataset(config: dict[str, Any]) -> str | None:
    """The id of the dataset with role imagenet_val (what the consistency checks compare), if any."""
    return next((d for d, spec in dataset_specs(config).items() if spec.role == IMAGENET_VAL), None)


def model_descriptions(config: dict[str, Any]) -> list[str]:
    """Every model's Table 1 facts."""
    return [MODEL_DESCRIPTION.format(model=m) for m in config["models"]]


def property_caption(prop: str) -> str:
    """The report caption of a property's table and figure (beyond_imagenet.registry)."""
    return property_def(prop).caption


def outcome_files(config: dict[str, Any]) -> list[str]:
    """Every model's per-image outcomes (what the paired tests read)."""
    return [OUTCOMES.format(model=m) for m in config["models"]]


def pair_models(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the paired tests read of each model: which paper model it is, and its family and training."""
    fields = ("source", "name", "pretrained", "weights", "family", "training")
    return stable({m: _fields(spec, fields) for m, spec in model_specs(config).items()})


def declared_pairs(config: dict[str, Any]) -> list[list[str]]:
    """Pairs of model ids the config asks to test besides the paper's (`report.pairs`)."""
    return [list(pair) for pair in config.get("report", {}).get("pairs", [])]


def generated_dataset_roots(config: dict[str, Any]) -> list[str]:
    """The dataset roots a config expects in its demo world: a config that names a set an older world lacks
    regenerates the world (a param of its rule)."""
    return sorted(spec.root for spec in dataset_specs(config).values() if is_generated(Path(spec.root), config))


def demo_manifest(config: dict[str, Any]) -> list[str]:
    """The demo world's manifest, if this config generates one (an input of every extraction)."""
    root = demo_root(config)
    return [DEMO_MANIFEST.format(root=root)] if root is not None else []


def weights_input(config: dict[str, Any], model: str) -> list[str]:
    """A model's local weight file (and the labels file its outputs are mapped by) as rule inputs, so a new file
    reruns its caches; hub weights: none."""
    spec = model_specs(config)[model]
    labels = [spec.labels] if spec.labels and Path(spec.labels).is_file() else []
    path = spec.local_weights
    if path is None:
        return labels
    root = demo_root(config)
    if root is not None and root in path.parents:
        expected = Path(DEMO_WEIGHTS.format(root=root, model=model))
        if path != expected:
            raise ConfigError(f"config key 'models.{model}.weights': demo weights must be {str(expected)!r}, "
                              f"got {str(path)!r}")
        return [str(path), *labels]
    # A missing non-demo file is reported by the start-up check, with how to fix it.
    return ([str(path)] if path.exists() else []) + labels


def head_input(config: dict[str, Any], model: str) -> list[str]:
    """The zero-shot head a CLIP model's extraction needs."""
    return [HEAD.format(model=model)] if model_specs(config)[model].zero_shot else []


def _fields(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    data = dataclasses.asdict(obj)
    return {name: stable(data[name]) for name in names}


def stable(value: Any) -> Any:
    """A param value that compares equal however the config spelt it (key order, tuples vs lists).

    Snakemake compares params by their printed form, so reordering keys in a config would
    otherwise rerun every job.
    """
    if isinstance(value, (list, tuple)):
        return [stable(v) for v in value]
    if isinstance(value, dict):
        return {k: stable(value[k]) for k in sorted(value)}
    return value


def zero_shot_params(config: dict[str, Any], model: str) -> dict[str, Any] | None:
    """The zero_shot section (defaults filled) for a CLIP model; None for a classifier."""
    if not model_specs(config)[model].zero_shot:
        return None
    return dataclasses.asdict(ZeroShotSpec(**config.get("zero_shot", {})))


def model_params(config: dict[str, Any], model: str) -> dict[str, Any]:
    """The fields of a model entry that change its outputs."""
    spec = model_specs(config)[model]
    optional = {key: stable(getattr(spec, key)) for key, default in MODEL_OPTIONAL_OUTPUT_FIELDS.items()
                if getattr(spec, key) != default}
    return {**_fields(spec, MODEL_OUTPUT_FIELDS), **optional}


def extraction_params(config: dict[str, Any], model: str, job: str) -> dict[str, Any]:
    """Exactly what one extraction job's cache records: model, datasets, views, precision, zero-shot head."""

    plan = extraction_jobs(config)[job]
    specs = dataset_specs(config)
    ids = list(dict.fromkeys(key.partition(".")[0] for key in plan.dataset_keys))
    views = dataset_views(config)
    layer_requests = dataset_layer_requests(config)
    return stable({"model": model_params(config, model), "dataset_keys": list(plan.dataset_keys),
            "datasets": {d: _fields(specs[d], DATASET_OUTPUT_FIELDS) for d in ids},
            # An image added or removed under an unchanged root reruns the dataset's caches.
            "listings": {d: dataset_listing_stamp(config, specs[d]) for d in ids},
            "views": {d: list(views[d]) for d in ids},
            "layers": {d: layer_requests.get(d) for d in ids},
            "precision": config.get("extraction", {}).get("precision", "fp32"),
            # What the code means by a cache and a view: a new meaning reruns the caches made under the old.
            "versions": {"cache_format": FORMAT_VERSION, "view_transforms": VIEW_TRANSFORMS_VERSION},
            "zero_shot": zero_shot_params(config, model)})


def property_params(config: dict[str, Any], prop: str, model: str) -> dict[str, Any]:
    """What one property's metrics of one model depend on: its settings, the groups it reads, its datasets."""
    specs = dataset_specs(config)
    refs = property_refs(config, prop, model)
    return {"settings": stable(config["properties"][prop]),
            "refs": [[ref.path, ref.dataset_key, ref.view] for ref in refs],
            "datasets": {d: _fields(specs[d], DATASET_PROPERTY_FIELDS) for d in enabled_properties(config)[prop]}}


def skipped_because(config: dict[str, Any], prop: str, model: str) -> str | None:
    """Why a property is not computed for a model (it reads logits the model does not have), or None."""
    if property_def(prop).needs_logits and model_specs(config)[model].headless:
        return f"{NO_HEAD_TEXT}: models.{model}.head is none, and {prop} reads 1000-way logits"
    return None


def compute_params(config: dict[str, Any], model: str) -> dict[str, Any]:
    """Params of one model's compute_properties job: each per-model property's params, or why it is skipped."""
    params = {}
    for prop in properties_of_scope(config, PER_MODEL):
        reason = skipped_because(config, prop, model)
        params[prop] = {"skipped": reason} if reason else property_params(config, prop, model)
    return stable(params)


def compare_params(config: dict[str, Any], prop: str) -> dict[str, Any]:
    """Params of a property that compares models: every model's groups, by model."""
    by_model = {model: property_params(config, prop, model) for model in config["models"]}
    first = next(iter(by_model.values()))
    return stable({"settings": first["settings"], "datasets": first["datasets"],
                   "refs": {model: params["refs"] for model, params in by_model.items()}})


def compare_inputs(config: dict[str, Any], prop: str) -> list[str]:
    """Cache files a property that compares models reads."""
    return sorted({ref[0] for refs in compare_params(config, prop)["refs"].values() for ref in refs})


def compute_inputs(config: dict[str, Any], model: str) -> list[str]:
    """Cache files one model's compute_properties job reads."""
    return sorted({ref[0] for params in compute_params(config, model).values() for ref in params.get("refs", [])})


def report_models(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What tables and figures show of each model."""
    return stable({m: _fields(spec, MODEL_DISPLAY_FIELDS) for m, spec in model_specs(config).items()})


def job_passes(config: dict[str, Any], job: str) -> int:
    """Image passes (images x views) of one extraction job, from declared sizes (sizes cluster requests)."""
    return extraction_jobs(config)[job].passes




