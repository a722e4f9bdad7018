"""Entry points the workflow scripts call: each reads config, does one job, writes one output."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from .cache import read_head, write_head
from .config import ZeroShotSpec, dataset_specs, model_specs, split_dataset_key
from .datasets import list_samples
from .extract import extract_outputs, model_identity, resolve_device
from .labels import imagenet_classnames
from .models import LoadedModel, load_backbone, load_model, sha256_file
from .views import view_image_size
from .zero_shot import build_head, template_set, templates_as_text, text_hash

log = logging.getLogger(__name__)


def zero_shot_spec(config: dict[str, Any]) -> ZeroShotSpec:
    """The zero_shot section with defaults filled in."""
    return ZeroShotSpec(**config.get("zero_shot", {}))


def head_identity(config: dict[str, Any], model_id: str) -> dict[str, Any]:
    """What a zero-shot head must have been built from (checked when an extraction reads it)."""
    spec = model_specs(config)[model_id]
    zero_shot = zero_shot_spec(config)
    path = spec.local_weights
    return {"model": spec.id, "name": spec.name, "pretrained": spec.pretrained, "weights": spec.weights,
            "weights_sha256": sha256_file(path) if path is not None else None,
            "templates": zero_shot.templates,
            "templates_sha256": text_hash(templates_as_text(template_set(zero_shot.templates))),
            "classnames_sha256": text_hash(imagenet_classnames()), "num_classes": len(imagenet_classnames())}


def run_build_head(config: dict[str, Any], model_id: str, out_path: Path) -> None:
    """Build and cache the zero-shot ImageNet head of one CLIP model."""
    import open_clip

    spec = model_specs(config)[model_id]
    model, _ = load_backbone(spec)
    device = resolve_device(config.get("extraction", {}).get("device", "auto"))
    tokenizer = open_clip.get_tokenizer(spec.name)
    templates = template_set(zero_shot_spec(config).templates)
    log.info("building zero-shot head of %s: %d classes x %d templates", model_id,
             len(imagenet_classnames()), len(templates))
    head = build_head(model.to(device), tokenizer, imagenet_classnames(), templates, device=device)
    write_head(out_path, head.numpy(), head_identity(config, model_id))


def load_for_extraction(config: dict[str, Any], model_id: str, head_path: Path | None,
                        image_size: int | None = None) -> LoadedModel:
    """A model ready to run; CLIP models get their cached head, checked against what it was built from."""
    spec = model_specs(config)[model_id]
    if not spec.is_clip:
        return load_model(spec, image_size=image_size)
    if head_path is None:
        raise ValueError(f"model {model_id!r} is a CLIP model; its zero-shot head file is required")
    embeddings, _ = read_head(head_path, expect=head_identity(config, model_id))
    return load_model(spec, torch.from_numpy(embeddings), zero_shot_spec(config).logit_scale, image_size)


def run_extract(config: dict[str, Any], model_id: str, dataset_key: str, view: str, out_path: Path,
                head_path: Path | None = None, threads: int = 1) -> None:
    """One forward pass of one model over one dataset (part) view, into its cache file."""
    loaded = load_for_extraction(config, model_id, head_path, view_image_size(view))
    dataset_id, part = split_dataset_key(dataset_key)
    dataset = dataset_specs(config)[dataset_id]
    samples = list_samples(dataset, part)
    extraction = config.get("extraction", {})
    logit_scale = zero_shot_spec(config).logit_scale if loaded.spec.is_clip else None
    log.info("extracting %s on %s/%s: %d images (model %s)", model_id, dataset_key, view, len(samples),
             model_identity(loaded)["name"])
    torch.set_num_threads(max(1, threads))
    extract_outputs(loaded, dataset, samples, out_path, view=view,
                    batch_size=extraction.get("batch_size", 64), num_workers=threads if threads > 1 else 0,
                    device=extraction.get("device", "auto"), precision=extraction.get("precision", "fp32"),
                    logit_scale=logit_scale, part=part)


def run_compute_property(config: dict[str, Any], prop: str, model_id: str, cache_paths: list[Path],
                         out_path: Path) -> None:
    """Compute one property for one model from its caches, into a tidy metrics CSV."""
    from .cache import read_outputs
    from .properties.registry import property_def

    definition = property_def(prop)
    caches = [read_outputs(path, expect={"model": model_id}, features=definition.needs_features) for path in cache_paths]
    rows = definition.compute(model_id, caches, config["properties"][prop], config)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out_path, index=False)


def run_report_property(config: dict[str, Any], prop: str, metric_paths: list[Path], table_csv: Path,
                        table_md: Path, figure_base: Path) -> None:
    """The property's table (with the paper's values) and its figure, from all models' metrics."""
    from .properties.registry import property_def
    from .tables import read_metrics, with_paper_values, write_table

    definition = property_def(prop)
    metrics = read_metrics(metric_paths)
    specs = model_specs(config)
    write_table(with_paper_values(definition.table_rows(metrics), specs), table_csv, table_md)
    definition.plot(metrics, specs, figure_base, config["properties"][prop])
