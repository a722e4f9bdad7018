"""Demo copies of the non-ImageNet sets: cue-conflict, PUG-style factor sweeps, VTAB-style transfer tasks."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.labels import imagenet_classnames
from ..properties.shape_bias.compute import category_indices
from .render import SHAPES, TEXTURES, ClassLook, Factors, render
from .settings import WorldSettings

log = logging.getLogger(__name__)

STREAMS = {"cue_conflict": 10, "pug": 11, "vtab": 12}
CUE_CONFLICT_PER_PAIR = 2
PUG_PER_VALUE = 1
# PUG-style sweeps: factor folder -> (Factors field, values). Worlds vary the background, Object_Texture
# swaps in another class's texture (as PUG re-skins objects), the rest turn the known nuisance knobs.
PUG_SWEEPS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "Worlds": ("background", ("plain", "gradient", "clutter")),
    "Camera_Pitch": ("scale", (0.45, 0.6, 0.75)),
    "Camera_Yaw": ("offset", ((-0.2, 0.0), (0.0, 0.0), (0.2, 0.0))),
    "Camera_Roll": ("rotation_deg", (-30.0, 0.0, 30.0)),
    "Object_Pitch": ("rotation_deg", (-60.0, 0.0, 60.0)),
    "Object_Yaw": ("rotation_deg", (-120.0, 90.0, 150.0)),
    "Object_Roll": ("rotation_deg", (-90.0, 45.0, 180.0)),
    "Object_Scale": ("scale", (0.3, 0.6, 0.9)),
    "Object_Texture": ("texture", (0, 1, 2)),
    "Scene_Light": ("brightness", (0.5, 1.0, 1.5)),
}
VTAB_SIZES = {"train800": 32, "val200": 8, "test": 40}  # per task; the file names keep VTAB's


def pug_class_name(index: int) -> str:
    """A PUG-style folder name for a demo class ('golden retriever' -> 'Golden_retriever')."""
    name = imagenet_classnames()[index].replace(" ", "_").replace("'", "")
    return name[:1].upper() + name[1:]


def write_cue_conflict(root: Path, settings: WorldSettings, looks: dict[int, ClassLook],
                       categories: dict[int, str]) -> dict[str, Any]:
    """<category>/<shape><i>-<texture><j>.png for every (shape, texture) pair of demo classes, at the model size."""
    count = 0
    for shape_index, shape_category in categories.items():
        folder = root / "cue_conflict" / shape_category
        folder.mkdir(parents=True, exist_ok=True)
        for texture_index, texture_category in categories.items():
            for copy in range(1, CUE_CONFLICT_PER_PAIR + 1):
                seed = settings.seed * 1_000_003 + shape_index * 1000 + texture_index * 10 + copy
                image = render(looks[shape_index], looks[texture_index], Factors(), size=settings.image_size, seed=seed)
                image.save(folder / f"{shape_category}{copy}-{texture_category}{copy}.png")
                count += 1
    return {"cue_conflict": {"format": "cue_conflict", "root": "cue_conflict", "images": count}}


def _pug_factors(field: str, value: Any) -> dict[str, Any]:
    return {} if field == "texture" else {field: value}


def write_pug(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """<Factor>/<Class_name>/<file>.png sweeps, a class_to_imagenet_idx.json and a factor-value CSV."""
    classes = list(settings.classes)
    rows, count = [], 0
    for factor, (field, values) in PUG_SWEEPS.items():
        for class_position, index in enumerate(classes):
            folder = root / "pug" / factor / pug_class_name(index)
            folder.mkdir(parents=True, exist_ok=True)
            for value_position, value in enumerate(values):
                texture = looks[classes[(class_position + value) % len(classes)]] if field == "texture" else looks[index]
                factors = replace(Factors(), **_pug_factors(field, value))
                image = render(looks[index], texture, factors, size=settings.image_size, seed=value_position)
                name = f"{pug_class_name(index)}_{value_position:02d}.png"
                image.save(folder / name)
                rows.append({"id": f"{factor}/{pug_class_name(index)}/{name}", "value": _value_label(value)})
                count += 1
    mapping = {pug_class_name(i): [i] for i in sorted(classes, key=pug_class_name)}
    (root / "pug" / "class_to_imagenet_idx.json").write_text(json.dumps(mapping, indent=1))
    _write_rows(root / "pug_factor_values.csv", rows)
    return {"pug": {"format": "pug", "root": "pug", "images": count}}


def _value_label(value: Any) -> str:
    return "x".join(f"{v:g}" for v in value) if isinstance(value, tuple) else str(value)


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _vtab_task_image(task: str, label: int, rng: np.random.Generator, size: int, seed: int):
    """counting: label+1 copies of one object; shapes: which shape; textures: which texture (fixed shape)."""
    base = ClassLook(0, SHAPES[0], TEXTURES[0], ((230, 60, 60), (40, 40, 160)), 4.0, 0.0)
    factors = replace(Factors(), rotation_deg=float(rng.uniform(-40, 40)), scale=float(rng.uniform(0.45, 0.7)))
    if task == "counting":
        return render(base, base, replace(factors, n_objects=label + 1), size=size, seed=seed)
    if task == "shapes":
        shaped = replace(base, shape=SHAPES[label], texture=TEXTURES[int(rng.integers(len(TEXTURES)))])
        return render(shaped, shaped, factors, size=size, seed=seed)
    textured = replace(base, texture=TEXTURES[label])
    return render(textured, textured, factors, size=size, seed=seed)


VTAB_TASKS = {"counting": 4, "shapes": 6, "textures": 6}  # task -> number of classes


def write_vtab(root: Path, settings: WorldSettings) -> dict[str, Any]:
    """VTAB-style tasks: images plus train800.txt / val200.txt / train800val200.txt / test.txt lists."""
    sets = {}
    for task, classes in VTAB_TASKS.items():
        rng = np.random.default_rng([settings.seed, STREAMS["vtab"], classes])
        task_root = root / "vtab" / task
        (task_root / "images").mkdir(parents=True, exist_ok=True)
        lists: dict[str, list[str]] = {}
        number = 0
        for split, per_split in VTAB_SIZES.items():
            lines = []
            for _ in range(per_split):
                label, number = int(rng.integers(classes)), number + 1
                relative = f"images/{number:05d}.png"
                _vtab_task_image(task, label, rng, settings.image_size, number).save(task_root / relative)
                lines.append(f"{relative} {label}")
            lists[split] = lines
        lists["train800val200"] = lists["train800"] + lists["val200"]
        for split, lines in lists.items():
            (task_root / f"{split}.txt").write_text("\n".join(lines) + "\n")
        sets[f"vtab_{task}"] = {"format": "vtab", "root": f"vtab/{task}", "images": number, "classes": classes}
    return sets


def cue_conflict_categories(classes: tuple[int, ...]) -> dict[int, str]:
    """The cue-conflict category of each demo class (each must belong to a different one)."""

    owner = {int(i): category for category, indices in category_indices().items() for i in indices}
    missing = [c for c in classes if c not in owner]
    if missing:
        raise ValueError(f"demo.classes {missing} belong to no cue-conflict category; pick classes from "
                         "src/beyond_imagenet/data/cue_conflict_16_categories.csv")
    categories = {c: owner[c] for c in classes}
    if len(set(categories.values())) != len(categories):
        raise ValueError(f"demo.classes must come from different cue-conflict categories, got {categories}")
    return categories


def write_other_sets(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """All non-ImageNet demo sets."""
    sets = write_cue_conflict(root, settings, looks, cue_conflict_categories(settings.classes))
    sets.update(write_pug(root, settings, looks))
    sets.update(write_vtab(root, settings))
    return sets
