"""Workflow configuration: schema validation, typed specs, and the data a run needs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .sources import model_source

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
HUB = "hub"
ACROSS_MODELS_ID = "all_models"  # names the metrics file of a property that compares models (not a model id)
# The 15 ImageNet-C benchmark corruptions (Hendrycks & Dietterich 2019), in their usual order.
IMAGENET_C_BENCHMARK = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)


HUB_PARQUET_KEYS = ("split", "label_column", "label_encoding")  # keys only format hf_parquet reads


class ConfigError(ValueError):
    """A configuration value is missing, misspelt or of the wrong type."""


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Read the JSON schema (YAML-encoded) of the workflow config."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def validate_config(config: dict[str, Any], schema: dict[str, Any] | None = None) -> None:
    """Raise ConfigError listing every schema violation with the dotted key that causes it."""
    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"- config key '{_key_path(e)}': {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    _check_cross_references(config)


def _check_cross_references(config: dict[str, Any]) -> None:
    """Checks a schema cannot express: property datasets exist, open_clip hub models name a tag."""
    for prop, entry in config.get("properties", {}).items():
        for dataset in entry.get("datasets", []):
            if dataset not in config["datasets"]:
                raise ConfigError(
                    f"config key 'properties.{prop}.datasets' names dataset {dataset!r}, which is not "
                    f"under 'datasets' (known: {sorted(config['datasets'])})"
                )
    for pair in config.get("report", {}).get("pairs", []):
        unknown = [m for m in pair if m not in config["models"]]
        if unknown or pair[0] == pair[1]:
            raise ConfigError(f"config key 'report.pairs' has pair {pair}: "
                              + (f"{unknown} not under 'models'" if unknown else "a model paired with itself"))
    if ACROSS_MODELS_ID in config["models"]:
        raise ConfigError(f"config key 'models.{ACROSS_MODELS_ID}': this id names the metrics of properties that "
                          "compare models; choose another model id")
    for model_id, entry in config["models"].items():
        tag = model_source(entry["source"]).hub_tag_key
        if tag and entry["weights"] == HUB and tag not in entry:
            raise ConfigError(
                f"config key 'models.{model_id}.pretrained' is required for open_clip hub weights "
                "(e.g. laion400m_e31), or set 'weights' to a local checkpoint file"
            )
        for key in model_source(entry["source"]).unused_keys:
            if key in entry:
                raise ConfigError(f"config key 'models.{model_id}.{key}' is not used by source {entry['source']!r}")
    for dataset_id, entry in config["datasets"].items():
        if entry["format"] == "flat_labels" and "label_file" not in entry:
            raise ConfigError(f"config key 'datasets.{dataset_id}.label_file' is required for format flat_labels")
        for key in HUB_PARQUET_KEYS:
            if key in entry and entry["format"] != "hf_parquet":
                raise ConfigError(f"config key 'datasets.{dataset_id}.{key}' is read only by format hf_parquet, not "
                                  f"{entry['format']!r}")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a config file."""
    with open(path) as handle:
        config = yaml.safe_load(handle)
    try:
        validate_config(config)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return config


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

    @classmethod
    def from_config(cls, model_id: str, entry: dict[str, Any]) -> ModelSpec:
        """Build from the config entry `models.<model_id>`."""
        return cls(id=model_id, **{"display_name": model_id, **entry})

    @property
    def zero_shot(self) -> bool:
        """Whether the model classifies through a zero-shot text head (its source says so, e.g. open_clip)."""
        return model_source(self.source).zero_shot

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


def enabled_properties(config: dict[str, Any]) -> dict[str, list[str]]:
    """Enabled property -> the dataset ids it is computed on."""
    return {
        name: list(entry.get("datasets", []))
        for name, entry in config["properties"].items()
        if entry.get("enabled", True)
    }


def needed_datasets(config: dict[str, Any]) -> list[str]:
    """Dataset ids that at least one enabled property reads, in config order."""
    wanted = {d for datasets in enabled_properties(config).values() for d in datasets}
    return [d for d in config["datasets"] if d in wanted]


def demo_root(config: dict[str, Any]) -> Path | None:
    """Root of the generated demo world, if this config uses one."""
    return Path(config["demo"]["root"]) if "demo" in config else None


def is_generated(path: Path, config: dict[str, Any]) -> bool:
    """Whether a path lies in the demo world the workflow generates (its manifest, not the path, is the input)."""
    root = demo_root(config)
    return root is not None and (path == root or root in path.parents)


PROPERTY_FILE_KEYS = ("annotations", "real_labels", "factor_values")  # "package" = shipped with a package


def _missing_property_files(config: dict[str, Any]) -> list[str]:
    problems = []
    for prop in enabled_properties(config):
        for key in PROPERTY_FILE_KEYS:
            value = config["properties"][prop].get(key)
            if value and value != "package" and not is_generated(Path(value), config) and not Path(value).exists():
                problems.append(f"property {prop!r}: {key} {value!r} does not exist; set 'properties.{prop}.{key}'"
                                f" (or 'package' where the package ships it), or 'properties.{prop}.enabled: false'")
    return problems


def _preparable(dataset_id: str) -> bool:
    """Whether `snakemake prepare_<dataset id>` downloads this dataset."""
    from .data_sources import DATA_SOURCES  # the sources table imports this module
    from .vtab_export import VTAB_TASKS

    if dataset_id.startswith("vtab_"):
        return dataset_id.removeprefix("vtab_") in VTAB_TASKS
    return dataset_id in DATA_SOURCES and DATA_SOURCES[dataset_id].kind != "manual"


def missing_inputs(config: dict[str, Any]) -> list[str]:
    """Human-readable lines, one per dataset root / weight file a run needs but cannot find."""
    problems = []
    datasets = dataset_specs(config)
    for dataset_id in needed_datasets(config):
        spec = datasets[dataset_id]
        for key, value in (("root", spec.root), ("label_file", spec.label_file), ("class_map", spec.class_map)):
            if value and not is_generated(Path(value), config) and not Path(value).exists():
                users = [p for p, ds in enabled_properties(config).items() if dataset_id in ds]
                get = f"`snakemake prepare_{dataset_id}`" if key == "root" and _preparable(dataset_id) else ""
                problems.append(
                    f"dataset {dataset_id!r}: {key} {value!r} does not exist; set 'datasets.{dataset_id}.{key}'"
                    f" (get it: {get or spec.get or 'see config/README.md'}), or remove {dataset_id!r} from"
                    f" 'properties.<name>.datasets' / set 'properties.<name>.enabled: false' for {users}"
                )
    problems += _missing_property_files(config)
    for spec in model_specs(config).values():
        path = spec.local_weights
        if path is not None and not is_generated(path, config) and not path.exists():
            problems.append(
                f"model {spec.id!r}: weights file {str(path)!r} does not exist; set 'models.{spec.id}.weights'"
                " to the checkpoint path, or to 'hub' to download the pretrained weights"
            )
    return problems
