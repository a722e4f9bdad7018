"""Benchmark: every CPU property rule for 4 models on paper-sized caches (synthetic logits, real HDF5).

Writes caches with the sizes of the paper's sets (ImageNet val 50,000; -R 30,000; -Sketch 50,889;
-V2 10,000; -A 7,500; -Hard 10,980; 15 invariance views of val) for 4 models, one file per (model,
dataset) with a group per view as the extraction writes them (with the per-image scores it stores), then times
`compute_property` for each (property, model) pair, sequentially and with 2 processes, and prints the totals
against the 60 s target. ReaL reuses the val cache.

ImageNet-C (75 cells x 50,000 images per model, 15 GB of logits per model at full size) is written as the
workflow writes it, a file per corruption with a group per severity, at `--c-scale` of its size (default 0.1: 6 GB
for 4 models); its robustness work is timed as a job of its own per model and extrapolated linearly to full size
(the work per image is the same: ids, labels and stored top-1 read and joined). `--scale` shrinks the other sets.

    .venv/bin/python benchmarks/properties_paper_size.py --workdir /tmp/bench   # ~21 GB of caches
    .venv/bin/python benchmarks/properties_paper_size.py --workdir /tmp/bench_small --scale 0.02 --c-scale 0.01
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from beyond_imagenet.catalog.class_maps import IN9_FOLDERS
from beyond_imagenet.catalog.labels import imagenet_subset
from beyond_imagenet.data.formats import IN9_VARIANTS
from beyond_imagenet.data.views import invariance_views
from beyond_imagenet.pipeline.cpu import compute_property
from beyond_imagenet.properties.imagenet_x.compute import load_factor_annotations
from beyond_imagenet.properties.robustness.compute import IMAGENET_C_CORRUPTIONS, IMAGENET_C_SEVERITIES
from beyond_imagenet.store.cache import CacheFileWriter
from beyond_imagenet.store.rows import write_metrics

log = logging.getLogger("benchmark")

MODELS = ("vit_sup", "convnext_sup", "vit_clip", "convnext_clip")
SIZES = {"imagenet_val": 50_000, "imagenet_r": 30_000, "imagenet_sketch": 50_889, "imagenet_v2": 10_000,
         "imagenet_a": 7_500, "imagenet_hard": 10_980,
         # beyond the paper: ImageNet-O, ObjectNet's 113 overlapping classes (testbed's count of its beta: 18,514;
         # 1.0 is about the same), ImageNet-9's 4 variants x 4,050
         "imagenet_o": 2_000, "objectnet": 18_574, "imagenet_9": 16_200}
NO_IMAGENET_LABELS = {"objectnet": 113, "imagenet_9": 9}  # label_space none: labels are the set's own classes
INVARIANCE = {"scales": [1, 1.25, 1.5, 2, 3], "shifts": [0, 5, 30, 75, 100], "resolutions": [112, 224, 336, 512, 640]}
CHUNK = 5_000
C_CELL_IMAGES = 50_000  # every ImageNet-C cell holds the 50,000 val images
C_JOB = "robustness[imagenet_c]"  # the ImageNet-C share of the robustness job, timed apart to extrapolate it


def val_ids(rows: int) -> list[str]:
    """The real val file names in wnid folders, so the ImageNet-X and ReaL joins do real work."""
    return [f"n00000000/ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, rows + 1)]


def write_group(writer: CacheFileWriter, key: str, view: str, ids: list[str], labels: np.ndarray,
                identity: dict, rng: np.random.Generator, sets: list | None = None) -> None:
    """One (dataset key, view) group of random logits with a signal on the true class (~70% top-1)."""
    group = writer.group(key, view, ids, labels.tolist(), identity, label_sets=sets)
    for start in range(0, len(ids), CHUNK):
        block = rng.standard_normal((min(CHUNK, len(ids) - start), 1000), np.float32)
        block[np.arange(len(block)), labels[start:start + len(block)]] += 3.0
        group.write(start, block, None)


def write_cache(path: Path, model: str, dataset: str, views: list[str], rows: int,
                rng: np.random.Generator) -> None:
    """A complete cache with a group per view."""
    subsets = ("imagenet_a", "imagenet_r", "imagenet_o")
    pool = imagenet_subset(dataset) if dataset in subsets else np.arange(NO_IMAGENET_LABELS.get(dataset, 1000))
    labels = rng.choice(pool, rows)
    ids = val_ids(rows) if dataset == "imagenet_val" else [f"x/{i:06d}.JPEG" for i in range(rows)]
    if dataset == "imagenet_9":  # <variant>/val/<class>/<image>, the four variants in turn
        ids = [f"{IN9_VARIANTS[i % 4]}/val/{IN9_FOLDERS[labels[i]]}/{i:06d}.JPEG" for i in range(rows)]
    space = dataset if dataset in subsets else "none" if dataset in NO_IMAGENET_LABELS else "imagenet1k"
    sets = [(int(label),) for label in labels] if dataset == "imagenet_hard" else None
    writer = CacheFileWriter(path, {"job": dataset, "model": model}, CHUNK)
    for view in views:
        identity = {"model": model, "dataset": dataset, "view": view, "part": None, "label_space": space}
        write_group(writer, dataset, view, ids, labels, identity, rng, sets)
    writer.finish()


def c_path(workdir: Path, model: str, corruption: str) -> Path:
    return workdir / "outputs" / model / f"imagenet_c.{corruption}.h5"


def write_imagenet_c(workdir: Path, model: str, rows: int, rng: np.random.Generator) -> None:
    """ImageNet-C as the extraction writes it: a file per corruption, a group per severity, ids
    '<corruption>/<severity>/<wnid>/<file>' over the same val images in every cell."""
    labels = rng.choice(np.arange(1000), rows)
    names = val_ids(rows)
    for corruption in IMAGENET_C_CORRUPTIONS:
        path = c_path(workdir, model, corruption)
        if path.exists():
            continue
        writer = CacheFileWriter(path, {"job": f"imagenet_c.{corruption}", "model": model}, CHUNK)
        for severity in IMAGENET_C_SEVERITIES:
            part = f"{corruption}.{severity}"
            identity = {"model": model, "dataset": "imagenet_c", "view": "standard", "part": part,
                        "label_space": "imagenet1k"}
            write_group(writer, f"imagenet_c.{part}", "standard", [f"{corruption}/{severity}/{n}" for n in names],
                        labels, identity, rng)
        writer.finish()


def bench_config(workdir: Path) -> dict:
    """A config naming the benchmark's datasets and properties (as config/config.yaml does)."""
    datasets = {d: {"format": "imagefolder_wnid", "root": str(workdir)} for d in SIZES}
    datasets["imagenet_v2"]["format"] = "numeric_folders"
    datasets["imagenet_hard"]["format"] = "parquet_multilabel"
    datasets["imagenet_c"] = {"format": "imagenet_c", "root": str(workdir)}
    roles = {"imagenet_val": "imagenet_val", "imagenet_o": "imagenet_o", "imagenet_9": "imagenet_9",
             "objectnet": "objectnet"}
    for dataset, role in roles.items():
        datasets[dataset]["role"] = role
    datasets["objectnet"]["format"], datasets["imagenet_9"]["format"] = "objectnet", "imagenet_9"
    return {
        "datasets": datasets,
        "properties": {
            "accuracy": {"datasets": ["imagenet_val"]},
            "calibration": {"datasets": ["imagenet_val", "imagenet_r"]},
            "imagenet_x": {"datasets": ["imagenet_val"], "annotations": "package"},
            "robustness": {"datasets": ["imagenet_val", "imagenet_v2", "imagenet_a", "imagenet_r",
                                        "imagenet_sketch", "imagenet_hard"], "real_labels": "package"},
            "invariance": {"datasets": ["imagenet_val"], **INVARIANCE},
            "ood_detection": {"datasets": ["imagenet_val", "imagenet_o"]},
            "objectnet": {"datasets": ["objectnet"]},
            "object_focus": {"datasets": ["imagenet_9", "imagenet_val"]},
            "class_balance": {"datasets": ["imagenet_val"]},
        },
    }


