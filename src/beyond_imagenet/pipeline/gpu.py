"""Entry points of the GPU-stage jobs (zero-shot heads, extraction), called with their rule's params."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ..catalog.labels import imagenet_classnames
from ..catalog.model_sources import model_source
from ..config.specs import DatasetSpec, ModelSpec, ZeroShotSpec, split_dataset_key
from ..data.formats import list_samples
from ..data.manifest import write_manifest
from ..extract.devices import job_device
from ..extract.run import DatasetTask, ModelAtSize, RunSettings, extract_job
from ..models.build import LoadedModel, load_backbone, load_model, sha256_file
from ..models.complexity import describe_model
from ..models.zero_shot import build_head, template_set, templates_as_text, text_hash
from ..store.cache import read_head, write_head

log = logging.getLogger(__name__)


def head_identity(spec: ModelSpec, zero_shot: ZeroShotSpec) -> dict[str, Any]:
    """What a zero-shot head must have been built from (checked when an extraction reads it)."""
    path = spec.local_weights
    return {"model": spec.id, "name": spec.name, "pretrained": spec.pretrained, "weights": spec.weights,
            "weights_sha256": sha256_file(path) if path is not None else None,
            "templates": zero_shot.templates,
            "templates_sha256": text_hash(templates_as_text(template_set(zero_shot.templates))),
            "classnames_sha256": text_hash(imagenet_classnames()), "num_classes": len(imagenet_classnames())}


def run_build_head(spec: ModelSpec, zero_shot: ZeroShotSpec, device: str, out_path: Path) -> None:
    """Build and cache the zero-shot ImageNet head of one CLIP model."""
    model, _ = load_backbone(spec)
    tokenizer = model_source(spec.source).resolve("tokenizer")(spec)
    templates = template_set(zero_shot.templates)
    log.info("building zero-shot head of %s: %d classes x %d templates", spec.id, len(imagenet_classnames()),
             len(templates))
    with job_device(device) as choice:
        log.info("device %s: %s", choice.device, choice.reason)
        head = build_head(model.to(choice.device), tokenizer, imagenet_classnames(), templates, device=choice.device)
    write_head(out_path, head.numpy(), head_identity(spec, zero_shot))


def model_builder(spec: ModelSpec, zero_shot: ZeroShotSpec, head_path: Path | None) -> ModelAtSize:
    """Builds the model at an input size; CLIP models get their cached head, checked against what built it."""
    if not spec.zero_shot:
        return lambda size: load_model(spec, image_size=size)
    if head_path is None:
        raise ValueError(f"model {spec.id!r} is a CLIP model; its zero-shot head file is required")
    embeddings, _ = read_head(head_path, expect=head_identity(spec, zero_shot))
    head = torch.from_numpy(embeddings)

    def build(size: int | None) -> LoadedModel:
        return load_model(spec, head, zero_shot.logit_scale, size)

    return build


def run_extract_job(spec: ModelSpec, job: str, datasets: dict[str, dict[str, Any]], views: dict[str, list[str]],
                    dataset_keys: list[str], out_path: Path, *, head_path: Path | None, zero_shot: ZeroShotSpec,
                    precision: str, batch_size: int, device: str, threads: int,
                    layers: dict[str, dict[str, Any] | None] | None = None) -> None:
    """One extraction job: the model over each dataset key of the job, every view, into one cache file."""
    tasks = []
    for key in dataset_keys:
        dataset_id, part = split_dataset_key(key)
        dataset = DatasetSpec.from_config(dataset_id, datasets[dataset_id])
        tasks.append(DatasetTask(key, dataset, list_samples(dataset, part), tuple(views[dataset_id]),
                                 (layers or {}).get(dataset_id)))
    torch.set_num_threads(max(1, threads))
    settings = RunSettings(batch_size=batch_size, num_workers=threads if threads > 1 else 0, device=device,
                           precision=precision, logit_scale=zero_shot.logit_scale if spec.zero_shot else None)
    log.info("job %s of %s: %s", job, spec.id, ", ".join(f"{t.key} ({len(t.samples)} images)" for t in tasks))
    extract_job(model_builder(spec, zero_shot, head_path), tasks, out_path, {"job": job}, settings)


def run_describe_model(spec: ModelSpec, out_path: Path) -> None:
    """The describe_model job: the model's Table 1 facts as JSON, written whole."""

    write_manifest(out_path, describe_model(spec))
