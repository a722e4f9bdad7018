"""Workflow configuration: schema validation, typed specs, and the data a run needs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..catalog.model_sources import model_source
from ..catalog.roles import IMAGENET_C_BENCHMARK, vtab_task_of
from ..catalog.vtab import VTAB_CLASSES

HUB = "hub"
ACROSS_MODELS_ID = "all_models"  # names the metrics file of a property that compares models (not a model id)
















NO_HEAD = "none"  # models.<id>.head: a backbone without an ImageNet head
NO_HEAD_TEXT = "no ImageNet head"  # what every table, card and the summary say in such a model's cells


@dataclass(frozen=True)
class ModelSpec:
    """One model entry of the config."""

    id: str
    source: str
    name: str
    weights: str
    pretrained: str | None = None
    arch_config: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] | None = None
    display_name: str = ""
    family: str = "other"
    training: str = "other"
    pretraining_data: str = ""
    factory: str | None = None  # module: "package.module:function" returning the nn.Module
    factory_path: str | None = None  # module: a folder to import the factory's package from
    labels: str | None = None  # the outputs' order where the library does not say: imagenet1k, or a file of names
    head: str = "imagenet"  # imagenet | none (NO_HEAD: a backbone, features only)

    @classmethod
    def from_config(cls, model_id: str, entry: dict[str, Any]) -> ModelSpec:
        """Build from the config entry `models.<model_id>`."""
        return cls(id=model_id, **{"display_name": model_id, **entry})

    @property
    def zero_shot(self) -> bool:
        """Whether the model classifies through a zero-shot text head (its source says so, e.g. open_clip)."""
        return model_source(self.source).zero_shot and not self.headless

    @property
    def headless(self) -> bool:
        """A backbone without an ImageNet head (`head: none`): features only, no logits."""
        return self.head == NO_HEAD

    @property
    def local_weights(self) -> Path | None:
        """The local checkpoint path, or None for hub weights."""
        return None if self.weights == HUB else Path(self.weights)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset entry of the config."""

    id: str
    format: str
    root: str
    role: str | None = None  # what the dataset is for (catalog.roles); None = a dataset of the user's own
    label_file: str | None = None
    label_space: str = "imagenet1k"
    features: bool = False
    get: str = ""
    corruptions: tuple[str, ...] = IMAGENET_C_BENCHMARK
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    job_per: str = "corruption"
    native_resolution: str = "none"  # none | supervised | all: which models skip resize/crop (extract.py)
    class_map: str | None = None
    images: int | None = None
    shards: int = 1
    unlabelled_images: str = "warn"
    revision: str = "main"  # hub datasets: what prepare_data downloads
    split: str = "validation"  # hf_parquet: which split's shards
    label_column: str = "label"  # hf_parquet
    label_encoding: str = "index"  # hf_parquet: index | wnid_names | imagenet_a | imagenet_r
    classes: int | None = None  # vtab: the task's number of classes (default: its VTAB-1k task's)

    @property
    def class_count(self) -> int | None:
        """Classes of a task: declared, else its VTAB-1k task's own count (from its role), else None."""
        task = vtab_task_of(self.role)
        return self.classes if self.classes is not None else VTAB_CLASSES.get(task) if task else None

    @classmethod
    def from_config(cls, dataset_id: str, entry: dict[str, Any]) -> DatasetSpec:
        """Build from the config entry `datasets.<dataset_id>`."""
        data = dict(entry)
        for key in ("corruptions", "severities"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(id=dataset_id, **data)


@dataclass(frozen=True)
class ZeroShotSpec:
    """How CLIP zero-shot heads are built."""

    templates: str = "openai"
    logit_scale: float = 100.0


def split_dataset_key(key: str) -> tuple[str, str | None]:
    """'imagenet_c.gaussian_noise.3' -> ('imagenet_c', 'gaussian_noise.3'); 'imagenet_val' -> ('imagenet_val', None)."""
    dataset_id, _, part = key.partition(".")
    return dataset_id, part or None


def dataset_keys(spec: DatasetSpec) -> list[str]:
    """The dataset keys (wildcard values) of a dataset: its id, or id.part for each part."""
    return [spec.id if part is None else f"{spec.id}.{part}" for part in dataset_parts(spec)]


def dataset_parts(spec: DatasetSpec) -> list[str | None]:
    """Parts cached separately: ImageNet-C one per corruption.severity cell, big sets shard_k_of_n; [None] = whole."""
    if spec.format == "imagenet_c":
        return [f"{c}.{s}" for c in spec.corruptions for s in spec.severities]
    if spec.shards > 1:
        return [shard_name(k, spec.shards) for k in range(1, spec.shards + 1)]
    return [None]


def shard_name(k: int, n: int) -> str:
    """Name of the k-th of n shards (1-based), a valid part of a dataset key."""
    return f"shard_{k}_of_{n}"


def parse_shard(part: str) -> tuple[int, int] | None:
    """(k, n) of a shard part name, or None for other parts."""
    fields = part.split("_")
    if len(fields) == 4 and fields[0] == "shard" and fields[2] == "of" and fields[1].isdigit() and fields[3].isdigit():
        return int(fields[1]), int(fields[3])
    return None


DEFAULT_IMAGES = 50_000  # the size assumed for a dataset that does not declare `images`


def images_of(spec: DatasetSpec, part: str | None = None) -> int:
    """Rough number of images in a dataset (part), from its declared `images` (sizes jobs, not results)."""
    total = spec.images or DEFAULT_IMAGES
    if part is None:
        return total
    return max(1, total // len(dataset_parts(spec)))


def model_specs(config: dict[str, Any]) -> dict[str, ModelSpec]:
    """All models of the config, by id."""
    return {mid: ModelSpec.from_config(mid, entry) for mid, entry in config["models"].items()}


def dataset_specs(config: dict[str, Any]) -> dict[str, DatasetSpec]:
    """All datasets of the config, by id; a declared size above extraction.max_images_per_job sets the shards."""
    limit = config.get("extraction", {}).get("max_images_per_job")
    specs = {}
    for dataset_id, entry in config["datasets"].items():
        spec = DatasetSpec.from_config(dataset_id, entry)
        if limit and spec.images and "shards" not in entry and spec.format != "imagenet_c":
            spec = replace(spec, shards=max(1, -(-spec.images // limit)))
        specs[dataset_id] = spec
    return specs
















