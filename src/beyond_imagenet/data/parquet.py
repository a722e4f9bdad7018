"""Images stored inside parquet files (ImageNet-Hard): a multi-label adapter and a lazy row reader."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..catalog.labels import imagenet_subset, index_of_wnid
from .samples import DatasetFormatError, SampleList, leave_out_unlabelled, open_rgb

log = logging.getLogger(__name__)
IMAGE_COLUMN = "image"
LABEL_COLUMN = "label"


def parquet_files(root: Path) -> list[Path]:
    """A parquet file, or the sorted *.parquet files of a folder."""
    files = [root] if root.is_file() else sorted(root.glob("*.parquet")) if root.is_dir() else []
    if not files:
        raise DatasetFormatError(f"{root}: no parquet file (expected a .parquet file or a folder of them)")
    return files


@dataclass
class ParquetImages:
    """Reads row r's image from a set of parquet files, one row group at a time (sequential access is cheap)."""

    files: tuple[Path, ...]
    rows_per_file: tuple[int, ...]
    _cached: tuple[int, int, list] | None = field(default=None, repr=False)
    _handle: tuple[int, Any] | None = field(default=None, repr=False)  # (file index, open ParquetFile)

    def __getstate__(self) -> dict:
        # DataLoader workers get a copy without open files or decoded row groups.
        return {"files": self.files, "rows_per_file": self.rows_per_file, "_cached": None, "_handle": None}

    def _open(self, file_index: int):
        """The open ParquetFile of one file, kept while rows are read from it (no re-open per image)."""
        import pyarrow.parquet as pq

        if self._handle is None or self._handle[0] != file_index:
            try:
                self._handle = (file_index, pq.ParquetFile(self.files[file_index]))
            except (OSError, ValueError) as error:  # pyarrow's errors subclass these
                raise DatasetFormatError(f"{self.files[file_index]}: not a readable parquet file ({error}); it is "
                                         "truncated or damaged — download it again") from None
        return self._handle[1]

    def _locate(self, row: int) -> tuple[int, int]:
        for index, count in enumerate(self.rows_per_file):
            if row < count:
                return index, row
            row -= count
        raise IndexError(f"row beyond the {sum(self.rows_per_file)} rows of {self.files}")

    def load(self, row: int) -> Image.Image:
        """Decode one image to RGB."""
        file_index, local = self._locate(row)
        handle = self._open(file_index)
        group, offset = 0, local
        while offset >= handle.metadata.row_group(group).num_rows:
            offset -= handle.metadata.row_group(group).num_rows
            group += 1
        if self._cached is None or self._cached[:2] != (file_index, group):
            column = handle.read_row_group(group, columns=[IMAGE_COLUMN]).column(0).to_pylist()
            self._cached = (file_index, group, column)
        cell = self._cached[2][offset]
        data = cell["bytes"] if isinstance(cell, dict) else cell
        return open_rgb(io.BytesIO(data), f"{self.files[file_index]} row {local}")


NO_LABEL_VALUES = (None,)  # besides any negative value: what a hub dataset stores for "no label" (-1, null)


def _label_sets(path: Path, column: str, decode: Callable[[int], int]) -> list[tuple[int, ...] | None]:
    """Each row's canonical label indices: an int (one label) or a list (several, as ImageNet-Hard's); None for a row
    without a label (the hub's -1, a null, an empty list), never decoded (a -1 would index the last class)."""
    import pyarrow.parquet as pq

    sets: list[tuple[int, ...] | None] = []
    try:
        entries = pq.read_table(path, columns=[column]).column(0).to_pylist()
    except (OSError, ValueError) as error:  # pyarrow's errors subclass these
        raise DatasetFormatError(f"{path}: not a readable parquet file ({error}); it is truncated or damaged — "
                                 "download it again") from None
    for row, entry in enumerate(entries):
        raw = entry if isinstance(entry, list) else [entry]
        if not raw or any(v in NO_LABEL_VALUES or (isinstance(v, (int, float)) and v < 0) for v in raw):
            sets.append(None)
            continue
        try:
            values = tuple(decode(int(v)) for v in raw)
        except (TypeError, ValueError, IndexError, KeyError):
            values = ()
        if not values or not all(0 <= v < 1000 for v in values):
            raise DatasetFormatError(f"{path}: row {row} has {column} {entry!r}; expected a class index (or a "
                                     "non-empty list of them) that maps into 0..999")
        sets.append(values)
    return sets


def _check_columns(path: Path, label_column: str) -> None:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError) as error:  # pyarrow's errors subclass these
        raise DatasetFormatError(f"{path}: not a readable parquet file ({error}); it is truncated or damaged — "
                                 "download it again") from None
    if IMAGE_COLUMN not in names or label_column not in names:
        raise DatasetFormatError(f"{path}: needs columns {IMAGE_COLUMN!r} and {label_column!r}, has {names}")


