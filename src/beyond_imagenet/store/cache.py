"""The cache contract (GPU -> CPU): one HDF5 file per extraction job, a group per (dataset key, view).

A job is one model over one dataset (or a part group, or a pack of small sets); each group holds
logits (N x 1000), labels, ids, optional features and label sets, and the identity it was made
from. Files are written to `<file>.partial`, resumable per group, and renamed only when complete.

Integrity: every array carries content digests (store.digests): the row arrays (logits, features, layer
activations) one per block of `block_rows` rows, written with the block and checked before a resume keeps it;
the arrays written whole (labels, label sets, layer rows, ids) one each. `finish()` and every read verify them all,
so a value changed after the fact, a lost block (zeros) or a torn write is refused with the file, the group, the
array and the rows.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .. import __version__
from .digests import DIGEST_BYTES, array_digest, block_count, block_digest, first_bad_block, text_digest
from .scores import has_class_labels, top1, true_class_probability

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: one file per extraction job, a group per (dataset key, view); 3: content digests
PARTIAL_SUFFIX = ".partial"
SCORES = ("argmax", "p_true")  # per-image scores stored beside the logits (store.scores)
SCORE_DTYPES = {"argmax": "int16", "p_true": "float64"}
SPACE_MARGIN_BYTES = 1 << 20  # metadata, checksums and chunk overhead beside a block of rows
STALE_LOCK_S = 120.0  # a writer lock untouched this long, held on another host, belongs to a lost job
PARAMS_DIGEST_KEY = "extraction_params_sha256"  # in a job's identity: the digest of its rule's parameters
MADE_FROM_KEY = "made_from_sha256"  # ... and of those, its input files' stamps and the library versions (teams)


class CacheError(RuntimeError):
    """A cache file is missing, incomplete, corrupt, or was made from something else than expected."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers, recorded in every cache file (read, not imported)."""
    from importlib.metadata import version


    packages = {"torch": "torch", "torchvision": "torchvision", "timm": "timm", "open_clip": "open_clip_torch",
                "h5py": "h5py", "numpy": "numpy", "pillow": "pillow", "simplejpeg": "simplejpeg"}
    return {"beyond_imagenet": __version__, **{name: version(dist) for name, dist in packages.items()}}


