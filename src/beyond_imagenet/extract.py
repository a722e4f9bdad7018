"""The GPU stage: one forward pass of a model over an image set, streamed into a cache file."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .cache import OutputsWriter, library_versions
from .config import DatasetSpec
from .datasets import ImageDataset, SampleList
from .labels import NUM_IMAGENET_CLASSES
from .models import LoadedModel, Preprocess
from .views import STANDARD_VIEW, view_preprocess

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0  # a progress line per batch would drown a 50,000-image log


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("extraction.device is 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
    return torch.device(name)


def model_identity(loaded: LoadedModel) -> dict[str, Any]:
    """What identifies the model side of a cache (the weights by content hash when local)."""
    spec = loaded.spec
    return {"model": spec.id, "source": spec.source, "name": spec.name, "pretrained": spec.pretrained,
            "weights": spec.weights, "weights_sha256": loaded.weights_sha256,
            "model_kwargs": spec.model_kwargs}


def cache_identity(loaded: LoadedModel, dataset: DatasetSpec, samples: SampleList, view: str,
                   preprocess: Preprocess, logit_scale: float | None, part: str | None = None) -> dict[str, Any]:
    """Everything a cache records and a reader or a resume checks."""
    return {**model_identity(loaded), "dataset": dataset.id, "part": part, "dataset_format": dataset.format,
            "dataset_root": str(dataset.root), "num_images": len(samples),
            "image_list_sha256": samples.fingerprint(), "label_space": dataset.label_space,
            "view": view, "preprocess": preprocess.as_dict(), "logit_scale": logit_scale,
            "features": dataset.features, "versions": library_versions()}


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def extract_outputs(loaded: LoadedModel, dataset: DatasetSpec, samples: SampleList, out_path: Path, *,
                    view: str = STANDARD_VIEW, batch_size: int = 64, num_workers: int = 0,
                    device: str = "auto", precision: str = "fp32", logit_scale: float | None = None,
                    part: str | None = None) -> Path:
    """Run the model over every image once and write logits (+ features) to `out_path` atomically."""
    torch_device = resolve_device(device)
    preprocess = view_preprocess(loaded.preprocess, view)
    if dataset.native_resolution and loaded.spec.training == "supervised":
        preprocess = replace(preprocess, resize=0, crop=0)  # images are already at the model's size
    identity = cache_identity(loaded, dataset, samples, view, preprocess, logit_scale, part)
    writer = OutputsWriter(Path(out_path), list(samples.ids), list(samples.labels), NUM_IMAGENET_CLASSES,
                           identity, batch_size, label_sets=list(samples.label_sets) if samples.label_sets else None)
    try:
        _run_batches(loaded.network.to(torch_device), samples, preprocess, writer, torch_device,
                     batch_size, num_workers, precision, dataset.features)
        writer.finish()
    finally:
        writer.close()
    return Path(out_path)


def _run_batches(network: torch.nn.Module, samples: SampleList, preprocess: Preprocess, writer: OutputsWriter,
                 device: torch.device, batch_size: int, num_workers: int, precision: str,
                 keep_features: bool) -> None:
    """Stream batches from the first row not yet written; each batch is flushed before the next."""
    start = writer.rows_done
    images = ImageDataset(samples, preprocess.to_transform(), start=start)
    loader = DataLoader(images, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    began = last_log = time.perf_counter()
    done = 0
    with torch.inference_mode(), _autocast(device, precision):
        for batch, rows in loader:
            logits, features = network(batch.to(device, non_blocking=True))
            writer.write(int(rows[0]), _to_numpy(logits), _to_numpy(features) if keep_features else None)
            done += len(rows)
            if time.perf_counter() - last_log > PROGRESS_EVERY_S or start + done == len(samples):
                _log_progress(start + done, len(samples), done, began)
                last_log = time.perf_counter()


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.float().cpu().numpy()


def _log_progress(rows: int, total: int, done: int, began: float) -> None:
    elapsed = max(time.perf_counter() - began, 1e-9)
    log.info("extracted %d/%d images (%.1f images/s)", rows, total, done / elapsed)
