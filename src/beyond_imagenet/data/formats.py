"""Dataset formats as a table: each on-disk layout lists into a SampleList (ids, canonical labels, opener)."""

from __future__ import annotations

import csv
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..catalog.class_maps import IN9_FOLDERS, OBJECTNET_FILES, objectnet_class_of_folder, same_objectnet_mapping
from ..catalog.labels import index_of_wnid
from ..config.specs import DatasetSpec, parse_shard
from .parquet import list_hub_parquet, list_parquet_multilabel
from .samples import (
    NO_LABEL,
    DatasetFormatError,
    SampleList,
    leave_out_unlabelled,
    load_rgb,
    split_list_lines,
)

__all__ = ["DATASET_FORMATS", "DatasetFormat", "DatasetFormatError", "SampleList", "list_samples", "load_rgb"]

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".webp"})


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _require_dir(root: Path) -> None:
    if not root.is_dir():
        raise DatasetFormatError(f"dataset root {str(root)!r} is not a directory")


def _inside(path: Path, root: Path) -> Path:
    """The real path of an entry, refused when a link leads outside the dataset root."""
    real = path.resolve()
    if real != root.resolve() and not real.is_relative_to(root.resolve()):
        raise DatasetFormatError(f"{path}: a link to {real}, outside the dataset root {root}; copy the file into the "
                                 "root (or link the whole dataset root instead)")
    return real


def checked_image(path: Path, root: Path) -> bool:
    """Whether `path` is an image file to read: named like one, a regular file (after following a link that stays
    inside the root); a device, a pipe or a link outside the root named like an image is refused by name."""
    if not _is_image(path.name):
        return False
    mode = _inside(path, root).stat().st_mode if path.is_symlink() else path.lstat().st_mode
    if not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            return False
        raise DatasetFormatError(f"{path}: not a regular file (a device, pipe or socket named like an image); "
                                 "remove it from the dataset")
    return True


def _image_names(folder: Path, root: Path) -> list[str]:
    """Sorted names of the image files of one folder (checked_image)."""
    return sorted(entry.name for entry in os.scandir(folder) if checked_image(Path(entry.path), root))


def _subfolders(folder: Path, root: Path) -> list[str]:
    """Sorted names of the folders of one folder; a linked folder must stay inside the root."""
    found = []
    for entry in os.scandir(folder):
        if entry.is_dir():  # follows links: checked inside the root
            if entry.is_symlink():
                _inside(Path(entry.path), root)
            found.append(entry.name)
    return sorted(found)


