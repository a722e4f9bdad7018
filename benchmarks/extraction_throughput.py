"""Extraction throughput: the workflow's extract_outputs vs. a plain DataLoader + forward loop.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/extraction_throughput.py [--batch-size 64] [--check]
The model gets random weights (the demo checkpoints may not exist yet); throughput does not depend on them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _bench import benchmark_logging, timed  # benchmarks/ is sys.path[0] when run as a script
from torch.utils.data import DataLoader

from beyond_imagenet.config.schema import REPO_ROOT, load_config
from beyond_imagenet.config.specs import DatasetSpec, model_specs
from beyond_imagenet.data.formats import SampleList, list_samples
from beyond_imagenet.demo.settings import WorldSettings
from beyond_imagenet.demo.world import generate_world
from beyond_imagenet.extract.run import extract_outputs
from beyond_imagenet.models.build import LoadedModel, load_model
from beyond_imagenet.store.cache import partial_path

log = logging.getLogger("extraction_throughput")
TARGET_RATIO = 0.9
DEMO_CONFIG = REPO_ROOT / "config" / "demo.yaml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="demo world dir (default: generated in a temp dir)")
    parser.add_argument("--images-per-class", type=int, default=64, help="val images per class when generating")
    parser.add_argument("--model", default="vit_sup", help="timm model id from config/demo.yaml")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch threads; also DataLoader workers if > 1")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the best of each method is kept")
    parser.add_argument("--view", default="standard")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the ratio is below {TARGET_RATIO}")
    return parser.parse_args(argv)


def random_model(model_id: str, tmp: Path) -> LoadedModel:
    """The config's model with a random-init checkpoint, loaded through the project's own loader."""
    import timm

    spec = model_specs(load_config(DEMO_CONFIG))[model_id]
    if spec.source != "timm":
        raise SystemExit(f"model {model_id!r}: only timm models are supported here (source {spec.source!r})")
    network = timm.create_model(spec.name, pretrained=False, **spec.model_kwargs)
    weights = tmp / "w.pt"
    torch.save(network.state_dict(), weights)
    return load_model(dataclasses.replace(spec, weights=str(weights)))


def val_samples(world: Path, images_per_class: int) -> tuple[DatasetSpec, SampleList]:
    """The world's val set (generated first unless it already has one)."""
    if not (world / "val").is_dir():
        generate_world(WorldSettings(root=str(world), image_size=64, val_per_class=images_per_class,
                                     train_per_class=1))
    spec = DatasetSpec(id="imagenet_val", format="imagefolder_wnid", root=str(world / "val"))
    return spec, list_samples(spec)


def workflow_extraction(loaded: LoadedModel, dataset: DatasetSpec, samples: SampleList, out: Path,
                        args: argparse.Namespace, workers: int) -> None:
    """extract_outputs into a fresh file (no resume of an earlier repeat's partial)."""
    out.unlink(missing_ok=True)
    partial_path(out).unlink(missing_ok=True)
    extract_outputs(loaded, dataset, samples, out, views=(args.view,), batch_size=args.batch_size,
                    num_workers=workers, device="cpu")


class PlainImages(torch.utils.data.Dataset):
    """The textbook dataset: load, transform (float, normalised in the worker), return."""

    def __init__(self, samples: SampleList, transform: Callable) -> None:
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, row: int):
        return self.transform(self.samples.load(row)), row


def plain_loop(loaded: LoadedModel, samples: SampleList, batch_size: int, workers: int) -> np.ndarray:
    """The baseline: DataLoader -> forward -> numpy, nothing else."""
    loader = DataLoader(PlainImages(samples, loaded.preprocess.to_transform()), batch_size=batch_size,
                        shuffle=False, num_workers=workers)
    logits = []
    with torch.inference_mode():
        for batch, _ in loader:
            logits.append(loaded.network(batch)[0].numpy())
    return np.concatenate(logits)


def main(argv: list[str] | None = None) -> int:
    """Measure both methods, log the table and the ratio."""
    args = parse_args(argv)
    benchmark_logging()
    torch.set_num_threads(max(1, args.threads))
    workers = args.threads if args.threads > 1 else 0  # as run_extract does
    with tempfile.TemporaryDirectory(prefix="extraction_throughput_") as tmp_name:
        tmp = Path(tmp_name)
        dataset, samples = val_samples(args.world or tmp / "world", args.images_per_class)
        loaded = random_model(args.model, tmp)
        out = tmp / "outputs.h5"
        methods: dict[str, Callable[[], object]] = {
            "workflow extraction": lambda: workflow_extraction(loaded, dataset, samples, out, args, workers),
            "plain loop": lambda: plain_loop(loaded, samples, args.batch_size, workers),
        }
        for run in methods.values():  # warm-up: allocator, worker start-up, page cache
            run()
        best = {name: float("inf") for name in methods}
        for _ in range(args.repeats):  # alternate within a repeat so both see the same drift
            for name, run in methods.items():
                best[name] = min(best[name], timed(run))
    log.info("machine: cpu_count=%s torch=%s torch_threads=%d workers=%d batch_size=%d model=%s",
             os.cpu_count(), torch.__version__, torch.get_num_threads(), workers, args.batch_size, args.model)
    log.info("%-20s %8s %12s %10s", "method", "images", "best s", "images/s")
    rates = {name: len(samples) / seconds for name, seconds in best.items()}
    for name, seconds in best.items():
        log.info("%-20s %8d %12.3f %10.1f", name, len(samples), seconds, rates[name])
    ratio = rates["workflow extraction"] / rates["plain loop"]
    log.info("ratio (workflow / plain): %.2f (target >= %.2f)", ratio, TARGET_RATIO)
    return 1 if args.check and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