def cache_path(workdir: Path, model: str, dataset: str) -> Path:
    return workdir / "outputs" / model / f"{dataset}.h5"


def views_of(settings: dict, prop: str) -> list[str]:
    return invariance_views(settings) if prop == "invariance" else ["standard"]


def jobs(workdir: Path, config: dict) -> list[tuple[str, str, list[list[str]]]]:
    """(property, model, [file, dataset, view] refs) for every property the workflow computes; the ImageNet-C
    share of robustness as a job of its own."""
    per_property = [(prop, model, [[str(cache_path(workdir, model, d)), d, v] for d in settings["datasets"]
                                   for v in views_of(settings, prop)])
                    for prop, settings in config["properties"].items() for model in MODELS]
    c_jobs = [(C_JOB, model, [[str(c_path(workdir, model, c)), f"imagenet_c.{c}.{s}", "standard"]
                              for c in IMAGENET_C_CORRUPTIONS for s in IMAGENET_C_SEVERITIES]) for model in MODELS]
    return per_property + (c_jobs if "robustness" in config["properties"] else [])


def write_all(workdir: Path, config: dict, scale: float, c_scale: float) -> None:
    """Every cache the jobs read (skipped when already there)."""
    rng = np.random.default_rng(0)
    views: dict[str, list[str]] = {}
    for prop, settings in config["properties"].items():
        for dataset in settings["datasets"]:
            views.setdefault(dataset, [])
            views[dataset] += [v for v in views_of(settings, prop) if v not in views[dataset]]
    for model in MODELS:
        for dataset, dataset_views in views.items():
            path = cache_path(workdir, model, dataset)
            if not path.exists():
                write_cache(path, model, dataset, dataset_views, max(1, int(SIZES[dataset] * scale)), rng)
        if "robustness" in config["properties"]:
            write_imagenet_c(workdir, model, max(1, int(C_CELL_IMAGES * c_scale)), rng)
    log.info("caches: %.1f GB", sum(p.stat().st_size for p in (workdir / "outputs").rglob("*.h5")) / 1e9)


