"""The cache contract (GPU -> CPU): one HDF5 file per (model, dataset, view), written atomically and resumably."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
PARTIAL_SUFFIX = ".partial"


class CacheError(RuntimeError):
    """A cache file is missing, incomplete, corrupt, or was made from something else than expected."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers, recorded in every cache file (read, not imported)."""
    from importlib.metadata import version

    from . import __version__

    packages = {"torch": "torch", "torchvision": "torchvision", "timm": "timm", "open_clip": "open_clip_torch",
                "h5py": "h5py", "numpy": "numpy", "pillow": "pillow"}
    return {"beyond_imagenet": __version__, **{name: version(dist) for name, dist in packages.items()}}


def partial_path(path: Path) -> Path:
    """Where an unfinished cache lives until it is complete."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _identity_of(handle: h5py.File) -> dict[str, Any]:
    return json.loads(handle.attrs["identity"])


class OutputsWriter:
    """Writes logits/features row blocks to `<path>.partial`; resumes a matching partial; renames when complete."""

    def __init__(self, path: Path, ids: list[str], labels: list[int], num_classes: int,
                 identity: dict[str, Any], batch_size: int,
                 label_sets: list[tuple[int, ...]] | None = None) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.batch_size = batch_size
        self.identity = json.loads(json.dumps(identity))  # normalise tuples etc. for comparison
        self.handle = self._open_or_resume(ids, labels, num_classes, label_sets)

    def _open_or_resume(self, ids: list[str], labels: list[int], num_classes: int,
                        label_sets: list[tuple[int, ...]] | None) -> h5py.File:
        if self.partial.exists():
            handle = self._try_resume()
            if handle is not None:
                return handle
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = h5py.File(self.partial, "w")
        rows = len(ids)
        chunk_rows = max(1, min(self.batch_size, rows))
        handle.create_dataset("logits", (rows, num_classes), dtype="float32", chunks=(chunk_rows, num_classes))
        handle.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        handle.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        if label_sets is not None:
            handle.create_dataset("label_sets", data=pad_label_sets(label_sets))
        handle.attrs["identity"] = json.dumps(self.identity, sort_keys=True)
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["batch_size"] = self.batch_size
        handle.attrs["rows_done"] = 0
        handle.attrs["complete"] = False
        return handle

    def _try_resume(self) -> h5py.File | None:
        """Reopen a partial file made from the same inputs with the same batch size (bit-identical resume)."""
        try:
            handle = h5py.File(self.partial, "r+")
            same = _identity_of(handle) == self.identity and int(handle.attrs["batch_size"]) == self.batch_size
        except (OSError, KeyError, ValueError) as error:
            log.warning("%s is unreadable (%s); starting over", self.partial, error)
            return None
        if not same:
            log.warning("%s was made from other inputs or batch size; starting over", self.partial)
            handle.close()
            return None
        log.info("resuming %s at row %d", self.partial, self.rows_done_of(handle))
        return handle

    @staticmethod
    def rows_done_of(handle: h5py.File) -> int:
        return int(handle.attrs["rows_done"])

    @property
    def rows_done(self) -> int:
        """Rows already written (a resumed file starts here)."""
        return self.rows_done_of(self.handle)

    def write(self, start: int, logits: np.ndarray, features: np.ndarray | None) -> None:
        """Store rows [start, start+len(logits)) and mark them done only after they are flushed."""
        stop = start + len(logits)
        if start != self.rows_done:
            raise CacheError(f"{self.partial}: write at row {start}, but {self.rows_done} rows are done")
        self.handle["logits"][start:stop] = logits
        if features is not None:
            if "features" not in self.handle:
                rows = self.handle["logits"].shape[0]
                chunk = (self.handle["logits"].chunks[0], features.shape[1])
                self.handle.create_dataset("features", (rows, features.shape[1]), dtype="float32", chunks=chunk)
            self.handle["features"][start:stop] = features
        self.handle.flush()
        self.handle.attrs["rows_done"] = stop
        self.handle.flush()

    def finish(self) -> None:
        """Mark complete and atomically rename to the final path."""
        rows = self.handle["logits"].shape[0]
        if self.rows_done != rows:
            raise CacheError(f"{self.partial}: finish() with {self.rows_done}/{rows} rows written")
        self.handle.attrs["complete"] = True
        self.handle.close()
        os.replace(self.partial, self.path)

    def close(self) -> None:
        """Close without finishing (the partial file stays for a later resume)."""
        if self.handle.id.valid:
            self.handle.close()


def pad_label_sets(label_sets: list[tuple[int, ...]]) -> np.ndarray:
    """Multi-label sets as an N x K int array padded with -1 (HDF5 has no ragged ints)."""
    width = max((len(s) for s in label_sets), default=1)
    padded = np.full((len(label_sets), max(width, 1)), -1, dtype=np.int64)
    for row, values in enumerate(label_sets):
        padded[row, :len(values)] = values
    return padded


@dataclass
class CachedOutputs:
    """What a property reads from one cache file (label_sets: N x K, -1 padded, multi-label sets only)."""

    logits: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    features: np.ndarray | None
    identity: dict[str, Any]
    label_sets: np.ndarray | None = None


def _open_complete(path: Path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        hint = " (an unfinished extraction is at .partial; rerun it)" if partial_path(path).exists() else ""
        raise CacheError(f"{path}: cache file does not exist{hint}")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise CacheError(f"{path}: not a readable HDF5 file ({error}); it is truncated or corrupt — "
                         "delete it and rerun the extraction") from error
    if not bool(handle.attrs.get("complete", False)):
        handle.close()
        raise CacheError(f"{path}: cache file is marked incomplete; delete it and rerun the extraction")
    return handle


def _check_expected(path: Path, identity: dict[str, Any], expect: dict[str, Any]) -> None:
    expect = json.loads(json.dumps(expect))
    for key, value in expect.items():
        if identity.get(key) != value:
            raise CacheError(f"{path}: cache was made with {key}={identity.get(key)!r}, expected {value!r}; "
                             "rerun the extraction (snakemake reruns it when inputs change)")


def read_outputs(path: Path, expect: dict[str, Any] | None = None, features: bool = False) -> CachedOutputs:
    """Read a complete cache file, refusing incomplete, truncated or mismatched ones with the reason."""
    with _open_complete(path) as handle:
        try:
            identity = _identity_of(handle)
            rows = handle["logits"].shape[0]
            if int(handle.attrs["rows_done"]) != rows or handle["labels"].shape[0] != rows:
                raise CacheError(f"{path}: {int(handle.attrs['rows_done'])} of {rows} rows written")
            logits = handle["logits"][:]
            labels = handle["labels"][:]
            ids = handle["ids"].asstr()[:]
            feats = handle["features"][:] if features and "features" in handle else None
            label_sets = handle["label_sets"][:] if "label_sets" in handle else None
        except (OSError, KeyError) as error:
            raise CacheError(f"{path}: damaged cache file ({error}); delete it and rerun the extraction") from error
    if features and feats is None:
        raise CacheError(f"{path}: has no features; set 'datasets.<id>.features: true' and rerun the extraction")
    _check_expected(Path(path), identity, expect or {})
    return CachedOutputs(logits, labels, ids, feats, identity, label_sets)


def write_head(path: Path, embeddings: np.ndarray, identity: dict[str, Any]) -> None:
    """Store a zero-shot head (num_classes x dim) atomically."""
    path = Path(path)
    partial = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(partial, "w") as handle:
        handle.create_dataset("embeddings", data=np.asarray(embeddings, dtype=np.float32))
        handle.attrs["identity"] = json.dumps(identity, sort_keys=True)
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["complete"] = True
    os.replace(partial, path)


def read_head(path: Path, expect: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a zero-shot head, checking it was built for the expected model, class names and templates."""
    with _open_complete(path) as handle:
        identity = _identity_of(handle)
        embeddings = handle["embeddings"][:]
    _check_expected(Path(path), identity, expect or {})
    return embeddings, identity
