"""The GPU stage: one model over the datasets of one job, every view from one decode, into one cache file."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..catalog.labels import NUM_IMAGENET_CLASSES
from ..catalog.model_sources import model_source
from ..config.specs import DatasetSpec
from ..data.formats import SampleList
from ..data.views import STANDARD_VIEW, view_image_size, view_preprocess
from ..models.build import LoadedModel
from ..models.preprocess import Preprocess
from ..store.cache import CacheFileWriter, GroupWriter, WriterLock, library_versions
from .devices import job_device

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0  # a progress line per batch would drown a 50,000-image log
ModelAtSize = Callable[[int | None], LoadedModel]  # None: the model as configured; n: rebuilt for n px input


def model_identity(loaded: LoadedModel) -> dict[str, Any]:
    """What identifies the model side of a cache (the weights by content hash when local)."""
    spec = loaded.spec
    return {"model": spec.id, "source": spec.source, "name": spec.name, "pretrained": spec.pretrained,
            "weights": spec.weights, "weights_sha256": loaded.weights_sha256,
            "model_kwargs": spec.model_kwargs, "resampled": loaded.resampled, "head": spec.head,
            "output_map": loaded.output_map}


@dataclass(frozen=True)
class ViewPass:
    """One forward pass over a dataset: the transform, the model size, and every view name it serves."""

    preprocess: Preprocess
    image_size: int | None  # None: the model as configured
    views: tuple[str, ...]  # views[0] is the group that stores the outputs; the rest are aliases of it

    @property
    def name(self) -> str:
        """The stored view."""
        return self.views[0]


def dataset_preprocess(loaded: LoadedModel, dataset: DatasetSpec) -> Preprocess:
    """The model's standard preprocessing for this dataset, or none of its resize/crop (datasets.<id>.native_resolution).

    `supervised` (the paper, for cue-conflict): models with `training: supervised` see the stored
    pixels, the others keep their own preprocessing; `all`: every model; `none`: no model.
    """
    applies = dataset.native_resolution == "all" or (dataset.native_resolution == "supervised"
                                                     and loaded.spec.training == "supervised")
    if applies:
        return replace(loaded.preprocess, resize=0, crop=0)  # images are already at the model's size
    return loaded.preprocess


def plan_view_passes(standard: Preprocess, views: Sequence[str]) -> list[ViewPass]:
    """Group views that are the same transform at the same model size into one pass (scale=1 = standard)."""
    passes: dict[tuple[Preprocess, int | None], list[str]] = {}
    for view in views:
        size = view_image_size(view)
        size = None if size == standard.crop else size  # the configured model already runs at its crop
        passes.setdefault((view_preprocess(standard, view), size), []).append(view)
    return [ViewPass(preprocess, size, tuple(names)) for (preprocess, size), names in passes.items()]


def cache_identity(loaded: LoadedModel, dataset: DatasetSpec, samples: SampleList, view_pass: ViewPass,
                   logit_scale: float | None, part: str | None = None) -> dict[str, Any]:
    """Everything a cache group records and a reader or a resume checks."""
    return {**model_identity(loaded), "dataset": dataset.id, "part": part, "dataset_format": dataset.format,
            "dataset_root": str(dataset.root), "num_images": len(samples),
            "image_list_sha256": samples.fingerprint(), "label_space": dataset.label_space,
            "view": view_pass.name, "views": list(view_pass.views), "image_size": view_pass.image_size,
            "preprocess": view_pass.preprocess.as_dict(), "logit_scale": logit_scale,
            "features": dataset.features, "versions": library_versions()}


@dataclass(frozen=True)
class DatasetTask:
    """One dataset (part) of a job and the views the properties read of it."""

    key: str  # dataset key: id, or id.part
    spec: DatasetSpec
    samples: SampleList
    views: tuple[str, ...]
    layers: dict[str, Any] | None = None  # {images, seed, layers}: record pooled block outputs of a subset

    @property
    def part(self) -> str | None:
        """The part of a split dataset, or None."""
        return self.key.partition(".")[2] or None


def layer_subset(num_images: int, images: int, seed: int) -> np.ndarray:
    """The sorted rows whose layer activations are recorded: a seeded draw of min(images, N) of N."""
    return np.sort(np.random.default_rng(seed).choice(num_images, size=min(images, num_images), replace=False))


def pool_activation(output: torch.Tensor, batch: int) -> dict[str, torch.Tensor]:
    """Pooled per-image activations of one module: conv maps spatially averaged; tokens mean-pooled and CLS."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.ndim == 4:
        return {"mean": output.float().mean(dim=(2, 3))}
    if output.ndim == 3:
        tokens = output if output.shape[0] == batch else output.transpose(0, 1)  # (N, B, D) towers
        return {"mean": tokens.float().mean(dim=1), "cls": tokens[:, 0].float()}
    if output.ndim == 2:
        return {"mean": output.float()}
    raise ValueError(f"cannot pool a module output of shape {tuple(output.shape)}")