def partial_path(path: Path) -> Path:
    """Where an unfinished cache lives until it is complete."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _identity_of(handle: h5py.File) -> dict[str, Any]:
    return json.loads(handle.attrs["identity"])


class CacheFileWriter:
    """One extraction job's cache file: a group per (dataset key, view), written to `<path>.partial`.

    Resumable per group (a group made from the same inputs keeps its rows) and renamed to `path`
    only when every group of the job is complete. A job-level identity or batch size that differs
    from the partial's starts the file over (bit-identical resume needs the same batches).
    """

    def __init__(self, path: Path, identity: dict[str, Any], batch_size: int, lock: WriterLock | None = None) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.batch_size = batch_size
        self.identity = _normalised(identity)
        self.touched: set[str] = set()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = lock if lock is not None else WriterLock(lock_path(self.path))  # given: claimed before (team)
        try:
            self.handle = self._open_or_resume()
        except BaseException:
            self.lock.release()
            raise

    def _open_or_resume(self) -> h5py.File:
        if self.partial.exists():
            handle = self._try_resume()
            if handle is not None:
                return handle
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = h5py.File(self.partial, "w")
        handle.attrs["identity"] = json.dumps(self.identity, sort_keys=True)
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["batch_size"] = self.batch_size
        handle.attrs["complete"] = False
        return handle

    def _try_resume(self) -> h5py.File | None:
        try:
            handle = h5py.File(self.partial, "r+")
        except OSError as error:
            if error.errno == errno.EAGAIN or "unable to lock file" in str(error):
                raise CacheError(f"{self.partial} is open in another process (HDF5 lock): another job is writing "
                                 "this cache; wait for it, or stop it, then rerun") from error
            log.warning("%s is unreadable (%s); starting over", self.partial, error)
            return None
        try:
            same = (_identity_of(handle) == self.identity and int(handle.attrs["batch_size"]) == self.batch_size
                    and int(handle.attrs.get("format_version", 0)) == FORMAT_VERSION)
        except (OSError, KeyError, ValueError) as error:
            log.warning("%s is unreadable (%s); starting over", self.partial, error)
            return None
        if not same:
            log.warning("%s was made by another job, model or batch size; starting over", self.partial)
            handle.close()
            return None
        return handle

    def group(self, dataset_key: str, view: str, ids: list[str], labels: list[int], identity: dict[str, Any],
              label_sets: list[tuple[int, ...]] | None = None, num_classes: int | None = 1000,
              layer_rows: np.ndarray | None = None) -> GroupWriter:
        """The writer of one (dataset key, view) group: resumed when made from the same inputs, else new.
        num_classes None: a backbone's group, features only (no logits)."""
        name = group_name(dataset_key, view)
        self.touched.add(name)
        identity = _normalised(identity)
        if name in self.handle:
            existing = self.handle[name]
            if _identity_of(existing) == identity and _rows_intact(existing, self.partial):
                if int(existing.attrs["rows_done"]):
                    log.info("resuming %s:%s at row %d", self.partial, name, int(existing.attrs["rows_done"]))
                return GroupWriter(self.handle, existing, self.partial, self.lock.touch)
            log.warning("%s:%s was made from other inputs or is damaged; recomputing it", self.partial, name)
            del self.handle[name]
        group = self.handle.create_group(name)
        rows = len(ids)
        if rows == 0:
            raise CacheError(f"{self.partial}:{name}: the dataset lists no image; check its root and format")
        chunk_rows = max(1, min(self.batch_size, rows))
        group.attrs["block_rows"] = chunk_rows  # a block = one write; its digest covers its rows
        if num_classes is not None:
            group.create_dataset("logits", (rows, num_classes), dtype="float32", chunks=(chunk_rows, num_classes))
            # the per-image scores, written with each block of logits; p_true where a label is one ImageNet class
            classes = has_class_labels(identity.get("label_space"), labels, label_sets is not None, num_classes)
            scored = ["argmax"] + (["p_true"] if classes else [])
            for name in ["logits", *scored]:
                group.create_dataset(f"digests/{name}", (block_count(rows, chunk_rows), DIGEST_BYTES), dtype="uint8")
            for name in scored:
                group.create_dataset(name, (rows,), dtype=SCORE_DTYPES[name], chunks=(chunk_rows,))
        whole = {"labels": np.asarray(labels, dtype=np.int64)}
        if label_sets is not None:
            whole["label_sets"] = pad_label_sets(label_sets)
        if layer_rows is not None:  # the rows whose layer activations the group records (sorted)
            whole["layer_rows"] = np.asarray(layer_rows, dtype=np.int64)
        for array_name, data in whole.items():
            group.create_dataset(array_name, data=data)
            group.attrs[f"digest_{array_name}"] = array_digest(data)
        group.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        group.attrs["ids_digest"] = ids_digest(ids)
        group.attrs["identity"] = json.dumps(identity, sort_keys=True)
        group.attrs["rows_done"] = 0
        return GroupWriter(self.handle, group, self.partial, self.lock.touch)

    def alias(self, dataset_key: str, view: str, same_as: str) -> None:
        """Record that `view` of a dataset is computed exactly as `same_as` (one forward pass serves both)."""
        parent = self.handle.require_group(dataset_key)
        aliases = json.loads(parent.attrs.get("aliases", "{}"))
        aliases[view] = same_as
        parent.attrs["aliases"] = json.dumps(aliases, sort_keys=True)
        self.touched.add(group_name(dataset_key, view))

    def finish(self) -> None:
        """Drop groups this job no longer makes, check every group is complete, mark complete, rename."""
        for dataset_key in list(self.handle):
            parent = self.handle[dataset_key]
            for view in list(parent):
                if group_name(dataset_key, view) not in self.touched:
                    del parent[view]
            aliases = {view: same_as for view, same_as in json.loads(parent.attrs.get("aliases", "{}")).items()
                       if group_name(dataset_key, view) in self.touched}
            parent.attrs["aliases"] = json.dumps(aliases, sort_keys=True)
            if not len(parent) and not aliases:
                del self.handle[dataset_key]
        for name in sorted(self.touched):
            if name in self.handle:
                group = self.handle[name]
                done, rows = int(group.attrs["rows_done"]), group["labels"].shape[0]
                if done != rows:
                    raise CacheError(f"{self.partial}:{name}: finish() with {done}/{rows} rows written; delete "
                                     f"{self.partial} and rerun the extraction")
                _check_chunks_written(group, f"{self.partial}:{name}")
                _verify_group(group, f"{self.partial}:{name}", features=True, layers=True, logits=True)
        self.handle.attrs["complete"] = True
        self.handle.close()
        os.replace(self.partial, self.path)
        self.lock.release()

    def close(self) -> None:
        """Close without finishing (the partial file stays for a later resume)."""
        if self.handle.id.valid:
            self.handle.close()
        self.lock.release()


