"""What a run needs: the enabled properties, the datasets they read, and every input missing from this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..catalog.public_datasets import DATASET_SOURCES
from ..catalog.roles import vtab_task_of
from .specs import DatasetSpec, dataset_specs, model_specs


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


def preparable(spec: DatasetSpec) -> bool:
    """Whether `snakemake prepare_<dataset id>` downloads this dataset: its role has a public source."""
    if vtab_task_of(spec.role) is not None:
        return True
    return spec.role in DATASET_SOURCES and DATASET_SOURCES[spec.role].kind != "manual"


def missing_inputs(config: dict[str, Any]) -> list[str]:
    """Human-readable lines, one per dataset root / weight file a run needs but cannot find."""
    problems = []
    datasets = dataset_specs(config)
    for dataset_id in needed_datasets(config):
        spec = datasets[dataset_id]
        for key, value in (("root", spec.root), ("label_file", spec.label_file), ("class_map", spec.class_map)):
            if value and not is_generated(Path(value), config) and not Path(value).exists():
                users = [p for p, ds in enabled_properties(config).items() if dataset_id in ds]
                get = f"`snakemake prepare_{dataset_id}`" if key == "root" and preparable(spec) else ""
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


def missing_message(problems: list[str]) -> str:
    """What a run that cannot start says: each missing input, and how to get the public datasets if one is."""
    text = "This run needs data that is not on this machine:\n- " + "\n- ".join(problems)
    if any(line.startswith("dataset ") for line in problems):
        text += ("\n`snakemake prepare_data` downloads and verifies the public datasets; config/README.md says where "
                 "each comes from.")
    return text
