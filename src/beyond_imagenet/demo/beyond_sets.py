"""Demo copies of the sets beyond the paper, in their real on-disk formats: ImageNet-O (OOD images: classes the demo
models never saw), ObjectNet (PNGs with a red border, its mapping files) and the ImageNet-9 backgrounds challenge
(the same objects on their own, a black, a same-class and a random-class background)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..catalog.class_maps import (
    IN9_FOLDERS,
    OBJECTNET_FILES,
    in_to_in9,
    objectnet_file,
    objectnet_folder_labels,
    objectnet_imagenet_classes,
    objectnet_labels,
)
from ..catalog.labels import imagenet_subset, imagenet_wnids
from ..data.formats import IN9_VARIANTS, OBJECTNET_BORDER
from .render import ClassLook, class_look
from .settings import ImageSpec, WorldSettings, sample_images

STREAMS = {"imagenet_o": 13, "objectnet": 14, "imagenet_9": 15}
OOD_CLASSES = 4  # ImageNet-O-like classes drawn (none of them a demo class)
OBJECTNET_RED = (255, 0, 0)
OBJECTNET_OTHER_FOLDERS = 2  # folders of classes without an ImageNet counterpart: the lister must leave them out


def write_imagenet_o(root: Path, settings: WorldSettings) -> dict[str, Any]:
    """<wnid>/*.JPEG of classes from ImageNet-O's 200 that the demo models were not trained on."""
    classes = [int(c) for c in imagenet_subset("imagenet_o") if int(c) not in settings.classes][:OOD_CLASSES]
    looks = {c: class_look(c) for c in classes}
    rng = np.random.default_rng([settings.seed, STREAMS["imagenet_o"]])
    specs = sample_images(tuple(classes), max(2, settings.val_per_class // 2), rng, difficulty=0.5)
    wnids = imagenet_wnids()
    for number, spec in enumerate(specs, start=1):
        folder = root / "o" / wnids[spec.label]
        folder.mkdir(parents=True, exist_ok=True)
        spec.draw(looks, settings.image_size).save(folder / f"ood_{number:05d}.JPEG", quality=95)
    return {"o": {"format": "imagefolder_wnid", "root": "o", "images": len(specs), "classes": classes}}


def _bordered(image: Image.Image) -> Image.Image:
    """The image inside a red frame of OBJECTNET_BORDER pixels, as ObjectNet's images are."""
    framed = Image.new("RGB", (image.width + 2 * OBJECTNET_BORDER, image.height + 2 * OBJECTNET_BORDER), OBJECTNET_RED)
    framed.paste(image, (OBJECTNET_BORDER, OBJECTNET_BORDER))
    return framed


def write_objectnet(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """images/<folder>/*.png for the demo classes with an ObjectNet counterpart and a few other folders, and the
    mapping files of objectnet-1.0."""
    folders = objectnet_folder_labels()
    overlap = {label: indices for label, indices in zip(objectnet_labels(), objectnet_imagenet_classes())}
    chosen: dict[str, int] = {}  # folder -> the demo class drawn in it
    for folder, label in folders.items():
        shared = [c for c in overlap.get(label, ()) if c in settings.classes]
        if shared:
            chosen[folder] = shared[0]
    if not chosen:
        raise ValueError(f"demo.classes {settings.classes} has no class with an ObjectNet counterpart")
    others = [folder for folder, label in sorted(folders.items()) if label not in overlap][:OBJECTNET_OTHER_FOLDERS]
    rng = np.random.default_rng([settings.seed, STREAMS["objectnet"]])
    count = 0
    for folder in [*chosen, *others]:
        label = chosen.get(folder, settings.classes[0])  # another class's folder: any drawing, it is left out
        for copy, spec in enumerate(sample_images((label,), settings.val_per_class, rng, difficulty=0.8), start=1):
            path = root / "objectnet" / "images" / folder / f"{folder}_{copy:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            _bordered(spec.draw(looks, settings.image_size)).save(path)
            count += 1
    (root / "objectnet" / "mappings").mkdir(parents=True, exist_ok=True)
    for name in OBJECTNET_FILES:
        (root / "objectnet" / "mappings" / name).write_bytes(objectnet_file(name))
    return {"objectnet": {"format": "objectnet", "root": "objectnet", "images": count, "classes": sorted(chosen)}}


def _on_background(spec: ImageSpec, donor: ImageSpec | None) -> ImageSpec:
    """The same object on a donor's background (None: a black one, as only-FG)."""
    if donor is None:
        return replace(spec, factors=replace(spec.factors, background="plain", background_color=(0, 0, 0)))
    return replace(spec, factors=replace(spec.factors, background=donor.factors.background,
                                         background_color=donor.factors.background_color))


def write_imagenet_9(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """bg_challenge/<variant>/val/<NN_class>/*.JPEG: the demo classes inside IN-9, each image in the four variants
    under one name (only_fg on black, mixed_same on a same-class image's background, mixed_rand on a random one's)."""
    classes = tuple(c for c in settings.classes if in_to_in9()[c] >= 0)
    if not classes:
        raise ValueError(f"demo.classes {settings.classes} has no class of ImageNet-9")
    rng = np.random.default_rng([settings.seed, STREAMS["imagenet_9"]])
    specs = sample_images(classes, settings.val_per_class, rng, difficulty=0.6)
    by_class = {c: [s for s in specs if s.label == c] for c in classes}
    for number, spec in enumerate(specs):
        same = by_class[spec.label]
        donors = {"original": spec, "only_fg": None, "mixed_same": same[(same.index(spec) + 1) % len(same)],
                  "mixed_rand": specs[int(rng.integers(len(specs)))]}
        folder = IN9_FOLDERS[in_to_in9()[spec.label]]
        for variant in IN9_VARIANTS:
            path = root / "bg_challenge" / variant / "val" / folder / f"in9_{number:05d}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            _on_background(spec, donors[variant]).draw(looks, settings.image_size).save(path, quality=95)
    return {"bg_challenge": {"format": "imagenet_9", "root": "bg_challenge", "images": len(specs) * len(IN9_VARIANTS),
                             "classes": list(classes)}}


def write_beyond_sets(root: Path, settings: WorldSettings, looks: dict[int, ClassLook]) -> dict[str, Any]:
    """All demo sets of the properties beyond the paper."""
    sets = write_imagenet_o(root, settings)
    sets.update(write_objectnet(root, settings, looks))
    sets.update(write_imagenet_9(root, settings, looks))
    return sets