def run_job(job: tuple[str, str, list[list[str]]], config: dict, workdir: Path) -> tuple[str, str, float]:
    """One property of one model, timed (what compute_properties does per property after its imports)."""
    prop, model, refs = job
    began = time.perf_counter()
    computed = "robustness" if prop == C_JOB else prop
    settings = config["properties"][computed]
    rows, _ = compute_property(computed, model, refs, settings, config["datasets"])  # intervals included
    write_metrics(rows, workdir / "metrics" / prop / f"{model}.csv")
    return prop, model, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/beyond_imagenet_bench"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's set sizes (but ImageNet-C)")
    parser.add_argument("--c-scale", type=float, default=0.1, help="fraction of ImageNet-C's 50,000 images per cell")
    parser.add_argument("--properties", nargs="*", help="only these properties (default: all), ImageNet-C included")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("beyond_imagenet",):
        logging.getLogger(name).setLevel(logging.ERROR)
    config = bench_config(args.workdir)
    if args.properties:
        config["properties"] = {p: config["properties"][p] for p in args.properties}
    write_all(args.workdir, config, args.scale, args.c_scale)
    load_factor_annotations("top")  # warm the page cache of the package files like any earlier job would
    all_jobs = jobs(args.workdir, config)
    began = time.perf_counter()
    timings = [run_job(job, config, args.workdir) for job in all_jobs]
    sequential = time.perf_counter() - began
    by_property: dict[str, float] = {}
    for prop, _, seconds in timings:
        by_property[prop] = by_property.get(prop, 0.0) + seconds
    began = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(run_job, all_jobs, [config] * len(all_jobs), [args.workdir] * len(all_jobs)))
    parallel = time.perf_counter() - began
    c_rows = max(1, int(C_CELL_IMAGES * args.c_scale))
    c_factor = C_CELL_IMAGES / c_rows  # ImageNet-C's work grows with its images (read, join, per-image outcome)
    c_seconds = by_property.get(C_JOB, 0.0)
    c_extra = c_seconds * (c_factor - 1)
    log.info("machine: %d CPUs; %d property jobs (%d properties x 4 models, + ImageNet-C x 4)", os.cpu_count(),
             len(all_jobs), len(config["properties"]))
    for prop, seconds in by_property.items():
        log.info("  %-22s %6.1f s for 4 models (sequential)", prop, seconds)
    log.info("ImageNet-C at %d images per cell (%.3g of full size): %.1f s; at full size (x%.0f): %.1f s",
             c_rows, c_rows / C_CELL_IMAGES, c_seconds, c_factor, c_seconds * c_factor)
    log.info("all properties, sequential:        %6.1f s measured, %6.1f s with full-size ImageNet-C", sequential,
             sequential + c_extra)
    # the 4 ImageNet-C jobs are equal in size, so with 2 processes each takes 2 of them: its extra work splits evenly
    log.info("all properties, %d processes:       %6.1f s measured, %6.1f s with full-size ImageNet-C (est.; target "
             "< 60 s)", args.workers, parallel, parallel + c_extra / args.workers)


if __name__ == "__main__":
    main()
