"""Published maps from ImageNet's 1000 classes to other benchmarks' classes: ObjectNet's 113 overlapping classes and
the ImageNet-9 backgrounds challenge's 9 (package data, verbatim copies of the publishers' files, sha256 below).

- ObjectNet (Barbu et al. 2019): the four files of `objectnet-1.0/mappings/` (copies in mlfoundations/wise-ft
  58b7a4b, src/datasets/objectnet_metadata/; the same bytes in model-soups and, for the two JSON files,
  modestyachts/imagenet-testbed). An ObjectNet class's ImageNet classes are named in `objectnet_to_imagenet_1k.json`
  by their devkit names (`imagenet_to_label_2012_v2`, devkit order), which `pytorch_to_imagenet_2012_id.json` maps
  from the canonical (sorted-wnid, torchvision) index. ObjectNet's own class number is the position of the label in
  the sorted labels (its challenge starter code's numbering).
- ImageNet-9 (Xiao et al. 2021): `in_to_in9.json` of MadryLab/backgrounds_challenge (46d224b): canonical index ->
  IN-9 class 0..8, or -1 for the 630 classes outside IN-9.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources

import numpy as np

OBJECTNET_FILES = {  # file of objectnet-1.0/mappings/ -> sha256 of the published bytes
    "folder_to_objectnet_label.json": "ccef32f7421b23619fd55bdbd58f3dc2f323d18e169e37bce94326a601de90db",
    "objectnet_to_imagenet_1k.json": "9a6e167524548a653a8ec7f149d9f0880346f6d0218136f41ae57c37c8deac97",
    "imagenet_to_label_2012_v2": "b637cd5d3901e889a8b041b928b3e61e4274f3b8a60a8d72d7c8c935699d63b5",
    "pytorch_to_imagenet_2012_id.json": "2aa72a1bc3824ebc7505db2411fa345ce39c739241aead5274e6aca771219746",
}
OBJECTNET_OVERLAP = 113  # ObjectNet classes with ImageNet counterparts (Barbu et al. 2019)
IN_TO_IN9_SHA256 = "5b72ab44c804129744f5dff9372d8048c3b85da38d48385d73686ee0b0e7b638"
# The release's class folders (IN-9 class = the two-digit prefix); two hold a space.
IN9_FOLDERS = ("00_dog", "01_bird", "02_wheeled vehicle", "03_reptile", "04_carnivore", "05_insect",
               "06_musical instrument", "07_primate", "08_fish")


def _package_bytes(*parts: str) -> bytes:
    """A file of catalog/files, checked against its published sha256."""
    data = resources.files("beyond_imagenet.catalog.files").joinpath("/".join(parts)).read_bytes()
    expected = OBJECTNET_FILES.get(parts[-1]) if parts[0] == "objectnet" else IN_TO_IN9_SHA256
    if hashlib.sha256(data).hexdigest() != expected:
        raise RuntimeError(f"catalog/files/{'/'.join(parts)} is not the published file (sha256 differs); reinstall "
                           "the package")
    return data


def objectnet_file(name: str) -> bytes:
    """One of ObjectNet's published mapping files, as shipped in this package."""
    return _package_bytes("objectnet", name)


def same_objectnet_mapping(name: str, data: bytes) -> bool:
    """Whether a copy of a mapping file says what the published one says (JSON compared parsed, the text file line by
    line: whitespace and line endings do not matter)."""
    if name.endswith(".json"):
        try:
            return json.loads(data) == json.loads(objectnet_file(name))
        except ValueError:
            return False
    return [line.strip() for line in data.decode(errors="replace").splitlines()] == [
        line.strip() for line in objectnet_file(name).decode().splitlines()]


@lru_cache(maxsize=1)
def objectnet_folder_labels() -> dict[str, str]:
    """ObjectNet image folder -> ObjectNet label (all 313 classes)."""
    return json.loads(objectnet_file("folder_to_objectnet_label.json"))


@lru_cache(maxsize=1)
def objectnet_labels() -> tuple[str, ...]:
    """The 113 ObjectNet labels with ImageNet counterparts, sorted (position = ObjectNet's class number)."""
    labels = tuple(sorted(json.loads(objectnet_file("objectnet_to_imagenet_1k.json"))))
    if len(labels) != OBJECTNET_OVERLAP:
        raise RuntimeError(f"ObjectNet's mapping names {len(labels)} overlapping classes, expected {OBJECTNET_OVERLAP}")
    return labels


@lru_cache(maxsize=1)
def objectnet_imagenet_classes() -> tuple[tuple[int, ...], ...]:
    """For each of the 113 sorted ObjectNet labels, the canonical ImageNet indices it stands for (125 in all, each
    in one class): devkit names -> devkit line -> canonical index through the published files."""
    devkit_names = objectnet_file("imagenet_to_label_2012_v2").decode().splitlines()
    canonical_of_line = {int(line): int(index) for index, line in
                         json.loads(objectnet_file("pytorch_to_imagenet_2012_id.json")).items()}
    line_of_name: dict[str, int] = {}
    for line, name in enumerate(devkit_names):
        line_of_name[name] = -1 if name in line_of_name else line  # a name twice ("crane") cannot be looked up
    mapping = json.loads(objectnet_file("objectnet_to_imagenet_1k.json"))
    classes = []
    for label in objectnet_labels():
        lines = [line_of_name.get(name, -1) for name in mapping[label].split("; ")]
        if -1 in lines:
            raise RuntimeError(f"ObjectNet class {label!r}: an ImageNet name of {mapping[label]!r} is not exactly one "
                               "devkit class")
        classes.append(tuple(sorted(canonical_of_line[line] for line in lines)))
    return tuple(classes)


def objectnet_class_of_folder(folder: str) -> int | None:
    """ObjectNet class number (0..112) of an image folder, or None for a class without ImageNet counterpart."""
    label = objectnet_folder_labels().get(folder)
    if label is None:
        raise KeyError(f"{folder!r} is not an ObjectNet image folder (objectnet-1.0/images/<folder>)")
    return _objectnet_numbers().get(label)


@lru_cache(maxsize=1)
def _objectnet_numbers() -> dict[str, int]:
    return {name: number for number, name in enumerate(objectnet_labels())}


def objectnet_decision_map() -> tuple[np.ndarray, np.ndarray]:
    """(the canonical indices the decision is taken over, the ObjectNet class of each), ascending by index: an image
    is right when the argmax over these columns belongs to its class (imagenet-testbed's rule)."""
    pairs = sorted((index, number) for number, indices in enumerate(objectnet_imagenet_classes()) for index in indices)
    columns = np.array([index for index, _ in pairs], dtype=np.int64)
    if len(np.unique(columns)) != len(columns):
        raise RuntimeError("an ImageNet class stands for two ObjectNet classes; the mapping files are not the published")
    return columns, np.array([number for _, number in pairs], dtype=np.int64)


@lru_cache(maxsize=1)
def in_to_in9() -> np.ndarray:
    """IN-9 class (0..8) of each canonical ImageNet index, -1 outside IN-9 (the backgrounds challenge's map)."""
    table = json.loads(_package_bytes("in_to_in9.json"))
    if sorted(int(k) for k in table) != list(range(1000)):
        raise RuntimeError("in_to_in9.json must map every index 0..999")
    return np.array([table[str(k)] for k in range(1000)], dtype=np.int64)