class GroupWriter:
    """Writes logits/features row blocks of one group; rows count as done only after they are flushed."""

    def __init__(self, handle: h5py.File, group: h5py.Group, where: Path,
                 heartbeat: Callable[[], None] = lambda: None) -> None:
        self.handle = handle
        self.group = group
        self.where = f"{where}:{group.name.lstrip('/')}"
        self.heartbeat = heartbeat
        # Held, not looked up per write: HDF5 reports a failed write (a full disk) when a dataset's last
        # handle closes, which for a temporary h5py object happens in __dealloc__, where the error is
        # printed and dropped (and the process later crashed with SIGSEGV).
        self.datasets = {name: group[name] for name in ("logits", "features", *SCORES) if name in group}
        self.labels = group["labels"][:] if "p_true" in group else None  # what p_true is taken at
        self.layer_rows = group["layer_rows"][:] if "layer_rows" in group else None
        self.layer_data = {name: group["layers"][name] for name in group["layers"]} if "layers" in group else {}
        self.digests = {name: group["digests"][name] for name in _digested(group)}
        self.block_rows = int(group.attrs["block_rows"])
        self.path = Path(handle.filename)

    @property
    def rows_done(self) -> int:
        """Rows already written (a resumed group starts here)."""
        return int(self.group.attrs["rows_done"])

    @property
    def num_rows(self) -> int:
        """Rows the group holds when complete."""
        return int(self.group["labels"].shape[0])

    @property
    def blocks(self) -> int:
        """Row blocks of the group (one digest each)."""
        return block_count(self.num_rows, self.block_rows)

    def write(self, start: int, logits: np.ndarray | None, features: np.ndarray | None,
              layers: dict[str, np.ndarray] | None = None) -> None:
        """Store rows [start, start+len(batch)) and mark them done only after they are flushed and on disk.

        logits None: a backbone's group (features only). `layers`: per layer dataset, the pooled activations of
        the batch's rows that are in layer_rows.
        """
        if ("logits" in self.datasets) != (logits is not None) or (logits is None and features is None):
            raise CacheError(f"{self.where}: a write {'without' if logits is None else 'with'} logits to a group "
                             f"{'with' if 'logits' in self.datasets else 'without'} them")
        count = len(logits if logits is not None else features)
        stop = start + count
        if start != self.rows_done:
            raise CacheError(f"{self.where}: write at row {start}, but {self.rows_done} rows are done")
        if start % self.block_rows or (count != self.block_rows and stop != self.num_rows):
            raise CacheError(f"{self.where}: rows {start}..{stop} are not one block of {self.block_rows} rows")
        block = start // self.block_rows
        blocks = {name: data for name, data in (("logits", logits), ("features", features)) if data is not None}
        if "argmax" in self.datasets:
            blocks["argmax"] = top1(logits)
        if "p_true" in self.datasets:
            blocks["p_true"] = true_class_probability(logits, self.labels[start:stop])
        try:
            if features is not None and "features" not in self.datasets:
                chunk = (self.block_rows, features.shape[1])
                self.datasets["features"] = self.group.create_dataset(
                    "features", (self.num_rows, features.shape[1]), dtype="float32", chunks=chunk)
                self.digests["features"] = self._digest_dataset("features", self.blocks)
            for name, data in blocks.items():
                self._require_space(data.nbytes)
                self.datasets[name][start:stop] = data
                self.digests[name][block] = block_digest(data)
            if layers:
                self._write_layers(start, stop, layers, block)
            self.handle.flush()
            os.fsync(self.handle.id.get_vfd_handle())  # a write the disk refused fails here, not later
            self.group.attrs["rows_done"] = stop
            self.handle.flush()
        except CacheError:
            raise
        except (OSError, RuntimeError) as error:
            raise CacheError(f"{self.where}: writing rows {start}..{stop} failed ({error}); the rows are not "
                             "counted — free space and rerun (the extraction resumes)") from error
        self.heartbeat()

    def _digest_dataset(self, name: str, blocks: int) -> h5py.Dataset:
        return self.group.create_dataset(f"digests/{name}", (blocks, DIGEST_BYTES), dtype="uint8")

    def _write_layers(self, start: int, stop: int, layers: dict[str, np.ndarray], block: int) -> None:
        low, high = np.searchsorted(self.layer_rows, [start, stop])
        for name, data in layers.items():
            if name not in self.layer_data:
                chunk = (max(1, min(len(self.layer_rows), 256)), data.shape[1])
                self.layer_data[name] = self.group.require_group("layers").create_dataset(
                    name, (len(self.layer_rows), data.shape[1]), dtype="float32", chunks=chunk)
                self.digests[f"layers/{name}"] = self._digest_dataset(f"layers/{name}", self.blocks)
            if len(data) != high - low:
                raise CacheError(f"{self.where}: {len(data)} layer rows for rows {start}..{stop}, expected {high - low}")
            self._require_space(data.nbytes)
            self.layer_data[name][low:high] = data
            self.digests[f"layers/{name}"][block] = block_digest(data)

    def _require_space(self, nbytes: int) -> None:
        """Refuse a block the file system cannot hold (HDF5 loses such writes instead of raising)."""
        free = shutil.disk_usage(self.path.parent).free
        if free < 2 * nbytes + SPACE_MARGIN_BYTES:
            raise CacheError(f"{self.path.parent}: {free / 1e6:.1f} MB free, a write needs {nbytes / 1e6:.1f} MB "
                             f"(+{SPACE_MARGIN_BYTES / 1e6:.0f} MB margin); free space and rerun (the extraction "
                             "resumes)")


