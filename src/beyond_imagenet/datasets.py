"""Dataset adapters: each on-disk format becomes a list of (root-relative id, canonical label)."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from torch.utils.data import Dataset

from .config import DatasetSpec, parse_shard
from .labels import index_of_wnid

if TYPE_CHECKING:
    from .parquet_images import ParquetImages

IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".webp"})


class DatasetFormatError(ValueError):
    """A dataset on disk does not match the layout its config entry declares."""


@dataclass(frozen=True)
class SampleList:
    """The images of a dataset: ids relative to its root, and canonical ImageNet-1k labels.

    Multi-label sets (ImageNet-Hard) also carry `label_sets`; `labels` then holds the first label.
    Images come from files under `root`, or from a ParquetImages source when `parquet` is set.
    """

    root: Path
    ids: tuple[str, ...]
    labels: tuple[int, ...]
    label_sets: tuple[tuple[int, ...], ...] | None = None
    parquet: ParquetImages | None = None
    parquet_offset: int = 0  # row of the parquet source where this list starts (a shard)

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        """sha256 over (id, label[s]) pairs: two lists with the same images and labels agree."""
        digest = hashlib.sha256()
        sets = self.label_sets or [()] * len(self.ids)
        for image_id, label, label_set in zip(self.ids, self.labels, sets):
            digest.update(f"{image_id}\t{label}\t{','.join(map(str, label_set))}\n".encode())
        return digest.hexdigest()

    def shard(self, k: int, n: int) -> SampleList:
        """The k-th (1-based) of n contiguous, near-equal slices; the shards concatenate to the whole list."""
        if not 1 <= k <= n:
            raise ValueError(f"shard {k} of {n} does not exist")
        start, stop = (k - 1) * len(self) // n, k * len(self) // n
        sets = self.label_sets[start:stop] if self.label_sets is not None else None
        return SampleList(self.root, self.ids[start:stop], self.labels[start:stop], sets, self.parquet,
                          self.parquet_offset + start)

    def load(self, row: int) -> Image.Image:
        """The RGB image of one row."""
        if self.parquet is not None:
            return self.parquet.load(self.parquet_offset + row)
        return load_rgb(self.root / self.ids[row])


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _require_dir(root: Path) -> None:
    if not root.is_dir():
        raise DatasetFormatError(f"dataset root {str(root)!r} is not a directory")


def list_imagefolder_wnid(root: Path) -> SampleList:
    """<root>/<wnid>/<image>: label = index of the wnid in the sorted ILSVRC-2012 wnids."""
    _require_dir(root)
    pairs: list[tuple[str, int]] = []
    for folder in sorted(entry.name for entry in os.scandir(root) if entry.is_dir()):
        try:
            label = index_of_wnid(folder)
        except KeyError as error:
            raise DatasetFormatError(f"{root / folder}: folder name {error.args[0]}") from None
        names = sorted(e.name for e in os.scandir(root / folder) if e.is_file() and _is_image(e.name))
        pairs.extend((f"{folder}/{name}", label) for name in names)
    if not pairs:
        raise DatasetFormatError(f"{root}: no images found in <root>/<wnid>/ folders")
    return SampleList(root, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


def _label_from_row(row: dict[str, str], label_file: Path, line: int) -> int:
    if row.get("label", "") != "":
        label = int(row["label"])
        if not 0 <= label < 1000:
            raise DatasetFormatError(f"{label_file}:{line}: label {label} is outside 0..999")
        return label
    if row.get("wnid", "") != "":
        try:
            return index_of_wnid(row["wnid"])
        except KeyError as error:
            raise DatasetFormatError(f"{label_file}:{line}: {error.args[0]}") from None
    raise DatasetFormatError(f"{label_file}:{line}: row has neither a 'label' nor a 'wnid' value")


def list_flat_labels(root: Path, label_file: Path) -> SampleList:
    """<root>/<image> with a CSV label file (columns file_name and label or wnid)."""
    _require_dir(root)
    with open(label_file, newline="") as handle:
        reader = csv.DictReader(handle)
        if "file_name" not in (reader.fieldnames or []):
            raise DatasetFormatError(f"{label_file}: needs a 'file_name' column, found {reader.fieldnames}")
        labels: dict[str, int] = {}
        for line, row in enumerate(reader, start=2):
            name = row["file_name"]
            if name in labels:
                raise DatasetFormatError(f"{label_file}:{line}: file {name!r} is listed twice")
            labels[name] = _label_from_row(row, label_file, line)
    on_disk = {e.name for e in os.scandir(root) if e.is_file() and _is_image(e.name)}
    missing = sorted(set(labels) - on_disk)
    if missing:
        raise DatasetFormatError(f"{label_file}: {len(missing)} listed files are not in {root}, e.g. {missing[:3]}")
    ids = tuple(sorted(labels))
    return SampleList(root, ids, tuple(labels[i] for i in ids))


def list_numeric_folders(root: Path) -> SampleList:
    """<root>/<k>/<image> with k = 0..999 unpadded (ImageNet-V2): label = int(k), not the folder's sort rank."""
    _require_dir(root)
    pairs: list[tuple[str, int]] = []
    for folder in sorted((e.name for e in os.scandir(root) if e.is_dir()), key=_numeric_folder_label):
        label = _numeric_folder_label(folder, root)
        names = sorted(e.name for e in os.scandir(root / folder) if e.is_file() and _is_image(e.name))
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


