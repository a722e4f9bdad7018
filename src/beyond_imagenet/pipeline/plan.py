"""Extraction jobs: which datasets (parts) and views each job of a model computes, from config alone.

A job is one model over one big dataset (or one shard, or one ImageNet-C group), or over a pack
of small datasets: a job's start-up (Python, torch, CUDA, model load) costs more than extracting
a 1,000-image set. Every view a property needs of a dataset is computed in the same job, from one
decode of each image. The plan is the same for every model; its cache is
`results/outputs/{model}/{job}.h5`, with one group per (dataset key, view).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config.needs import enabled_properties, is_generated
from ..config.schema import ConfigError
from ..config.specs import DatasetSpec, dataset_keys, dataset_specs, images_of, split_dataset_key
from ..properties import property_def

JOB_CACHE = "results/outputs/{model}/{job}.h5"
PACK_PREFIX = "pack_"
DEFAULT_PACK_IMAGES = 100_000


@dataclass(frozen=True)
class ExtractionJob:
    """One extraction job's datasets (parts), in the order they run, and its size in image passes."""

    name: str
    dataset_keys: tuple[str, ...]
    passes: int  # images x views (an estimate from declared sizes: it sizes runtime requests only)


@dataclass(frozen=True)
class CacheRef:
    """Where one (dataset key, view) of a model lives: a group of a job's cache file."""

    path: str
    dataset_key: str
    view: str