def _list_parquet(root: Path, files: list[Path], label_column: str, decode: Callable[[int], int],
                  id_of: Callable[[Path, int], str], unlabelled: str = "warn") -> SampleList:
    ids: list[str] = []
    label_sets: list[tuple[int, ...]] = []
    source_rows: list[int] = []
    counts, skipped, offset = [], [], 0
    for path in files:
        _check_columns(path, label_column)
        sets = _label_sets(path, label_column, decode)
        for row, labels in enumerate(sets):
            if labels is None:
                skipped.append(id_of(path, row))
                continue
            label_sets.append(labels)
            ids.append(id_of(path, row))
            source_rows.append(offset + row)
        counts.append(len(sets))
        offset += len(sets)
    if skipped:
        message = (f"{root}: {len(skipped)} of {offset} rows have no label in column {label_column!r} (-1, null or "
                   f"empty) and are left out, e.g. {skipped[:3]}")
        leave_out_unlabelled(message, unlabelled)
    if len(set(ids)) != len(ids):
        raise DatasetFormatError(f"{root}: two rows share an id; the parquet files repeat a file name")
    source = ParquetImages(tuple(files), tuple(counts))
    return SampleList(root, tuple(ids), tuple(s[0] for s in label_sets), tuple(label_sets), source,
                      source_rows=None if not skipped else tuple(source_rows))


def list_parquet_multilabel(root: Path, unlabelled: str = "warn") -> SampleList:
    """ImageNet-Hard layout: columns `image` (bytes or {bytes, path}) and `label` (list of canonical indices)."""
    return _list_parquet(root, parquet_files(root), LABEL_COLUMN, lambda v: v,
                         lambda path, row: f"{path.name}/{row:06d}", unlabelled)


def hub_split_files(root: Path, split: str) -> list[Path]:
    """A hub snapshot's parquet shards of one split: `<split>-*.parquet` (data/ layout) or `<split>/*.parquet`."""
    if not root.is_dir():
        raise DatasetFormatError(f"{root}: not a folder (expected a Hugging Face dataset snapshot)")
    files = sorted({p for p in root.rglob("*.parquet") if ".cache" not in p.relative_to(root).parts
                    and (p.name.startswith(f"{split}-") or p.parent.name == split)})
    if not files:
        found = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))[:5]
        raise DatasetFormatError(f"{root}: no parquet shards of split {split!r} ({split}-*.parquet or "
                                 f"{split}/*.parquet); parquet files found: {found}")
    return files


def hub_class_names(path: Path, column: str) -> list[str]:
    """The ClassLabel names that the `datasets` library stores in a parquet file's schema metadata."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    try:
        features = json.loads(metadata[b"huggingface"])["info"]["features"]
        return list(features[column]["names"])
    except (KeyError, TypeError, ValueError):
        raise DatasetFormatError(f"{path}: no ClassLabel names for column {column!r} in its 'huggingface' "
                                 "metadata; use label_encoding: index if the values are canonical indices") from None


def label_decoder(encoding: str, first_file: Path, column: str) -> Callable[[int], int]:
    """Hub label value -> canonical index: `index` as is, `wnid_names` via the file's ClassLabel names (wnids),
    `imagenet_a` / `imagenet_r` via that set's 200 sorted wnids (its folder order)."""

    if encoding == "index":
        return lambda v: v
    if encoding == "wnid_names":
        try:
            table = [index_of_wnid(name) for name in hub_class_names(first_file, column)]
        except KeyError as error:
            raise DatasetFormatError(f"{first_file}: ClassLabel name {error.args[0]}") from None
        return table.__getitem__
    if encoding in ("imagenet_a", "imagenet_r"):
        return [int(i) for i in imagenet_subset(encoding)].__getitem__
    raise DatasetFormatError(f"unknown label_encoding {encoding!r}; choose index, wnid_names, imagenet_a, imagenet_r")


def _image_paths(path: Path) -> list[str | None]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=[f"{IMAGE_COLUMN}.path"]).column(0).to_pylist()
    except (KeyError, ValueError, OSError):  # no image.path field (pyarrow's errors subclass these)
        return []


def list_hub_parquet(root: Path, split: str, label_column: str, encoding: str, unlabelled: str = "warn") -> SampleList:
    """A Hugging Face dataset snapshot (parquet shards at a pinned revision), read without unpacking.

    ids: each image's stored file name (`image.path`) when every row of the split has a distinct one, so ids survive
    a re-sharding of the repository; otherwise `<shard file>/<row>` (stable for one revision).
    """
    files = hub_split_files(root, split)
    decode = label_decoder(encoding, files[0], label_column)
    names = {path: _image_paths(path) for path in files}
    flat = [n for path in files for n in names[path]]
    by_name = bool(flat) and all(flat) and len(set(flat)) == len(flat)
    return _list_parquet(root, files, label_column, decode,
                         (lambda path, row: names[path][row]) if by_name
                         else (lambda path, row: f"{path.relative_to(root).as_posix()}/{row:06d}"), unlabelled)