def lock_path(path: Path) -> Path:
    """The lock that says which process writes a cache (beside its partial)."""
    return path.with_name(path.name + PARTIAL_SUFFIX + ".lock")


class WriterLock:
    """One writer per cache file: `<file>.partial.lock` made with O_EXCL, naming host and pid.

    A lock whose process is gone (same host) or that has not been touched for STALE_LOCK_S (another
    host: a lost node) is taken over with a log line; a live one is an error naming the holder, so a
    second run (after --unlock, say) can never truncate a partial that a first one is writing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = False
        for _ in range(2):
            if _create_with_holder(path, f"{socket.gethostname()} {os.getpid()}\n"):
                self.held = True
                return
            self._take_over_if_stale()
        raise CacheError(f"{path}: could not take the writer lock")

    def _take_over_if_stale(self) -> None:
        host, pid, alive = lock_holder(self.path)
        if alive:
            raise CacheError(f"{self.path.with_suffix('')} is being written by process {pid} on {host}; a second "
                             f"writer would corrupt it. Wait for that job, or stop it and delete {self.path}")
        log.warning("taking over the stale writer lock %s (process %s on %s is gone)", self.path, pid, host)
        self.path.unlink(missing_ok=True)

    def touch(self) -> None:
        """Heartbeat: a writer on another host counts as alive while it touches its lock."""
        if self.held:
            os.utime(self.path)

    def release(self) -> None:
        """Remove the lock (idempotent)."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def _create_with_holder(path: Path, holder: str) -> bool:
    """Create the lock file with its holder already in it (a temporary file linked into place: no reader ever sees
    it empty); False when it exists."""
    temporary = path.with_name(f"{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    temporary.write_text(holder)
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then write
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w") as handle:
            handle.write(holder)
        return True
    finally:
        temporary.unlink(missing_ok=True)


def lock_holder(path: Path) -> tuple[str, str, bool]:
    """(host, pid, alive) of a writer lock: alive while its process runs (this host) or it was touched within
    STALE_LOCK_S (another host, or a lock not readable yet)."""
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return "?", "0", False
    try:
        host, pid = path.read_text().split()
    except (OSError, ValueError):
        return "?", "0", age < STALE_LOCK_S
    return host, pid, _pid_alive(int(pid)) if host == socket.gethostname() else age < STALE_LOCK_S


def caches_being_written(folder: Path) -> list[str]:
    """One line per cache under `folder` that a live process writes now (another run's job)."""
    return [f"{lock.with_name(lock.name.removesuffix('.partial.lock'))} (process {pid} on {host})"
            for lock in sorted(Path(folder).rglob("*" + PARTIAL_SUFFIX + ".lock"))
            for host, pid, alive in [lock_holder(lock)] if alive]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ids_digest(ids: Sequence[str]) -> str:
    """Digest of the ids of a group, one per line (strings carry no array digest)."""
    return text_digest(ids)


def _digested(group: h5py.Group) -> list[str]:
    """The row arrays of a group that carry a digest per block (logits, features, layers/<name>)."""
    if "digests" not in group:
        return []
    names = [name for name in group["digests"] if isinstance(group["digests"][name], h5py.Dataset)]
    if "layers" in group["digests"]:
        names += [f"layers/{name}" for name in group["digests"]["layers"]]
    return names


def _block_bounds(group: h5py.Group, name: str, blocks: int) -> np.ndarray | None:
    """Row offsets of each block of an array whose blocks are not every block_rows rows (layers), else None."""
    if not name.startswith("layers/"):
        return None
    block_rows = int(group.attrs["block_rows"])
    return np.searchsorted(group["layer_rows"][:], np.arange(blocks + 1) * block_rows)


def verify_rows(group: h5py.Group, name: str, data: np.ndarray, rows_done: int, where: str) -> None:
    """Check the blocks of `data` (a row array read from `group`) that cover the first `rows_done` rows."""
    block_rows = int(group.attrs["block_rows"])
    blocks = block_count(rows_done, block_rows)
    digests = group["digests"][name][:blocks]
    bad = first_bad_block(data, digests, block_rows, _block_bounds(group, name, blocks))
    if bad is not None:
        raise CacheError(f"{where}/{name}: rows {bad * block_rows}..{min((bad + 1) * block_rows, rows_done)} do not "
                         "match their digest: the file was changed after it was written, or a block of it was lost "
                         "— delete it and rerun the extraction")


def verify_whole(group: h5py.Group, name: str, data: np.ndarray, where: str) -> None:
    """Check an array written whole (labels, label sets, layer rows) against its digest."""
    if array_digest(data) != group.attrs.get(f"digest_{name}"):
        raise CacheError(f"{where}/{name}: does not match its digest: the file was changed after it was written "
                         "— delete it and rerun the extraction")


def _rows_intact(group: h5py.Group, where: Path) -> bool:
    """Whether the rows a partial group claims match their digests (read back before a resume trusts them)."""
    done = int(group.attrs["rows_done"])
    if not 0 <= done <= group["labels"].shape[0]:
        log.warning("%s:%s: claims %d of %d rows done; recomputing it", where, group.name, done,
                    group["labels"].shape[0])
        return False
    try:
        for name in _digested(group):
            recorded = done if not name.startswith("layers/") else int(np.searchsorted(group["layer_rows"][:], done))
            verify_rows(group, name, group[name][:recorded], done, f"{where}:{group.name}")
        for name in ("labels", "label_sets", "layer_rows"):
            if name in group:
                verify_whole(group, name, group[name][:], f"{where}:{group.name}")
    except (OSError, KeyError, CacheError) as error:
        log.warning("%s:%s: written rows fail their check (%s)", where, group.name, error)
        return False
    return True


def _check_chunks_written(group: h5py.Group, where: str) -> None:
    """Every chunk of logits (and features) reached the file: a write lost to a full disk leaves a hole."""
    layer_names = [f"layers/{name}" for name in group["layers"]] if "layers" in group else []
    for name in ("logits", "features", *SCORES, *layer_names):
        if name not in group:
            continue
        data = group[name]
        expected = -(-data.shape[0] // data.chunks[0])
        stored = data.id.get_num_chunks()
        if stored != expected:
            raise CacheError(f"{where}/{name}: {stored} of {expected} chunks are in the file (a write failed, "
                             "e.g. the disk is full); free space and rerun the extraction")


def group_name(dataset_key: str, view: str) -> str:
    """HDF5 path of a (dataset key, view) group inside a job's cache file."""
    return f"{dataset_key}/{view}"


def _normalised(identity: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(identity))  # tuples -> lists etc., so a stored identity compares equal


def pad_label_sets(label_sets: list[tuple[int, ...]]) -> np.ndarray:
    """Multi-label sets as an N x K int array padded with -1 (HDF5 has no ragged ints)."""
    width = max((len(s) for s in label_sets), default=1)
    padded = np.full((len(label_sets), max(width, 1)), -1, dtype=np.int64)
    for row, values in enumerate(label_sets):
        padded[row, :len(values)] = values
    return padded


class CachedOutputs:
    """What a property reads from one cache file (label_sets: N x K, -1 padded, multi-label sets only).

    The logits are read (and verified) when first asked for: a property that needs only each image's top-1 class
    (`argmax`) or its true class's probability (`p_true`) reads those few bytes per image instead (stored by the
    extraction; computed from the logits, to the bit, for a cache made before they were stored).
    """

    def __init__(self, logits: np.ndarray | None, labels: np.ndarray, ids: np.ndarray, features: np.ndarray | None,
                 identity: dict[str, Any], label_sets: np.ndarray | None = None,
                 layers: dict[str, dict[str, np.ndarray]] | None = None, layer_rows: np.ndarray | None = None, *,
                 load_logits: Callable[[], np.ndarray] | None = None, argmax: np.ndarray | None = None,
                 p_true: np.ndarray | None = None) -> None:
        self._logits = logits  # None with no loader: a backbone's group (head: none), features only
        self._load_logits = load_logits
        self.labels = labels
        self.ids = ids
        self.features = features
        self.identity = identity
        self.label_sets = label_sets
        self.layers = layers  # layer name -> {"mean": rows x D, "cls": ...}
        self.layer_rows = layer_rows  # the image rows the layer activations belong to
        self._argmax = argmax
        self._p_true = p_true

    @property
    def logits(self) -> np.ndarray | None:
        """N x 1000 float32 logits (read from the file on first use)."""
        if self._logits is None and self._load_logits is not None:
            self._logits = self._load_logits()
        return self._logits

    @property
    def argmax(self) -> np.ndarray:
        """Each image's top-1 class (stored, else from the logits)."""
        if self._argmax is None:
            self._argmax = top1(self.logits)
        return self._argmax

    @property
    def p_true(self) -> np.ndarray:
        """Each image's softmax probability of its label, float64 (stored, else from the logits); defined where each
        label is one ImageNet class (store.scores.has_class_labels)."""
        if self._p_true is None:
            classes = 0 if self.logits is None else self.logits.shape[1]
            if not has_class_labels(self.identity.get("label_space"), self.labels, self.label_sets is not None,
                                    classes):
                raise ValueError(f"dataset {self.identity.get('dataset')!r}, view {self.identity.get('view')!r}: the "
                                 "true class's probability needs one of the model's classes per image (not a "
                                 "multi-label set, not label_space: none, no label outside the logits)")
            self._p_true = true_class_probability(self.logits, self.labels)
        return self._p_true


def finished_identity(path: Path) -> dict[str, Any] | None:
    """The job identity of a complete cache file; None when it is absent, unfinished or unreadable."""
    try:
        with _open_complete(Path(path)) as handle:
            return _identity_of(handle)
    except (CacheError, OSError, KeyError, ValueError):
        return None


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
    try:
        complete = bool(handle.attrs.get("complete", False)) and int(handle.attrs["format_version"]) == FORMAT_VERSION
        list(handle)  # the root group's links: a damaged root fails here, not later in a property
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        handle.close()
        raise CacheError(f"{path}: damaged cache file ({error!r}); delete it and rerun the extraction") from error
    if not complete:
        handle.close()
        raise CacheError(f"{path}: cache file is marked incomplete or has another format version; delete it and "
                         "rerun the extraction")
    return handle


def _check_expected(path: Path, identity: dict[str, Any], expect: dict[str, Any]) -> None:
    expect = json.loads(json.dumps(expect))
    for key, value in expect.items():
        if identity.get(key) != value:
            raise CacheError(f"{path}: cache was made with {key}={identity.get(key)!r}, expected {value!r}; "
                             "rerun the extraction (snakemake reruns it when inputs change)")


def _views_of(handle: h5py.File, dataset_key: str) -> dict[str, str]:
    """view -> the stored group that holds its outputs (itself, or the view it is an alias of)."""
    parent = handle[dataset_key]
    views = {view: view for view in parent}
    views.update(json.loads(parent.attrs.get("aliases", "{}")))
    return views


def _resolve_group(path: Path, handle: h5py.File, dataset_key: str | None, view: str | None) -> tuple[str, str, str]:
    keys = list(handle)
    if dataset_key is None:
        if len(keys) != 1:
            raise CacheError(f"{path}: holds datasets {keys}; name the one to read")
        dataset_key = keys[0]
    if dataset_key not in handle:
        raise CacheError(f"{path}: has no dataset {dataset_key!r} (it holds {keys}); the file belongs to another "
                         "job — rerun the extraction")
    views = _views_of(handle, dataset_key)
    if view is None:
        if len(views) != 1:
            raise CacheError(f"{path}: dataset {dataset_key!r} has views {sorted(views)}; name the one to read")
        view = next(iter(views))
    if view not in views:
        raise CacheError(f"{path}: dataset {dataset_key!r} has no view {view!r} (it has {sorted(views)}); "
                         "rerun the extraction")
    return dataset_key, view, views[view]


def read_outputs(path: Path, dataset_key: str | None = None, view: str | None = None,
                 expect: dict[str, Any] | None = None, features: bool = False, layers: bool = False,
                 logits: bool = True) -> CachedOutputs:
    """Read one (dataset key, view) of a complete cache file, refusing incomplete, truncated or mismatched ones.

    dataset_key / view may be left out when the file holds only one. The identity returned names
    the requested view; `computed_as` names the view whose forward pass produced it. `logits`: whether the
    reader needs them (a backbone's groups have none: refused, by name, to a reader that does).
    """
    with _open_complete(path) as handle:
        try:
            dataset_key, view, stored = _resolve_group(Path(path), handle, dataset_key, view)
            group = handle[group_name(dataset_key, stored)]
            identity = _identity_of(group)
            rows = group["labels"].shape[0]
            if int(group.attrs["rows_done"]) != rows:
                raise CacheError(f"{path}:{group.name}: {int(group.attrs['rows_done'])} of {rows} rows written")
            if logits and "logits" not in group:
                raise CacheError(f"{path}:{group.name}: holds no logits: model {identity.get('model')!r} has no "
                                 "ImageNet head (head: none); only properties that read features run for it")
            arrays = _verify_group(group, f"{path}:{group.name.lstrip('/')}", features, layers)
            labels, ids = arrays["labels"], arrays["ids"]
            load = _logits_loader(Path(path), group.name, rows, group["digests/logits"][:]) if "logits" in group \
                else None
            feats = arrays.get("features") if features else None
            label_sets = arrays.get("label_sets")
            layer_data, layer_rows = _read_layers(group, arrays) if layers else (None, None)
        except (OSError, KeyError, ValueError) as error:
            raise CacheError(f"{path}: damaged cache file ({error!r}); delete it and rerun the extraction") from error
    if features and feats is None:
        raise CacheError(f"{path}: has no features; set 'datasets.<id>.features: true' and rerun the extraction")
    if layers and layer_data is None:
        raise CacheError(f"{path}:{dataset_key}/{view}: has no layer features; enable "
                         "properties.representation_similarity for this dataset and rerun the extraction")
    dataset_id, _, part = dataset_key.partition(".")
    _check_expected(Path(path), identity, {"dataset": dataset_id, "part": part or None, **(expect or {})})
    identity = {**identity, "view": view, "computed_as": stored}
    return CachedOutputs(None, labels, ids, feats, identity, label_sets, layer_data, layer_rows, load_logits=load,
                         argmax=arrays.get("argmax"), p_true=arrays.get("p_true"))


def _logits_loader(path: Path, name: str, rows: int, digests: np.ndarray) -> Callable[[], np.ndarray]:
    """Reads a group's logits when a property first needs them, checked against the digests the file held when the
    rest of the group was read (a file replaced in between is refused, not mixed with the labels read before)."""
    def load() -> np.ndarray:
        where = f"{path}:{name.lstrip('/')}"
        with _open_complete(path) as handle:
            group = handle[name]
            if not np.array_equal(group["digests/logits"][:], digests):
                raise CacheError(f"{where}/logits: the file was replaced after its labels and ids were read; "
                                 "rerun the job that reads it")
            logits = group["logits"][:]
            verify_rows(group, "logits", logits, rows, where)
        return logits

    return load


def _verify_group(group: h5py.Group, where: str, features: bool, layers: bool, logits: bool = False
                  ) -> dict[str, np.ndarray]:
    """Read a complete group's arrays (features, layers and logits when asked) and check each against its digest.

    A reader leaves the logits to CachedOutputs.logits (read and checked when first used); finish() checks them."""
    rows = group["labels"].shape[0]
    arrays = {"labels": group["labels"][:], "ids": group["ids"].asstr()[:]}
    wanted = [name for name in (*(["logits"] if logits else []), *SCORES) if name in group]
    wanted += ["features"] if features and "features" in group else []
    if layers and "layers" in group:
        wanted += [f"layers/{name}" for name in group["layers"]]
    for name in wanted:
        if name not in arrays:  # read each array once
            arrays[name] = group[name][:]
        verify_rows(group, name, arrays[name], rows, where)
    for name in ("labels", "label_sets", "layer_rows"):
        if name in group:
            if name not in arrays:
                arrays[name] = group[name][:]
            verify_whole(group, name, arrays[name], where)
    if ids_digest(arrays["ids"]) != group.attrs.get("ids_digest"):
        raise CacheError(f"{where}/ids: image ids do not match their digest; the file was changed after it was "
                         "written — delete it and rerun the extraction")
    return arrays


def _read_layers(group: h5py.Group, arrays: dict[str, np.ndarray]
                 ) -> tuple[dict[str, dict[str, np.ndarray]] | None, np.ndarray | None]:
    """Per-layer pooled activations of a group (names from its identity), or (None, None)."""
    if "layers" not in group:
        return None, None
    names = _identity_of(group)["layers"]["names"]
    data: dict[str, dict[str, np.ndarray]] = {}
    for index, name in enumerate(names):
        data[name] = {kind: arrays[f"layers/{index:03d}_{kind}"] for kind in ("mean", "cls")
                      if f"layers/{index:03d}_{kind}" in arrays}
    return data, arrays["layer_rows"]


def merge_parts(caches: Sequence[CachedOutputs]) -> dict[tuple[str, str], CachedOutputs]:
    """Caches grouped by (dataset, view), the parts of a split dataset concatenated in their given order."""
    groups: dict[tuple[str, str], list[CachedOutputs]] = {}
    for cache in caches:
        groups.setdefault((cache.identity["dataset"], cache.identity["view"]), []).append(cache)
    merged = {}
    for key, parts in groups.items():
        if len(parts) == 1:
            merged[key] = parts[0]
            continue
        sets = [p.label_sets for p in parts]
        features = [p.features for p in parts]
        merged[key] = CachedOutputs(
            None, load_logits=_concatenated_logits(parts), argmax=_concatenated(parts, "_argmax"),
            p_true=_concatenated(parts, "_p_true"), labels=np.concatenate([p.labels for p in parts]),
            ids=np.concatenate([p.ids for p in parts]),
            features=None if any(f is None for f in features) else np.concatenate(features),
            identity={**parts[0].identity, "part": None, "parts": [p.identity.get("part") for p in parts]},
            label_sets=None if any(s is None for s in sets) else _concat_padded(sets))
    return merged


def _concatenated_logits(parts: Sequence[CachedOutputs]) -> Callable[[], np.ndarray] | None:
    """The parts' logits in order, read when first used; None for a backbone's parts."""
    if any(p._logits is None and p._load_logits is None for p in parts):
        return None
    return lambda: np.concatenate([p.logits for p in parts])


def _concatenated(parts: Sequence[CachedOutputs], field: str) -> np.ndarray | None:
    """A per-image score of every part, where every part has it stored."""
    values = [getattr(p, field) for p in parts]
    return None if any(v is None for v in values) else np.concatenate(values)


def _concat_padded(sets: list[np.ndarray]) -> np.ndarray:
    width = max(s.shape[1] for s in sets)
    return np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1])), constant_values=-1) for s in sets])