def dataset_views(config: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Dataset id -> the views the enabled properties read of it (in order of first need)."""
    views: dict[str, list[str]] = {}
    for prop, datasets in enabled_properties(config).items():
        for view in property_def(prop).views(config["properties"][prop]):
            for dataset in datasets:
                if view not in views.setdefault(dataset, []):
                    views[dataset].append(view)
    return {dataset: tuple(views[dataset]) for dataset in config["datasets"] if dataset in views}


DEFAULT_LAYERS = r"(^|\.)(blocks|resblocks)\.\d+$"  # every block output (timm, open_clip towers)
DEFAULT_LAYER_IMAGES = 5000


def dataset_layer_requests(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dataset id -> which layer activations its extraction records (for properties that read layers)."""
    requests: dict[str, dict[str, Any]] = {}
    for prop, datasets in enabled_properties(config).items():
        if not property_def(prop).needs_layers:
            continue
        settings = config["properties"][prop]
        request = {"images": settings.get("images", DEFAULT_LAYER_IMAGES), "seed": settings.get("seed", 0),
                   "layers": settings.get("layers", DEFAULT_LAYERS)}
        for dataset in datasets:
            if requests.setdefault(dataset, request) != request:
                raise ConfigError(f"config key 'properties.{prop}': dataset {dataset!r} is asked for layer features "
                                  "with other settings by another property; use the same images, seed and layers")
    return requests


def _own_jobs(spec: DatasetSpec) -> list[tuple[str, tuple[str, ...]]] | None:
    """Jobs of a dataset that never shares one (ImageNet-C groups, shards), or None."""
    keys = dataset_keys(spec)
    if spec.format == "imagenet_c":
        if spec.job_per == "cell":
            return [(key, (key,)) for key in keys]
        if spec.job_per == "dataset":
            return [(spec.id, tuple(keys))]
        return [(f"{spec.id}.{c}", tuple(f"{spec.id}.{c}.{s}" for s in spec.severities)) for c in spec.corruptions]
    if spec.shards > 1:
        return [(key, (key,)) for key in keys]
    return None


def extraction_jobs(config: dict[str, Any]) -> dict[str, ExtractionJob]:
    """Every extraction job of one model, by name (the `job` wildcard); packs are filled in dataset-id order."""
    specs = dataset_specs(config)
    views = dataset_views(config)
    limit = config.get("extraction", {}).get("pack_images", DEFAULT_PACK_IMAGES)
    jobs: list[ExtractionJob] = []
    pack: list[str] = []

    def close_pack() -> None:
        if pack:
            # a pack is named for what it holds (its first and last set), never for one of its datasets
            name = pack[0] if len(pack) == 1 else f"{PACK_PREFIX}{pack[0]}_to_{pack[-1]}"
            jobs.append(ExtractionJob(name, tuple(pack), sum(images_of(specs[d]) * len(views[d]) for d in pack)))
            pack.clear()

    for dataset in sorted(views):  # by id, not config order: reordering a config must not repack (and rerun) jobs
        spec = specs[dataset]
        own = _own_jobs(spec)
        if own is not None:
            jobs += [ExtractionJob(name, keys, sum(images_of(spec, split_dataset_key(k)[1]) for k in keys)
                                   * len(views[dataset])) for name, keys in own]
            continue
        size = images_of(spec) * len(views[dataset])
        if size >= limit:
            jobs.append(ExtractionJob(dataset, (dataset,), size))
            continue
        if pack and sum(images_of(specs[d]) * len(views[d]) for d in pack) + size > limit:
            close_pack()
        pack.append(dataset)
    close_pack()
    return _unique(jobs, specs)


def _unique(jobs: list[ExtractionJob], specs: dict[str, DatasetSpec]) -> dict[str, ExtractionJob]:
    by_name: dict[str, ExtractionJob] = {}
    for job in jobs:
        if job.name in by_name:
            raise ConfigError(f"extraction job name {job.name!r} is used twice (a dataset id equals a pack name); "
                              f"rename dataset {job.name!r} so it does not start with {PACK_PREFIX!r}")
        by_name[job.name] = job
    return by_name


LISTING_FILES = (".txt", ".parquet", ".json", ".csv")  # files inside a root that define its listing


@lru_cache(maxsize=None)
def listing_stamp(root: str, extra_files: tuple[str, ...] = ()) -> str:
    """A cheap stamp of a dataset's listing: the mtime of every folder under root and of its list/label files.

    Adding, removing or renaming an image changes its folder's mtime, so the stamp (a param of the
    extraction) reruns the caches of a dataset whose listing changed, for one directory walk (no
    stat per image) per DAG build. Changing an image's bytes in place is not a listing change.
    """
    digest = hashlib.sha256()
    for path in (Path(root), *map(Path, extra_files)):
        if path.exists():
            digest.update(f"{path}\t{path.stat().st_mtime_ns}\n".encode())
    pending = [Path(root)] if Path(root).is_dir() else []
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif not entry.name.endswith(LISTING_FILES):
                    continue
                digest.update(f"{entry.path}\t{entry.stat().st_mtime_ns}\n".encode())
    return digest.hexdigest()


def dataset_listing_stamp(config: dict[str, Any], spec: DatasetSpec) -> str:
    """The listing stamp of a dataset; a generated (demo) one is stamped by its manifest, an input instead."""
    if is_generated(Path(spec.root), config):
        return "generated"
    extra = tuple(f for f in (spec.label_file, spec.class_map) if f)
    return listing_stamp(spec.root, extra)


def job_of_dataset_key(config: dict[str, Any]) -> dict[str, str]:
    """Dataset key -> the job that extracts it."""
    return {key: job.name for job in extraction_jobs(config).values() for key in job.dataset_keys}


def job_cache(model: str, job: str) -> str:
    """Cache file of one (model, job)."""
    return JOB_CACHE.format(model=model, job=job)


def property_refs(config: dict[str, Any], prop: str, model: str) -> list[CacheRef]:
    """The (file, dataset key, view) groups one property reads of one model: every part, every view."""
    specs = dataset_specs(config)
    jobs = job_of_dataset_key(config)
    views = property_def(prop).views(config["properties"][prop])
    return [CacheRef(job_cache(model, jobs[key]), key, view)
            for dataset in enabled_properties(config)[prop]
            for key in dataset_keys(specs[dataset])
            for view in views]
