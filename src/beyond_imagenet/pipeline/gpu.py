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
from ..extract.run import DatasetTask, ModelAtSize, RunSettings, TeamMember, extract_team
from ..models.build import LoadedModel, load_backbone, load_model, sha256_file
from ..models.complexity import describe_model
from ..models.zero_shot import build_head, template_set, templates_as_text, text_hash
from ..store.cache import MADE_FROM_KEY, PARAMS_DIGEST_KEY, WriterLock, lock_path, read_head, write_head
from .plan import job_cache
from .team import Heartbeat, TeamCandidate, adopt_staged, claim_team_members, staged_path

log = logging.getLogger(__name__)


def head_identity(spec: ModelSpec, zero_shot: ZeroShotSpec) -> dict[str, Any]:
    """What a zero-shot head must have been built from (checked when an extraction reads it)."""
    path = spec.local_weights
    return {"model": spec.id, "name": spec.name, "pretrained": spec.pretrained, "weights": spec.weights,
            "weights_sha256": sha256_file(path) if path is not None else None,
            "templates": zero_shot.templates,
            "templates_sha256": text_hash(templates_as_text(template_set(zero_shot.templates))),
            "classnames_sha256": text_hash(imagenet_classnames()), "num_classes": len(imagenet_classnames())}


def run_build_head(spec: ModelSpec, zero_shot: ZeroShotSpec, device: str, out_path: Path, jobs_per_gpu: int = 1
                   ) -> None:
    """Build and cache the zero-shot ImageNet head of one CLIP model."""
    model, _ = load_backbone(spec)
    tokenizer = model_source(spec.source).resolve("tokenizer")(spec)
    templates = template_set(zero_shot.templates)
    log.info("building zero-shot head of %s: %d classes x %d templates", spec.id, len(imagenet_classnames()),
             len(templates))
    with job_device(device, jobs_per_gpu) as choice:
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
                    layers: dict[str, dict[str, Any] | None] | None = None, jobs_per_gpu: int = 1,
                    digests: tuple[str, str] | None = None, team: dict[str, TeamCandidate] | None = None) -> None:
    """One extraction job: the model over each dataset key of the job, every view, into one cache file. With a
    `team` (extraction.share_decoding), its cache staged by an earlier job is adopted, or the job also extracts
    the other models that lack an up-to-date cache of this job, decoding each image once for all (pipeline.team)."""
    identity = {"job": job, **(dict(zip((PARAMS_DIGEST_KEY, MADE_FROM_KEY), digests)) if digests else {})}
    claimed: list[WriterLock] = []
    with Heartbeat(claimed):
        _extract_or_adopt(spec, job, datasets, views, dataset_keys, Path(out_path), identity, claimed,
                          head_path=head_path, zero_shot=zero_shot, precision=precision, batch_size=batch_size,
                          device=device, threads=threads, layers=layers, jobs_per_gpu=jobs_per_gpu, team=team)


def _extract_or_adopt(spec: ModelSpec, job: str, datasets: dict[str, dict[str, Any]], views: dict[str, list[str]],
                      dataset_keys: list[str], out_path: Path, identity: dict[str, Any], claimed: list[WriterLock], *,
                      head_path: Path | None, zero_shot: ZeroShotSpec, precision: str, batch_size: int, device: str,
                      threads: int, layers: dict[str, dict[str, Any] | None] | None, jobs_per_gpu: int,
                      team: dict[str, TeamCandidate] | None) -> None:
    try:
        own = None
        if team is not None and MADE_FROM_KEY in identity:
            own = WriterLock(lock_path(out_path))  # first thing: a job starting now will not extract this model
            claimed.append(own)
            if adopt_staged(spec.id, job, identity[MADE_FROM_KEY], out_path):
                return
        tasks = _tasks(datasets, views, dataset_keys, layers)
        torch.set_num_threads(max(1, threads))
        settings = RunSettings(batch_size=batch_size, num_workers=threads if threads > 1 else 0, device=device,
                               precision=precision, logit_scale=zero_shot.logit_scale if spec.zero_shot else None,
                               jobs_per_gpu=jobs_per_gpu)
        members = [TeamMember(model_builder(spec, zero_shot, head_path), out_path, identity, settings.logit_scale,
                              own)]
        if team is not None:
            others = claim_team_members(job, spec.id, team, lambda m: Path(job_cache(m, job)))
            claimed += [lock for _, lock in others]
            members += [_staged_member(team[m], job, lock) for m, lock in others]
            if others:
                log.info("job %s of %s also extracts %s (shared decoding; staged under %s)", job, spec.id,
                         ", ".join(m for m, _ in others), staged_path("<model>", job))
        log.info("job %s of %s: %s", job, spec.id, ", ".join(f"{t.key} ({len(t.samples)} images)" for t in tasks))
        extract_team(members, tasks, settings)
    finally:
        for lock in claimed:
            lock.release()  # a no-op for a lock its cache's writer released already


def _tasks(datasets: dict[str, dict[str, Any]], views: dict[str, list[str]], dataset_keys: list[str],
           layers: dict[str, dict[str, Any] | None] | None) -> list[DatasetTask]:
    """The job's dataset keys as tasks: their images listed, their views and layer requests."""
    tasks = []
    for key in dataset_keys:
        dataset_id, part = split_dataset_key(key)
        dataset = DatasetSpec.from_config(dataset_id, datasets[dataset_id])
        tasks.append(DatasetTask(key, dataset, list_samples(dataset, part), tuple(views[dataset_id]),
                                 (layers or {}).get(dataset_id)))
    return tasks


def _staged_member(candidate: TeamCandidate, job: str, lock: WriterLock) -> TeamMember:
    """Another model of the run, extracted into its staged cache under the lock this job claimed."""
    scale = candidate.zero_shot.logit_scale if candidate.spec.zero_shot else None
    return TeamMember(model_builder(candidate.spec, candidate.zero_shot, candidate.head_path),
                      staged_path(candidate.spec.id, job),
                      {"job": job, PARAMS_DIGEST_KEY: candidate.params, MADE_FROM_KEY: candidate.made_from}, scale,
                      lock)


def run_describe_model(spec: ModelSpec, out_path: Path) -> None:
    """The describe_model job: the model's Table 1 facts as JSON, written whole."""

    write_manifest(out_path, describe_model(spec))