NO_LABEL = -1  # sets whose classes are not ImageNet's (cue-conflict, PUG): the property reads the id


def _list_nested(root: Path, depth: int, what: str) -> list[str]:
    """Root-relative image paths exactly `depth` folders deep, sorted."""
    _require_dir(root)
    found = sorted(p.relative_to(root).as_posix() for p in root.glob("/".join(["*"] * (depth + 1)))
                   if p.is_file() and _is_image(p.name))
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


VTAB_IMAGE_LISTS = ("train800val200.txt", "test.txt")


def list_vtab(root: Path) -> SampleList:
    """A VTAB-1k task exported as split lists (`path label` lines): every listed image once, with its task label."""
    _require_dir(root)
    labels: dict[str, int] = {}
    for list_name in VTAB_IMAGE_LISTS:
        path = root / list_name
        if not path.is_file():
            raise DatasetFormatError(f"{path} is missing; a VTAB task folder needs {list(VTAB_IMAGE_LISTS)}")
        for line_number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise DatasetFormatError(f"{path}:{line_number}: expected 'relative/path label', got {line!r}")
            if labels.setdefault(fields[0], int(fields[1])) != int(fields[1]):
                raise DatasetFormatError(f"{path}:{line_number}: {fields[0]} has label {fields[1]} here and "
                                         f"{labels[fields[0]]} in another list")
    missing = [i for i in labels if not (root / i).is_file()]
    if missing:
        raise DatasetFormatError(f"{root}: {len(missing)} listed images do not exist, e.g. {missing[:3]}")
    return SampleList(root, tuple(labels), tuple(labels.values()))


def list_samples(spec: DatasetSpec, part: str | None = None) -> SampleList:
    """Dispatch on the declared format of a dataset entry (and select one part of a split set)."""
    root = Path(spec.root)
    shard = parse_shard(part) if part is not None else None
    if shard is not None:
        return list_samples(spec).shard(*shard)
    if part is not None and spec.format != "imagenet_c":
        raise DatasetFormatError(f"dataset {spec.id!r} (format {spec.format}) has no part {part!r}")
    if spec.format == "imagefolder_wnid":
        return list_imagefolder_wnid(root)
    if spec.format == "flat_labels":
        return list_flat_labels(root, Path(spec.label_file or ""))
    if spec.format == "numeric_folders":
        return list_numeric_folders(root)
    if spec.format == "imagenet_c":
        return list_imagenet_c(root, spec.corruptions, spec.severities, part)
    if spec.format == "parquet_multilabel":
        from .parquet_images import list_parquet_multilabel

        return list_parquet_multilabel(root)
    listers = {"cue_conflict": list_cue_conflict, "pug": list_pug, "vtab": list_vtab}
    if spec.format in listers:
        return listers[spec.format](root)
    raise DatasetFormatError(f"dataset {spec.id!r}: unknown format {spec.format!r}")


def load_rgb(path: Path) -> Image.Image:
    """Open an image and convert it to RGB (grayscale, CMYK and palette images exist in ImageNet)."""
    with Image.open(path) as image:
        return image.convert("RGB")


class ImageDataset(Dataset):
    """Images of a SampleList (from row `start` on), transformed; yields (tensor, row index)."""

    def __init__(self, samples: SampleList, transform: Callable, start: int = 0) -> None:
        self.samples = samples
        self.transform = transform
        self.start = start

    def __len__(self) -> int:
        return len(self.samples) - self.start

    def __getitem__(self, index: int):
        row = self.start + index
        return self.transform(self.samples.load(row)), row