class LayerRecorder:
    """Forward hooks on the image tower's modules whose names match a pattern; pooled outputs per forward."""

    def __init__(self, loaded: LoadedModel, pattern: str) -> None:
        library_model = loaded.network.model
        tower_name = model_source(loaded.spec.source).image_tower
        tower = library_model.get_submodule(tower_name) if tower_name else library_model
        matcher = re.compile(pattern)
        self.names = [name for name, _ in tower.named_modules() if name and matcher.search(name)]
        if not self.names:
            raise ValueError(f"model {loaded.spec.id!r}: no module of its image tower matches the layer pattern "
                             f"{pattern!r} (properties.representation_similarity.layers)")
        modules = dict(tower.named_modules())
        self.outputs: dict[str, Any] = {}
        self.handles = [modules[name].register_forward_hook(self._hook(name)) for name in self.names]

    def _hook(self, name: str):
        def store(module, inputs, output):
            self.outputs[name] = output
        return store

    def pooled(self, batch: int) -> dict[str, dict[str, torch.Tensor]]:
        """The last forward's pooled outputs, by layer name."""
        return {name: pool_activation(self.outputs[name], batch) for name in self.names}

    def remove(self) -> None:
        """Take the hooks off the model."""
        for handle in self.handles:
            handle.remove()


class MultiViewImages(Dataset):
    """Each image decoded once and transformed into every view: yields (one tensor per view, row).

    The extraction gives it uint8 transforms (geometry only) and normalises on the model's device.
    """

    def __init__(self, samples: SampleList, transforms: Sequence[Callable], start: int = 0) -> None:
        self.samples = samples
        self.transforms = list(transforms)
        self.start = start

    def __len__(self) -> int:
        return len(self.samples) - self.start

    def __getitem__(self, index: int):
        row = self.start + index
        image = self.samples.load(row)
        return tuple(transform(image) for transform in self.transforms), row


@dataclass
class RunSettings:
    """Runtime knobs of a job: they change speed, not the numbers (precision excepted, which is recorded)."""

    batch_size: int = 64
    num_workers: int = 0
    device: str = "auto"
    precision: str = "fp32"
    logit_scale: float | None = None
    jobs_per_gpu: int = 1  # concurrent jobs sharing one GPU (extract.devices)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class ModelCache:
    """The job's model at each input size it needs, built once and moved to the device."""

    def __init__(self, model_at: ModelAtSize, device: torch.device) -> None:
        self.model_at = model_at
        self.device = device
        self.built: dict[int | None, LoadedModel] = {}

    def __call__(self, image_size: int | None) -> LoadedModel:
        if image_size not in self.built:
            loaded = self.model_at(image_size)
            loaded.network.to(self.device)
            self.built[image_size] = loaded
        return self.built[image_size]


