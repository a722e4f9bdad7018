"""Images stored inside parquet files (ImageNet-Hard): a multi-label adapter and a lazy row reader."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .samples import DatasetFormatError, SampleList, open_rgb

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
            self._handle = (file_index, pq.ParquetFile(self.files[file_index]))
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


def list_parquet_multilabel(root: Path) -> SampleList:
    """ImageNet-Hard layout: columns `image` (bytes or {bytes, path}) and `label` (list of canonical indices)."""
    import pyarrow.parquet as pq

    files = parquet_files(root)
    ids: list[str] = []
    label_sets: list[tuple[int, ...]] = []
    counts = []
    for path in files:
        schema_names = pq.read_schema(path).names
        if IMAGE_COLUMN not in schema_names or LABEL_COLUMN not in schema_names:
            raise DatasetFormatError(f"{path}: needs columns {IMAGE_COLUMN!r} and {LABEL_COLUMN!r}, has {schema_names}")
        labels = pq.read_table(path, columns=[LABEL_COLUMN]).column(0).to_pylist()
        for row, entry in enumerate(labels):
            values = tuple(int(v) for v in (entry if isinstance(entry, list) else [entry]))
            if not values or not all(0 <= v < 1000 for v in values):
                raise DatasetFormatError(f"{path}: row {row} has label {entry!r}; expected a non-empty list in 0..999")
            label_sets.append(values)
            ids.append(f"{path.name}/{row:06d}")
        counts.append(len(labels))
    source = ParquetImages(tuple(files), tuple(counts))
    return SampleList(root, tuple(ids), tuple(s[0] for s in label_sets), tuple(label_sets), source)
