"""Demo copies of the robustness sets, each in its real on-disk format, from the same renderer."""

from __future__ import annotations

import inspect
import io
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..catalog.labels import imagenet_classnames, imagenet_subset, imagenet_wnids
from ..catalog.roles import IMAGENET_C_BENCHMARK
from .render import ClassLook
from .settings import ImageSpec, WorldSettings, sample_images

log = logging.getLogger(__name__)

# Seed streams of the generator, one per set, so adding a set never changes another.
STREAMS = {"v2": 3, "a": 4, "r": 5, "sketch": 6, "c": 7, "hard": 8, "real": 9}
REAL_AMBIGUOUS_OCCLUSION = 0.3  # ReaL leaves images without a clear label empty: heavy occlusion here
REAL_SECOND_LABEL_RATE = 0.15


def _subset(name: str) -> frozenset[int]:

    return frozenset(imagenet_subset(name).tolist())


def _write_wnid_folders(root: Path, specs: list[ImageSpec], looks: dict[int, ClassLook], size: int,
                        prefix: str) -> int:
    wnids = imagenet_wnids()
    for number, spec in enumerate(specs, start=1):
        folder = root / wnids[spec.label]
        folder.mkdir(parents=True, exist_ok=True)
        spec.draw(looks, size).save(folder / f"{prefix}_{number:05d}.JPEG", quality=95)
    return len(specs)


def _styled(specs: list[ImageSpec], style: str) -> list[ImageSpec]:
    return [replace(s, factors=replace(s.factors, style=style)) for s in specs]


def write_v2(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """ImageNet-V2 layout: folders 0..999 unpadded; a new draw of the same classes (a mild shift)."""

    rng = np.random.default_rng([settings.seed, STREAMS["v2"]])
    specs = sample_images(settings.classes, settings.val_per_class, rng, difficulty=0.65)
    for number, spec in enumerate(specs, start=1):
        folder = root / "v2" / str(spec.label)
        folder.mkdir(parents=True, exist_ok=True)
        spec.draw(looks, settings.image_size).save(folder / f"{number:08x}.jpeg", quality=95)
    return {"v2": {"format": "numeric_folders", "root": "v2", "images": len(specs)}}


def write_subset_sets(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """A-like (hard natural draws) and R-like (renditions) sets over the classes in A's / R's 200 lists."""

    sets = {}
    for name, style, difficulty in (("a", "photo", 1.0), ("r", "rendition", 0.5)):
        classes = tuple(c for c in settings.classes if c in _subset(f"imagenet_{name}"))
        if not classes:
            raise ValueError(f"demo.classes {settings.classes} has no class of ImageNet-{name.upper()}'s 200")
        rng = np.random.default_rng([settings.seed, STREAMS[name]])
        specs = _styled(sample_images(classes, settings.val_per_class, rng, difficulty), style)
        count = _write_wnid_folders(root / name, specs, looks, settings.image_size, name)
        sets[name] = {"format": "imagefolder_wnid", "root": name, "label_space": f"imagenet_{name}",
                      "classes": list(classes), "images": count}
    rng = np.random.default_rng([settings.seed, STREAMS["sketch"]])
    specs = _styled(sample_images(settings.classes, settings.val_per_class, rng, 0.4), "sketch")
    sets["sketch"] = {"format": "imagefolder_wnid", "root": "sketch",
                      "images": _write_wnid_folders(root / "sketch", specs, looks, settings.image_size, "sketch")}
    return sets


def write_corruptions(root: Path, settings: WorldSettings, looks: dict[int, ClassLook],
                      val: list[ImageSpec]) -> dict[str, Any]:
    """ImageNet-C layout <corruption>/<severity>/<wnid>/ over the first c_per_class val images of each class."""
    from imagecorruptions import corrupt, corruption_dict

    wnids = imagenet_wnids()
    chosen = [s for c in settings.classes for s in [v for v in val if v.label == c][:settings.c_per_class]]
    clean = [np.asarray(s.draw(looks, settings.image_size)) for s in chosen]
    count = 0
    for corruption in IMAGENET_C_BENCHMARK:
        for severity in range(1, 6):
            for number, (spec, pixels) in enumerate(zip(chosen, clean), start=1):
                seed = settings.seed * 100_003 + number
                np.random.seed(seed)  # most imagecorruptions functions draw from numpy's global RNG ...
                # ... but glass_blur and impulse_noise draw a fresh seed unless given one
                kwargs = {"seed": seed} if "seed" in inspect.signature(corruption_dict[corruption]).parameters else {}
                out = np.uint8(np.clip(corrupt(pixels, corruption_name=corruption, severity=severity, **kwargs),
                                       0, 255))
                folder = root / "c" / corruption / str(severity) / wnids[spec.label]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(out).save(folder / f"c_{number:05d}.JPEG", quality=95)
                count += 1
    return {"c": {"format": "imagenet_c", "root": "c", "images": count}}


def write_hard(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """ImageNet-Hard as its hub snapshot holds it (data/validation-*.parquet): PNG bytes in `image`, label lists."""
    import pyarrow as pa
    import pyarrow.parquet as pq


    rng = np.random.default_rng([settings.seed, STREAMS["hard"]])
    specs = sample_images(settings.classes, max(1, settings.val_per_class // 2), rng, difficulty=0.9)
    names = imagenet_classnames()
    images, labels = [], []
    for spec in specs:
        buffer = io.BytesIO()
        spec.draw(looks, settings.image_size).save(buffer, format="PNG")
        images.append({"bytes": buffer.getvalue(), "path": None})
        extra = [int(rng.choice(settings.classes))] if rng.random() < REAL_SECOND_LABEL_RATE else []
        labels.append(sorted({spec.label, *extra}))
    table = pa.table({"image": images, "label": labels, "origin": ["demo"] * len(specs),
                      "english_label": [[names[i] for i in ls] for ls in labels]})
    (root / "hard" / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / "hard" / "data" / "validation-00000-of-00001.parquet", row_group_size=16)
    return {"hard": {"format": "hf_parquet", "root": "hard", "images": len(specs)}}


def write_real_labels(root: Path, settings: WorldSettings, val: list[ImageSpec]) -> dict[str, Any]:
    """ReaL-style real.json: entry i <-> ILSVRC2012_val_{i+1:08d}; empty for ambiguous (heavily occluded) images."""
    rng = np.random.default_rng([settings.seed, STREAMS["real"]])
    entries: list[list[int]] = []
    for spec in val:
        if spec.factors.occlusion > REAL_AMBIGUOUS_OCCLUSION:
            entries.append([])
            continue
        extra = [int(rng.choice(settings.classes))] if rng.random() < REAL_SECOND_LABEL_RATE else []
        entries.append(sorted({spec.label, *extra}))
    (root / "real.json").write_text(json.dumps(entries))
    return {"real": {"file": "real.json", "images": len(entries),
                     "empty": sum(1 for e in entries if not e)}}


def write_robustness_sets(root: Path, settings: WorldSettings, looks: dict[int, ClassLook],
                          val: list[ImageSpec]) -> dict[str, Any]:
    """All robustness sets of the demo world."""
    sets = write_v2(root, settings, looks)
    sets.update(write_subset_sets(root, settings, looks))
    sets.update(write_corruptions(root, settings, looks, val))
    sets.update(write_hard(root, settings, looks))
    sets.update(write_real_labels(root, settings, val))
    return sets