def extract_job(model_at: ModelAtSize, tasks: Sequence[DatasetTask], out_path: Path, job_identity: dict[str, Any],
                settings: RunSettings) -> Path:
    """Run the model over every task's images once per distinct view and write all groups to one cache file, on the
    device the job holds until it ends (its own GPU slot when several GPU jobs run at once)."""
    extract_team([TeamMember(model_at, Path(out_path), job_identity, settings.logit_scale)], tasks, settings)
    return Path(out_path)


@dataclass(frozen=True)
class TeamMember:
    """One model of an extraction job whose images are decoded once for several models, and its cache file."""

    model_at: ModelAtSize
    out_path: Path
    job_identity: dict[str, Any]
    logit_scale: float | None = None
    lock: WriterLock | None = None  # the cache's writer lock when the job claimed it before building anything


@dataclass
class MemberTask:
    """One member's work on one task: its passes, their groups and which of the task's transforms feeds each."""

    model: str
    passes: list[ViewPass]
    networks: list[torch.nn.Module]
    groups: list[GroupWriter]
    recorder: LayerRecorder | None
    inputs: list[int]  # per pass: the index of its geometry among the task's distinct ones

    @property
    def start(self) -> int:
        """The first row a group of this member still lacks."""
        return min(group.rows_done for group in self.groups)


@dataclass
class Seat:
    """A member at work in a job: its models, its cache writer, and whether the job may go on without it."""

    model: str
    models: ModelCache
    writer: CacheFileWriter
    logit_scale: float | None
    optional: bool  # a teammate (shared decoding): its failure drops it, the job's own model goes on


def extract_team(members: Sequence[TeamMember], tasks: Sequence[DatasetTask], settings: RunSettings) -> None:
    """Every member model over every task's images: each image decoded once and each distinct geometry (resize,
    crop, view) applied once for all of them; a cache file per member, each complete or absent, resumable per group.
    The members' numbers are those of one job per model, to the bit: the same pixels, batches and forward passes.
    members[0] is the job's own model; a teammate that fails (its head, its outputs, memory) is dropped with a
    warning, its partial cache kept for its own job, and never fails the job."""
    with job_device(settings.device, settings.jobs_per_gpu) as choice:
        log.info("device %s: %s", choice.device, choice.reason)
        seats: list[Seat] = []
        try:
            for index, member in enumerate(members):
                try:
                    models = ModelCache(member.model_at, choice.device)
                    identity = {**member.job_identity, **model_identity(models(None)), "precision": settings.precision}
                    writer = CacheFileWriter(member.out_path, identity, settings.batch_size, member.lock)
                except Exception as error:  # noqa: BLE001 - a teammate's failure of any kind drops only it
                    if index == 0:
                        raise
                    _drop_teammate(member.out_path, member.lock, error)
                    continue
                seats.append(Seat(str(member.out_path), models, writer, member.logit_scale, index > 0))
            for task in tasks:
                for seat in _extract_task(seats, task, choice.device, settings):
                    seat.writer.close()
                    seats.remove(seat)
            for seat in seats:
                seat.writer.finish()
        finally:
            for seat in seats:
                seat.writer.close()


def _drop_teammate(where: object, lock: WriterLock | None, error: BaseException) -> None:
    """Log why a teammate is left to its own job, and free its cache for that job."""
    log.warning("shared decoding: %s is left to its own job (%s: %s)", where, type(error).__name__, error)
    if lock is not None:
        lock.release()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _member_task(models: ModelCache, writer: CacheFileWriter, task: DatasetTask, logit_scale: float | None
                 ) -> MemberTask:
    """Open (or resume) one member's groups of a task."""
    standard = models(None)
    passes = plan_view_passes(dataset_preprocess(standard, task.spec), task.views)
    groups: list[GroupWriter] = []
    recorder = _layer_recorder(standard, task, passes)
    for view_pass in passes:
        identity = cache_identity(models(view_pass.image_size), task.spec, task.samples, view_pass, logit_scale,
                                  task.part)
        layers = None
        if recorder is not None and view_pass.name == STANDARD_VIEW:
            identity["layers"] = {**task.layers, "names": recorder.names}
            layers = layer_subset(len(task.samples), task.layers["images"], task.layers["seed"])
        groups.append(writer.group(task.key, view_pass.name, list(task.samples.ids), list(task.samples.labels),
                                   identity, list(task.samples.label_sets) if task.samples.label_sets else None,
                                   None if standard.spec.headless else NUM_IMAGENET_CLASSES, layer_rows=layers))
        for alias in view_pass.views[1:]:
            writer.alias(task.key, alias, view_pass.name)
    networks = [models(p.image_size).network for p in passes]
    return MemberTask(standard.spec.id, passes, networks, groups, recorder, [])