def list_imagefolder_wnid(root: Path) -> SampleList:
    """<root>/<wnid>/<image>: label = index of the wnid in the sorted ILSVRC-2012 wnids."""
    _require_dir(root)
    pairs: list[tuple[str, int]] = []
    for folder in _subfolders(root, root):
        try:
            label = index_of_wnid(folder)
        except KeyError as error:
            raise DatasetFormatError(f"{root / folder}: folder name {error.args[0]}") from None
        names = _image_names(root / folder, root)
        pairs.extend((f"{folder}/{name}", label) for name in names)
    if not pairs:
        raise DatasetFormatError(f"{root}: no images found in <root>/<wnid>/ folders")
    return SampleList(root, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


def _label_from_row(row: dict[str, str], label_file: Path, line: int) -> int | None:
    """The canonical label of a label-file row; None for a row that says it has none (-1, or both fields empty)."""
    label = (row.get("label") or "").strip()
    if label != "":
        if not label.lstrip("-").isdigit():
            raise DatasetFormatError(f"{label_file}:{line}: label {label!r} is not a class index 0..999")
        if int(label) < 0:
            return None  # the usual "no label" marker: treated like an image the file does not list
        if not int(label) < 1000:
            raise DatasetFormatError(f"{label_file}:{line}: label {label} is outside 0..999")
        return int(label)
    if (row.get("wnid") or "").strip() != "":
        try:
            return index_of_wnid(row["wnid"].strip())
        except KeyError as error:
            raise DatasetFormatError(f"{label_file}:{line}: {error.args[0]}") from None
    return None


def list_flat_labels(root: Path, label_file: Path, unlisted_images: str = "warn") -> SampleList:
    """<root>/<image> with a CSV label file (columns file_name and label or wnid); an image the file does not list, or
    lists without a label (-1 or empty), is left out with a warning that counts them, or refused (`error`)."""
    _require_dir(root)
    with open(label_file, newline="") as handle:
        reader = csv.DictReader(handle)
        if "file_name" not in (reader.fieldnames or []):
            raise DatasetFormatError(f"{label_file}: needs a 'file_name' column, found {reader.fieldnames}")
        if not {"label", "wnid"} & set(reader.fieldnames or []):
            raise DatasetFormatError(f"{label_file}: needs a 'label' or a 'wnid' column, found {reader.fieldnames}")
        labels: dict[str, int | None] = {}
        for line, row in enumerate(reader, start=2):
            name = row["file_name"]
            if name in labels:
                raise DatasetFormatError(f"{label_file}:{line}: file {name!r} is listed twice")
            labels[name] = _label_from_row(row, label_file, line)
    on_disk = set(_image_names(root, root))
    missing = sorted(set(labels) - on_disk)
    if missing:
        raise DatasetFormatError(f"{label_file}: {len(missing)} listed files are not in {root}, e.g. {missing[:3]}")
    unlisted = sorted(name for name in on_disk if labels.get(name) is None)
    if unlisted:
        message = (f"{root}: {len(unlisted)} of {len(on_disk)} images have no label in {label_file} (not listed, "
                   f"or listed as -1 / empty) and are left out, e.g. {unlisted[:3]}")
        leave_out_unlabelled(message, unlisted_images)
    ids = tuple(sorted(name for name, label in labels.items() if label is not None))
    return SampleList(root, ids, tuple(labels[i] for i in ids))


def list_numeric_folders(root: Path) -> SampleList:
    """<root>/<k>/<image> with k = 0..999 unpadded (ImageNet-V2): label = int(k), not the folder's sort rank."""
    _require_dir(root)
    pairs: list[tuple[str, int]] = []
    for folder in sorted(_subfolders(root, root), key=_numeric_folder_label):
        label = _numeric_folder_label(folder, root)
        names = _image_names(root / folder, root)
        pairs.extend((f"{folder}/{name}", label) for name in names)
    if not pairs:
        raise DatasetFormatError(f"{root}: no images found in <root>/<0..999>/ folders")
    return SampleList(root, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


def _numeric_folder_label(folder: str, root: Path | None = None) -> int:
    if not folder.isdigit() or not 0 <= int(folder) < 1000:
        raise DatasetFormatError(f"{(root or Path('.')) / folder}: ImageNet-V2 folders must be named 0..999")
    return int(folder)


def list_imagenet_c(root: Path, corruptions: list[str], severities: list[int], part: str | None) -> SampleList:
    """<root>/<corruption>/<severity>/<wnid>/<image>; ids keep the corruption/severity prefix."""
    selected = [tuple(part.split("."))] if part else [(c, str(s)) for c in corruptions for s in severities]
    ids: list[str] = []
    labels: list[int] = []
    for corruption, severity in selected:
        shard = list_imagefolder_wnid(root / corruption / severity)
        ids.extend(f"{corruption}/{severity}/{i}" for i in shard.ids)
        labels.extend(shard.labels)
    return SampleList(root, tuple(ids), tuple(labels))


def _list_nested(root: Path, depth: int, what: str) -> list[str]:
    """Root-relative image paths exactly `depth` folders deep, sorted."""
    _require_dir(root)
    folders = [Path()]
    for _ in range(depth):
        folders = [folder / name for folder in folders for name in _subfolders(root / folder, root)]
    found = sorted((folder / name).as_posix() for folder in folders for name in _image_names(root / folder, root))
    if not found:
        raise DatasetFormatError(f"{root}: no images found in the {what} layout")
    return found


def list_cue_conflict(root: Path) -> SampleList:
    """<root>/<shape category>/<shape><i>-<texture><j>.png (Geirhos et al. 2019); no ImageNet label."""
    ids = _list_nested(root, 1, "<category>/<image>")
    return SampleList(root, tuple(ids), (NO_LABEL,) * len(ids))


def list_pug(root: Path) -> SampleList:
    """<root>/<Factor>/<Class_name>/<image> (PUG-ImageNet, Bordes et al. 2023); no ImageNet label."""
    ids = _list_nested(root, 2, "<Factor>/<Class_name>/<image>")
    return SampleList(root, tuple(ids), (NO_LABEL,) * len(ids))


OBJECTNET_BORDER = 2  # pixels cut from each side: ObjectNet's red frame (1 px by its README; imagenet-testbed, wise-ft
# and the shift-happens benchmark cut 2, as 1 left red showing after resizing)


@dataclass(frozen=True)
class BorderCropped:
    """Opens an image with a frame of `border` pixels cut from every side (ObjectNet's red border)."""

    root: Path
    ids: tuple[str, ...]
    border: int = OBJECTNET_BORDER

    def load(self, row: int):
        """The RGB image of one row, its border cut."""
        image = load_rgb(self.root / self.ids[row])
        width, height = image.size
        if width <= 2 * self.border or height <= 2 * self.border:
            raise DatasetFormatError(f"{self.root / self.ids[row]}: {width}x{height} px, too small to cut ObjectNet's "
                                     f"{self.border} px border")
        return image.crop((self.border, self.border, width - self.border, height - self.border))


def _check_objectnet_mappings(root: Path) -> None:
    """The dataset's own mapping files, where present, must be the published ones this package scores with."""
    for name in OBJECTNET_FILES:
        path = root / "mappings" / name
        if path.is_file() and not same_objectnet_mapping(name, path.read_bytes()):
            raise DatasetFormatError(f"{path}: says something else than the mapping file of objectnet-1.0 this package "
                                     "scores with; use the objectnet-1.0 release as published")


def list_objectnet(root: Path) -> SampleList:
    """<root>/images/<folder>/<image> (objectnet-1.0): the images of the 113 classes with ImageNet counterparts,
    label = ObjectNet class number 0..112 (sorted labels); the other 200 classes' folders are left out."""
    _require_dir(root / "images")
    _check_objectnet_mappings(root)
    pairs: list[tuple[str, int]] = []
    left_out = 0
    for folder in _subfolders(root / "images", root):
        try:
            number = objectnet_class_of_folder(folder)
        except KeyError as error:
            raise DatasetFormatError(f"{root / 'images' / folder}: {error.args[0]}") from None
        names = _image_names(root / "images" / folder, root)
        if number is None:
            left_out += len(names)
            continue
        pairs.extend((f"images/{folder}/{name}", number) for name in names)
    if not pairs:
        raise DatasetFormatError(f"{root}: no image of ObjectNet's 113 ImageNet classes in <root>/images/<folder>/")
    log.info("%s: %d images of the 113 classes with ImageNet counterparts; %d of other classes left out", root,
             len(pairs), left_out)
    ids = tuple(p[0] for p in pairs)
    return SampleList(root, ids, tuple(p[1] for p in pairs), source=BorderCropped(root, ids))


IN9_VARIANTS = ("original", "only_fg", "mixed_same", "mixed_rand")  # what the object-focus property scores


def list_imagenet_9(root: Path) -> SampleList:
    """<root>/<variant>/val/<NN_class>/<image> (the backgrounds challenge release, bg_challenge/) for the four
    variants scored; label = the IN-9 class NN of the folder."""
    ids: list[str] = []
    labels: list[int] = []
    for variant in IN9_VARIANTS:
        folder = root / variant / "val"
        if not folder.is_dir():
            raise DatasetFormatError(f"{folder} is missing: an ImageNet-9 root holds {list(IN9_VARIANTS)}, each with "
                                     "val/<NN_class>/ folders (the release's bg_challenge/)")
        for name in _subfolders(folder, root):
            if name not in IN9_FOLDERS:
                raise DatasetFormatError(f"{folder / name}: not an ImageNet-9 class folder; expected {list(IN9_FOLDERS)}")
            images = _image_names(folder / name, root)
            ids.extend(f"{variant}/val/{name}/{image}" for image in images)
            labels.extend([IN9_FOLDERS.index(name)] * len(images))
    if not ids:
        raise DatasetFormatError(f"{root}: no images in <variant>/val/<NN_class>/ folders")
    return SampleList(root, tuple(ids), tuple(labels))


VTAB_IMAGE_LISTS = ("train800val200.txt", "test.txt")


def list_vtab(root: Path, classes: int | None = None) -> SampleList:
    """A VTAB-1k task exported as split lists (`path label` lines): every listed image once, with its task label;
    a label outside 0..classes-1 and a listed path that is a link out of the folder or not a regular file are
    refused by name."""
    _require_dir(root)
    labels: dict[str, int] = {}
    for list_name in VTAB_IMAGE_LISTS:
        path = root / list_name
        if not path.is_file():
            raise DatasetFormatError(f"{path} is missing; a VTAB task folder needs {list(VTAB_IMAGE_LISTS)}")
        for name, label, line in split_list_lines(path):
            if classes is not None and label >= classes:
                raise DatasetFormatError(f"{path}:{line}: label {label} of {name} is outside the task's {classes} "
                                         f"classes (0..{classes - 1}); fix the list or 'datasets.<id>.classes'")
            if labels.setdefault(name, label) != label:
                raise DatasetFormatError(f"{path}:{line}: {name} has label {label} here and {labels[name]} in "
                                         "another list")
    missing = [i for i in labels if not (root / i).exists()]
    if missing:
        raise DatasetFormatError(f"{root}: {len(missing)} listed images do not exist, e.g. {missing[:3]}")
    for name in labels:
        if not checked_image(root / name, root):
            raise DatasetFormatError(f"{root / name}: listed in the task's split lists but not an image file")
    return SampleList(root, tuple(labels), tuple(labels.values()))


def _parquet(spec: DatasetSpec) -> SampleList:

    return list_parquet_multilabel(Path(spec.root), spec.unlabelled_images)


def _hub_parquet(spec: DatasetSpec) -> SampleList:

    return list_hub_parquet(Path(spec.root), spec.split, spec.label_column, spec.label_encoding,
                            spec.unlabelled_images)


@dataclass(frozen=True)
class DatasetFormat:
    """One on-disk layout: how to list it (and, via the SampleList it returns, how to open row i)."""

    name: str
    list: Callable[[DatasetSpec], SampleList]
    has_cells: bool = False  # listed per named part (ImageNet-C's corruption.severity)


DATASET_FORMATS: dict[str, DatasetFormat] = {f.name: f for f in (
    DatasetFormat("imagefolder_wnid", lambda spec: list_imagefolder_wnid(Path(spec.root))),
    DatasetFormat("flat_labels", lambda spec: list_flat_labels(Path(spec.root), Path(spec.label_file or ""),
                                                               spec.unlabelled_images)),
    DatasetFormat("numeric_folders", lambda spec: list_numeric_folders(Path(spec.root))),
    DatasetFormat("imagenet_c", lambda spec: list_imagenet_c(Path(spec.root), spec.corruptions, spec.severities,
                                                             None), has_cells=True),
    DatasetFormat("parquet_multilabel", _parquet),
    DatasetFormat("hf_parquet", _hub_parquet),
    DatasetFormat("cue_conflict", lambda spec: list_cue_conflict(Path(spec.root))),
    DatasetFormat("pug", lambda spec: list_pug(Path(spec.root))),
    DatasetFormat("vtab", lambda spec: list_vtab(Path(spec.root), spec.class_count)),
    DatasetFormat("objectnet", lambda spec: list_objectnet(Path(spec.root))),
    DatasetFormat("imagenet_9", lambda spec: list_imagenet_9(Path(spec.root))),
)}


def list_samples(spec: DatasetSpec, part: str | None = None) -> SampleList:
    """The images of a dataset entry through its format's lister (and one part of a split set); an empty listing is
    an error naming the dataset."""
    samples = _listed(spec, part)
    if not len(samples):
        where = f"part {part!r} of " if part else ""
        raise DatasetFormatError(f"{where}dataset {spec.id!r} lists no image under {spec.root} (format {spec.format}); "
                                 f"check 'datasets.{spec.id}.root' and its format")
    return samples


def _listed(spec: DatasetSpec, part: str | None) -> SampleList:
    if spec.format not in DATASET_FORMATS:
        raise DatasetFormatError(f"dataset {spec.id!r}: unknown format {spec.format!r}; known: {sorted(DATASET_FORMATS)}")
    shard = parse_shard(part) if part is not None else None
    if shard is not None:
        return list_samples(spec).shard(*shard)
    if part is None:
        return DATASET_FORMATS[spec.format].list(spec)
    if not DATASET_FORMATS[spec.format].has_cells:
        raise DatasetFormatError(f"dataset {spec.id!r} (format {spec.format}) has no part {part!r}")
    return list_imagenet_c(Path(spec.root), spec.corruptions, spec.severities, part)
