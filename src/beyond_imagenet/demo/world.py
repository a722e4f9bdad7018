"""Generate the demo world: small image sets in the real on-disk formats, from the renderer's primitives."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.labels import imagenet_classnames, imagenet_wnids
from ..properties.imagenet_x.compute import annotations_from_flags, write_factor_annotations
from .beyond_sets import write_beyond_sets
from .other_sets import write_other_sets
from .render import ClassLook, Factors, assign_looks, imagenet_x_factors
from .robustness_sets import write_robustness_sets
from .settings import NATURAL_DIFFICULTY, NATURAL_STYLE_RATE, ImageSpec, WorldSettings, sample_images

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VAL_NAME = "ILSVRC2012_val_{:08d}.JPEG"
CAPTION_TEMPLATES = ("a photo of a {}.", "a rendering of a {}.", "a picture of the {}.", "a good photo of a {}.")






@dataclass
class Manifest:
    """What a generated world holds; written last, so its presence means the world is complete."""

    settings: dict[str, Any]
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)








def write_val_sets(root: Path, specs: list[ImageSpec], looks: dict[int, ClassLook], size: int) -> dict[str, Any]:
    """ImageNet val twice: <wnid>/ folders (val/) and a flat folder + file_name,label CSV (val_flat/)."""
    wnids = imagenet_wnids()
    folder_root, flat_root = root / "val", root / "val_flat"
    rows = []
    for number, spec in enumerate(specs, start=1):
        name = VAL_NAME.format(number)
        image = spec.draw(looks, size)
        (folder_root / wnids[spec.label]).mkdir(parents=True, exist_ok=True)
        image.save(folder_root / wnids[spec.label] / name, quality=95)
        flat_root.mkdir(parents=True, exist_ok=True)
        image.save(flat_root / name, quality=95)
        rows.append({"file_name": name, "label": spec.label, **_factor_columns(spec.factors)})
    _write_csv(root / "val_flat_labels.csv", [{"file_name": r["file_name"], "label": r["label"]} for r in rows])
    _write_csv(root / "val_factors.csv", rows)
    write_imagenet_x_annotations(root / "imagenet_x", [r["file_name"] for r in rows], [s.factors for s in specs])
    return {"val": {"format": "imagefolder_wnid", "root": "val", "images": len(rows)},
            "val_flat": {"format": "flat_labels", "root": "val_flat", "label_file": "val_flat_labels.csv",
                         "images": len(rows)}}


def write_train_set(root: Path, specs: list[ImageSpec], looks: dict[int, ClassLook], size: int,
                    rng: np.random.Generator) -> dict[str, Any]:
    """Training images as <wnid>/ folders plus captions.csv (file_name, label, caption) for the CLIP models."""
    wnids, names = imagenet_wnids(), imagenet_classnames()
    rows = []
    for number, spec in enumerate(specs, start=1):
        relative = f"{wnids[spec.label]}/train_{number:06d}.JPEG"
        (root / "train" / wnids[spec.label]).mkdir(parents=True, exist_ok=True)
        spec.draw(looks, size).save(root / "train" / relative, quality=95)
        template = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
        rows.append({"file_name": relative, "label": spec.label, "caption": template.format(names[spec.label])})
    _write_csv(root / "train_captions.csv", rows)
    return {"train": {"format": "imagefolder_wnid", "root": "train", "captions": "train_captions.csv",
                      "images": len(rows)}}


def write_imagenet_x_annotations(folder: Path, file_names: list[str], factors: list[Factors]) -> None:
    """ImageNet-X-format annotation files (top- and multi-factor) from the factors the generator drew."""

    tables = annotations_from_flags(file_names, [imagenet_x_factors(f) for f in factors])
    folder.mkdir(parents=True, exist_ok=True)
    for kind, name in (("top", "top_factor"), ("multi", "multi_factor")):
        write_factor_annotations(tables[kind], folder / f"imagenet_x_val_{name}.jsonl")


def _factor_columns(factors: Factors) -> dict[str, Any]:
    data = asdict(factors)
    data["offset_x"], data["offset_y"] = data.pop("offset")
    data["background_color"] = "#{:02x}{:02x}{:02x}".format(*data["background_color"])
    return data


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


GENERATED = ("val", "val_flat", "train", "imagenet_x", "v2", "a", "r", "sketch", "c", "hard", "cue_conflict", "pug",
             "vtab", "val_flat_labels.csv", "val_factors.csv", "train_captions.csv", "real.json",
             "pug_factor_values.csv", "o", "objectnet", "bg_challenge", MANIFEST)


def _clear(root: Path) -> None:
    """Remove what an earlier generation wrote (only the generator's own names)."""
    for name in GENERATED:
        target = root / name
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)


def generate_world(settings: WorldSettings) -> Manifest:
    """Write every demo set under settings.root (replacing an earlier world) and then the manifest."""

    root = Path(settings.root)
    _clear(root)
    root.mkdir(parents=True, exist_ok=True)
    looks = assign_looks(settings.classes)
    manifest = Manifest(settings=asdict(settings))
    val_rng, train_rng = (np.random.default_rng([settings.seed, part]) for part in (1, 2))
    val = sample_images(settings.classes, settings.val_per_class, val_rng, NATURAL_DIFFICULTY, NATURAL_STYLE_RATE)
    manifest.sets.update(write_val_sets(root, val, looks, settings.image_size))
    train = sample_images(settings.classes, settings.train_per_class, train_rng, NATURAL_DIFFICULTY,
                          NATURAL_STYLE_RATE)
    manifest.sets.update(write_train_set(root, train, looks, settings.image_size, train_rng))
    manifest.sets.update(write_robustness_sets(root, settings, looks, val))
    manifest.sets.update(write_other_sets(root, settings, looks))
    manifest.sets.update(write_beyond_sets(root, settings, looks))
    (root / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1, default=list) + "\n")
    log.info("demo world in %s: %s", root, {k: v["images"] for k, v in manifest.sets.items()})
    return manifest