def geometry_key(preprocess: Preprocess) -> Preprocess:
    """What the uint8 transform depends on (not the normalisation, applied per model on its device)."""
    return replace(preprocess, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def _extract_task(seats: list[Seat], task: DatasetTask, device: torch.device, settings: RunSettings) -> list[Seat]:
    """One task for every seat; returns the teammates that failed on it (dropped by the caller)."""
    work, failed = [], []
    for seat in seats:
        try:
            work.append(_member_task(seat.models, seat.writer, task, seat.logit_scale))
        except Exception as error:  # noqa: BLE001
            if not seat.optional:
                raise
            _drop_teammate(seat.model, None, error)
            failed.append(seat)
    by_member = {id(member): seat for member, seat in zip(work, [s for s in seats if s not in failed])}
    try:
        active = [member for member in work if member.start < len(task.samples)]
        if not active:
            return failed
        geometries: dict[Preprocess, int] = {}
        for member in active:
            member.inputs = [geometries.setdefault(geometry_key(p.preprocess), len(geometries)) for p in member.passes]
            log.info("extracting %s on %s: %d images, %d views in %d passes (%s)", member.model, task.key,
                     len(task.samples), len(task.views), len(member.passes),
                     "; ".join(f"{p.name}" + (f" = {', '.join(p.views[1:])}" if len(p.views) > 1 else "")
                               for p in member.passes))
        if len(active) > 1:
            log.info("%s: %d models share each image's decoding; %d distinct transforms for %d passes", task.key,
                     len(active), len(geometries), sum(len(m.passes) for m in active))
        start = min(member.start for member in active)
        images = MultiViewImages(task.samples, [key.to_uint8_transform() for key in geometries], start=start)
        loader = DataLoader(images, batch_size=settings.batch_size, shuffle=False, num_workers=settings.num_workers,
                            pin_memory=device.type == "cuda")
        passes = sum(len(member.passes) for member in active)
        began = last_log = time.perf_counter()
        done = 0
        with torch.inference_mode(), _autocast(device, settings.precision):
            for batch, rows in loader:
                first = int(rows[0])
                for member in list(active):
                    try:
                        _forward_member(member, batch, first, len(rows), task, device)
                    except Exception as error:  # noqa: BLE001
                        seat = by_member[id(member)]
                        if not seat.optional:
                            raise
                        _drop_teammate(seat.model, None, error)
                        failed.append(seat)
                        active.remove(member)
                done += len(rows)
                if time.perf_counter() - last_log > PROGRESS_EVERY_S or start + done == len(task.samples):
                    _log_progress(start + done, len(task.samples), done * passes, began)
                    last_log = time.perf_counter()
    finally:
        for member in work:
            if member.recorder is not None:
                member.recorder.remove()
    return failed


def _forward_member(member: MemberTask, batch: Sequence[torch.Tensor], first: int, count: int, task: DatasetTask,
                    device: torch.device) -> None:
    """One batch through each of a member's passes, written to its groups (a group that holds it already is
    skipped: killed between two groups' writes, or a member further along than the others)."""
    for view_pass, network, group, index in zip(member.passes, member.networks, member.groups, member.inputs):
        if group.rows_done > first:
            continue
        inputs = view_pass.preprocess.normalise(batch[index].to(device, non_blocking=True))
        logits, features = network(inputs)
        outputs = {} if logits is None else {"logits": _to_numpy(logits)}
        if task.spec.features or logits is None:  # a backbone's features are all it gives
            outputs["features"] = _to_numpy(features)
        layers = None
        if member.recorder is not None and group.layer_rows is not None:
            layers = _pooled_subset(member.recorder, group, first, count)
        for name, values in {**outputs, **(layers or {})}.items():
            _require_finite(values, name, member.model, task, view_pass.name, first)
        group.write(first, outputs.get("logits"), outputs.get("features"), layers)


def _layer_recorder(standard: LoadedModel, task: DatasetTask, passes: list[ViewPass]) -> LayerRecorder | None:
    """Hooks for the layer activations a property needs of this dataset, on the standard view's pass."""
    if task.layers is None:
        return None
    if not any(p.name == STANDARD_VIEW for p in passes):
        raise ValueError(f"dataset {task.key!r}: layer features are recorded on the standard view, which no "
                         "property of it reads")
    return LayerRecorder(standard, task.layers["layers"])


def _pooled_subset(recorder: LayerRecorder, group: GroupWriter, first: int, count: int) -> dict[str, np.ndarray]:
    """The batch's rows that are in the layer subset, pooled per layer (dataset name -> rows x D)."""
    subset = group.layer_rows
    low, high = np.searchsorted(subset, [first, first + count])
    local = torch.as_tensor(subset[low:high] - first, dtype=torch.long)
    out = {}
    for index, (name, pooled) in enumerate(recorder.pooled(count).items()):
        for kind, values in pooled.items():
            out[f"{index:03d}_{kind}"] = _to_numpy(values[local.to(values.device)])
    return out


def extract_outputs(loaded: LoadedModel, dataset: DatasetSpec, samples: SampleList, out_path: Path, *,
                    views: Sequence[str] = (STANDARD_VIEW,), batch_size: int = 64, num_workers: int = 0,
                    device: str = "auto", precision: str = "fp32", logit_scale: float | None = None,
                    part: str | None = None, model_at: ModelAtSize | None = None) -> Path:
    """One dataset (part) as a one-task job: a cache file with a group per distinct view."""
    def at_size(size: int | None) -> LoadedModel:
        if size is None:
            return loaded
        if model_at is None:
            raise ValueError(f"view at {size} px needs the model rebuilt; pass model_at")
        return model_at(size)

    key = dataset.id if part is None else f"{dataset.id}.{part}"
    task = DatasetTask(key, dataset, samples, tuple(views))
    settings = RunSettings(batch_size, num_workers, device, precision, logit_scale)
    return extract_job(at_size, [task], out_path, {"job": key}, settings)


class NonFiniteOutputError(RuntimeError):
    """A model gave NaN or infinite outputs: every number computed from them would be meaningless."""


def _require_finite(values: np.ndarray, what: str, model: str, task: DatasetTask, view: str, first: int) -> None:
    """Refuse a block with a NaN or infinite value, naming the model, dataset, view and the first image."""
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1) if len(values) else np.ones(0, bool)
    if finite.all():
        return
    if what in ("logits", "features"):  # one row per image of the batch
        row = first + int(np.argmin(finite))
        where = f"first at image {task.samples.ids[row]!r} (row {row})"
    else:  # a layer's pooled activations of the batch's images in the layer subset
        where = f"in the batch from image {task.samples.ids[first]!r} (row {first}), layer output {what}"
    raise NonFiniteOutputError(
        f"model {model!r} gives non-finite {'logits' if what == 'logits' else what} on dataset {task.key!r}, view "
        f"{view!r}, {where}: a broken checkpoint (a NaN weight) or an overflow in extraction.precision; check the "
        "weights (nothing from this batch on is kept)")


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.float().cpu().numpy()


def _log_progress(rows: int, total: int, passes: int, began: float) -> None:
    elapsed = max(time.perf_counter() - began, 1e-9)
    log.info("extracted %d/%d images (%.1f forward passes/s)", rows, total, passes / elapsed)
