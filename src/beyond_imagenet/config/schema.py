"""Config validation: the JSON schema (with dotted-key errors) and the cross-references a schema cannot express."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..catalog.model_sources import model_source
from ..catalog.public_datasets import REAL_LABELS
from ..catalog.roles import DATASET_ROLES, IMAGENET_C, VTAB_PREFIX, vtab_task_of
from .specs import ACROSS_MODELS_ID, HUB, NO_HEAD

REPO_ROOT = Path(__file__).resolve().parents[3]


SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


HUB_PARQUET_KEYS = ("split", "label_column", "label_encoding")  # keys only format hf_parquet reads
FORMAT_ONLY_KEYS = {"classes": ("vtab",), "unlabelled_images": ("flat_labels", "parquet_multilabel", "hf_parquet")}


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
        _check_model(model_id, entry)
    _check_roles(config["datasets"])
    for dataset_id, entry in config["datasets"].items():
        if entry["format"] == "flat_labels" and "label_file" not in entry:
            raise ConfigError(f"config key 'datasets.{dataset_id}.label_file' is required for format flat_labels")
        for key, formats in FORMAT_ONLY_KEYS.items():
            if key in entry and entry["format"] not in formats:
                raise ConfigError(f"config key 'datasets.{dataset_id}.{key}' is read only by format(s) {list(formats)}, "
                                  f"not {entry['format']!r}")
        if entry["format"] == "vtab" and "classes" not in entry and vtab_task_of(entry.get("role")) is None:
            raise ConfigError(f"config key 'datasets.{dataset_id}.classes' is required for a task of your own (format "
                              "vtab without a vtab_<task> role): the probe's labels must be 0..classes-1")
        for key in HUB_PARQUET_KEYS:
            if key in entry and entry["format"] != "hf_parquet":
                raise ConfigError(f"config key 'datasets.{dataset_id}.{key}' is read only by format hf_parquet, not "
                                  f"{entry['format']!r}")


HUB_TAG_EXAMPLES = {"open_clip": "laion400m_e31", "torchvision": "ResNet50_Weights.IMAGENET1K_V2"}


def _check_model(model_id: str, entry: dict[str, Any]) -> None:
    """What one model entry needs beyond its schema, per source: a hub tag, a module's factory, preprocessing and
    labels; no key its source does not read."""
    source = model_source(entry["source"])
    where = f"config key 'models.{model_id}"
    if source.hub_tag_key and entry["weights"] == HUB and source.hub_tag_key not in entry:
        raise ConfigError(f"{where}.{source.hub_tag_key}' is required for {source.name} hub weights (e.g. "
                          f"{HUB_TAG_EXAMPLES.get(source.name, '...')}), or set 'weights' to a local checkpoint file")
    for key in source.unused_keys:
        if key in entry:
            raise ConfigError(f"{where}.{key}' is not used by source {source.name!r}")
    if source.name != "module":
        return
    if "factory" not in entry:
        raise ConfigError(f"{where}.factory' is required for source module: \"package.module:function\" returning "
                          "your nn.Module (factory_path: the folder it imports from, if not installed)")
    if "preprocess" not in entry:
        raise ConfigError(f"{where}.preprocess' is required for source module (resize, crop, interpolation, mean, "
                          "std): a module has no eval transform of its own")
    if entry.get("head", "imagenet") != NO_HEAD and "labels" not in entry:
        raise ConfigError(f"{where}.labels' is required for a module with an ImageNet head: imagenet1k (its outputs "
                          "are the canonical order of sorted wnids) or a file naming each output; or set 'head: none'")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a config file."""
    with open(path) as handle:
        config = yaml.safe_load(handle)
    try:
        validate_config(config)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return config


# A role that only one on-disk format can fill (its rows and jobs are cut by that format).
ROLE_FORMATS = {IMAGENET_C: "imagenet_c", **{role: "vtab" for role in DATASET_ROLES if role.startswith(VTAB_PREFIX)}}


def _check_roles(datasets: dict[str, Any]) -> None:
    """A role names one dataset, of a format that can fill it; no dataset takes a name the prepare targets use."""
    declared: dict[str, str] = {}
    for dataset_id, entry in datasets.items():
        if dataset_id == REAL_LABELS:
            raise ConfigError(f"config key 'datasets.{dataset_id}': this id names ReaL's label file "
                              "(`snakemake prepare_real_labels`); choose another dataset id")
        role = entry.get("role")
        if role is None:
            continue
        if role in declared:
            raise ConfigError(f"config key 'datasets.{dataset_id}.role': {role!r} is also the role of "
                              f"'datasets.{declared[role]}'; a role names one dataset (leave the other's role out)")
        declared[role] = dataset_id
        needed = ROLE_FORMATS.get(role)
        if needed is not None and entry["format"] != needed:
            raise ConfigError(f"config key 'datasets.{dataset_id}.role': {role!r} needs format {needed!r}, not "
                              f"{entry['format']!r}")