def write_head(path: Path, embeddings: np.ndarray, identity: dict[str, Any]) -> None:
    """Store a zero-shot head (num_classes x dim) atomically."""
    path = Path(path)
    partial = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if not np.isfinite(embeddings).all():
        raise CacheError(f"{path}: the zero-shot head has non-finite values (row {int(np.argwhere(~np.isfinite(embeddings))[0][0])}); "
                         "the text tower's weights are broken — check the checkpoint")
    with h5py.File(partial, "w") as handle:
        handle.create_dataset("embeddings", data=embeddings)
        handle.attrs["digest_embeddings"] = array_digest(embeddings)
        handle.attrs["identity"] = json.dumps(identity, sort_keys=True)
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["complete"] = True
    os.replace(partial, path)


def read_head(path: Path, expect: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a zero-shot head, checking it was built for the expected model, class names and templates."""
    with _open_complete(path) as handle:
        identity = _identity_of(handle)
        embeddings = handle["embeddings"][:]
        if array_digest(embeddings) != handle.attrs.get("digest_embeddings"):
            raise CacheError(f"{path}: the zero-shot head does not match its digest: the file was changed after it "
                             "was written — delete it and rerun (snakemake rebuilds it)")
    _check_expected(Path(path), identity, expect or {})
    return embeddings, identity
