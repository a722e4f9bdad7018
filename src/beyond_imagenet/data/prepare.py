"""Download, verify and unpack the public datasets (`snakemake prepare_data`); verify the ones that need a login.

Nothing that looks complete is left after a failure: a download goes to `<file>.partial` and is renamed only
when its size and published checksum match; archives unpack into `<root>.unpacking`, which becomes the dataset
root only after the image and per-folder counts match; the manifest (the rule's output) is written last.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ..catalog.public_datasets import (
    DATASET_SOURCES,
    REAL_EMPTY_LISTS,
    REAL_LABELS,
    REAL_LABELS_PATH,
    DatasetSource,
    Download,
    Expected,
)
from ..catalog.roles import vtab_task_of
from ..config.needs import is_generated, needed_datasets
from ..config.specs import DatasetSpec, dataset_specs
from .formats import list_samples
from .manifest import write_manifest
from .samples import DatasetFormatError

log = logging.getLogger(__name__)
CHUNK = 1 << 20
MANIFEST_VERSION = 1


class PrepareError(RuntimeError):
    """A download, checksum, archive or count does not match what the dataset's publisher states."""


@dataclass(frozen=True)
class PrepareSettings:
    """Where archives go and where they come from (`prepare:` in the config)."""

    downloads: Path = Path("resources/downloads")
    mirror: str | None = None  # a base URL serving the same files by name (a site mirror; the tests' server)
    timeout_s: float = 60.0


def source_url(item: Download, settings: PrepareSettings) -> str:
    """The URL a file is fetched from: its pinned URL, or the same file name under the configured mirror."""
    return f"{settings.mirror.rstrip('/')}/{item.file_name}" if settings.mirror else item.url


def file_digests(path: Path) -> dict[str, str]:
    """sha256 and md5 of a file, read once."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            sha256.update(block)
            md5.update(block)
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def verify_download(path: Path, item: Download, url: str, advice: str = "") -> dict[str, Any]:
    """Check size and every published checksum of a downloaded file; the record of what was checked."""
    size = path.stat().st_size
    if item.size is not None and size != item.size:
        raise PrepareError(f"{url}: {path} has {size:,} bytes, expected {item.size:,} (truncated or another "
                           f"version){advice}")
    digests = file_digests(path)
    checked = {}
    for algorithm in ("sha256", "md5"):
        expected = getattr(item, algorithm)
        if expected is None:
            continue
        if digests[algorithm] != expected:
            raise PrepareError(f"{url}: {algorithm} of {path} is {digests[algorithm]}, expected {expected} "
                               f"({item.checksum_source}){advice}")
        checked[algorithm] = expected
    return {"url": url, "file": item.file_name, "bytes": size, "checked": checked, **digests,
            "checksum_source": item.checksum_source}


def _require_space(folder: Path, needed: int | None, what: str) -> None:
    if needed is None:
        return
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise PrepareError(f"{what}: needs {needed / 1e9:.1f} GB, {folder} has {free / 1e9:.1f} GB free")


def fetch(item: Download, settings: PrepareSettings) -> dict[str, Any]:
    """Fetch one file and verify it before it takes its name; a file already in the downloads folder is checked."""
    settings.downloads.mkdir(parents=True, exist_ok=True)
    target = settings.downloads / item.file_name
    url = source_url(item, settings)
    if target.exists():
        return verify_download(target, item, url, "; delete it to download again")
    _require_space(settings.downloads, item.size, url)
    partial = target.with_name(target.name + ".partial")
    try:
        _stream(url, partial, settings.timeout_s)
        record = verify_download(partial, item, url, " (the download was deleted)")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return record


def _stream(url: str, dest: Path, timeout_s: float) -> None:
    """Copy a URL to a file, refusing a web page where an archive was expected (Google Drive's confirm page)."""
    started = time.monotonic()
    try:
        response = urllib.request.urlopen(url, timeout=timeout_s)  # pinned https URLs, or the configured mirror
    except (urllib.error.URLError, OSError) as error:
        raise PrepareError(f"{url}: download failed ({error}); put the file into the downloads folder by hand "
                           "to use it instead") from None
    with response, open(dest, "wb") as out:
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("text/html") and not dest.name.removesuffix(".partial").endswith(".html"):
            raise PrepareError(f"{url}: the server sent a web page, not the file (Google Drive asks to confirm "
                               f"large downloads); download it in a browser to {dest.with_suffix('')} and rerun: "
                               "a file already there is verified and used")
        copied = 0
        try:
            while block := response.read(CHUNK):
                out.write(block)
                copied += len(block)
            out.flush()
            os.fsync(out.fileno())
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise PrepareError(f"{url}: the download stopped after {copied:,} bytes ({error}); rerun to download "
                                   "it again") from None
            raise PrepareError(f"{url}: writing {dest} failed after {copied:,} bytes: {error.strerror} — free space in "
                               f"{dest.parent} (or set prepare.downloads to a bigger disk) and rerun") from None
    log.info("%s: %.1f MB in %.0f s", url, copied / 1e6, time.monotonic() - started)


@dataclass(frozen=True)
class UnpackLimits:
    """What an archive of a published set may hold: a hostile or wrong archive (junk members, one huge member) is
    refused before anything is written."""

    max_bytes: int
    max_members: int


def unpack_limits(source: DatasetSource, archives: list[Path]) -> UnpackLimits:
    """Limits from the published size and counts: unpacked bytes at most 4x the archives (images barely compress),
    members at most the published images and folders plus 5% and 1,000 (license files, extras)."""
    packed = sum(path.stat().st_size for path in archives)
    images = max(source.expected.images or 0, source.expected.archive_files or 0)
    folders = 2 * (source.expected.groups or 0) + len(source.expected.top_level)
    return UnpackLimits(max_bytes=4 * packed + (1 << 20), max_members=int(1.05 * (images + folders)) + 1_000)


def _tar_members(handle: tarfile.TarFile, archive: Path, limits: UnpackLimits) -> list[tarfile.TarInfo]:
    """The archive's members, refused unless each is a regular file or a folder inside it, within the limits."""
    members, total = [], 0
    for member in handle:
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise PrepareError(f"{archive}: member {member.name!r} points outside the archive; refused")
        if not (member.isreg() or member.isdir()):
            kind = "a link" if member.issym() or member.islnk() else "a device, pipe or other special file"
            raise PrepareError(f"{archive}: member {member.name!r} is {kind}; a dataset archive holds only files and "
                               "folders — this is not the published archive, delete it")
        members.append(member)
        total += member.size
        _check_limits(archive, len(members), total, limits)
    return members


def _check_limits(archive: Path, members: int, total: int, limits: UnpackLimits) -> None:
    if members > limits.max_members or total > limits.max_bytes:
        raise PrepareError(f"{archive}: holds more than {limits.max_members:,} members or {limits.max_bytes:,} "
                           "unpacked bytes, far beyond the published set; this is not the published archive, delete it")


def _zip_members(handle: zipfile.ZipFile, archive: Path, limits: UnpackLimits) -> None:
    total = 0
    for count, info in enumerate(handle.infolist(), start=1):
        name = Path(info.filename)
        if name.is_absolute() or ".." in name.parts:
            raise PrepareError(f"{archive}: member {info.filename!r} points outside the archive; refused")
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded (a plain file or folder)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise PrepareError(f"{archive}: member {info.filename!r} is a link or special file; a dataset archive "
                               "holds only files and folders — this is not the published archive, delete it")
        total += info.file_size
        _check_limits(archive, count, total, limits)


def unpack(archive: Path, into: Path, limits: UnpackLimits | None = None) -> None:
    """Unpack a tar (any compression) or zip archive: regular files and folders only (tarfile's `data` filter too),
    within the limits; a truncated or corrupt archive is an error naming it, a full disk says so."""
    limits = limits or UnpackLimits(max_bytes=1 << 62, max_members=1 << 62)
    into.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                _zip_members(handle, archive, limits)
                handle.extractall(into)
            return
        with tarfile.open(archive) as handle:
            handle.extractall(into, members=_tar_members(handle, archive, limits), filter="data")
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise PrepareError(f"{archive}: unpacking into {into} failed: {error.strerror} — free space there and "
                               "rerun (the archive is kept and verified again, not downloaded)") from None
        raise PrepareError(f"{archive}: cannot unpack ({error}): truncated or not an archive; delete it to "
                           "download again") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
        raise PrepareError(f"{archive}: cannot unpack ({error}): truncated or not an archive; delete it to "
                           "download again") from None


def _ignored(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def content_root(staging: Path) -> Path:
    """The folder that holds the data: descend through wrapper folders that are the only entry at their level."""
    here = staging
    while True:
        entries = [e for e in os.scandir(here) if not _ignored(e.name)]
        folders = [e for e in entries if e.is_dir()]
        if len(folders) != 1 or len(entries) != 1:
            return here
        here = Path(folders[0].path)


def _group_of(sample_id: str, label: int) -> str:
    return sample_id.rsplit("/", 1)[0] if "/" in sample_id else str(label)


def count_samples(spec: DatasetSpec, root: Path) -> dict[str, Any]:
    """Images, leaf folders and images per leaf folder of the whole published set, read by the dataset's lister."""
    whole = DatasetSpec(id=spec.id, format=spec.format, root=str(root), label_file=spec.label_file,
                        unlabelled_images="error")
    try:
        samples = list_samples(whole)
    except (DatasetFormatError, OSError) as error:
        raise PrepareError(f"dataset {spec.id!r}: {error}") from None
    groups = Counter(_group_of(i, label) for i, label in zip(samples.ids, samples.labels, strict=True))
    return {"images": len(samples.ids), "groups": len(groups), "min_per_group": min(groups.values()),
            "max_per_group": max(groups.values()),
            "ids_sha256": hashlib.sha256("\n".join(samples.ids).encode()).hexdigest()}


def check_counts(name: str, counts: dict[str, Any], expected: Expected, where: Path) -> None:
    """Refuse a copy whose counts differ from the published ones, naming each difference."""
    problems = []
    if expected.images is not None and counts["images"] != expected.images:
        problems.append(f"{counts['images']:,} images, expected {expected.images:,}")
    if expected.groups is not None and counts["groups"] != expected.groups:
        problems.append(f"{counts['groups']:,} image folders, expected {expected.groups:,}")
    if expected.per_group is not None and not counts["min_per_group"] == counts["max_per_group"] == expected.per_group:
        problems.append(f"{counts['min_per_group']}-{counts['max_per_group']} images per folder, expected "
                        f"{expected.per_group}")
    if problems:
        raise PrepareError(f"dataset {name!r} at {where}: " + "; ".join(problems) + " (an incomplete download or "
                           "another version of the data)")


def verified_counts(source: DatasetSource, spec: DatasetSpec, root: Path) -> dict[str, Any]:
    """The counts of a copy at `root`, after checking its top folders; refused unless they are the published ones."""
    if not root.is_dir():
        raise PrepareError(f"dataset {source.name!r}: {root} is not a directory")
    top = {e.name for e in os.scandir(root) if e.is_dir() and not _ignored(e.name)}
    missing = sorted(set(source.expected.top_level) - top)
    if missing:
        raise PrepareError(f"dataset {source.name!r} at {root}: missing top folders {missing} (found "
                           f"{sorted(top)[:20]}): an archive is missing or another version of the data")
    counts = count_samples(spec, root)
    check_counts(source.name, counts, source.expected, root)
    return counts


def verify_existing(source: DatasetSource, spec: DatasetSpec) -> dict[str, Any]:
    """Counts of a dataset already in place (put there by hand or by an earlier prepare), checked."""
    return verified_counts(source, spec, Path(spec.root))


def found_in_place(source: DatasetSource, spec: DatasetSpec) -> dict[str, Any] | None:
    """The record of a complete copy already at the root; None when there is none; an incomplete one is refused
    (never overwritten)."""
    root = Path(spec.root)
    if not root.exists():
        return None
    try:
        return {"counts": verify_existing(source, spec), "downloads": [], "found_in_place": True}
    except PrepareError as error:
        raise PrepareError(f"{error}. {root} already exists but is not a complete copy; move it away and rerun to "
                           "download it again") from None


def prepare_archive(source: DatasetSource, spec: DatasetSpec, settings: PrepareSettings) -> dict[str, Any]:
    """Fetch and verify every archive, unpack them together, check counts, and only then move into the root."""
    root = Path(spec.root)
    if (present := found_in_place(source, spec)) is not None:
        return present
    records = [fetch(item, settings) for item in source.downloads]
    archives = [settings.downloads / item.file_name for item in source.downloads]
    staging = root.with_name(root.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    limits = unpack_limits(source, archives)
    try:
        for archive in archives:
            unpack(archive, staging, limits)
        data = content_root(staging)
        try:
            counts = verified_counts(source, spec, data)
        except PrepareError as error:  # the staging folder it names is gone by now: say which files to remove
            raise PrepareError(f"{error} — the archive(s) {[str(a) for a in archives]} hold another version of the "
                               "data or are incomplete: delete them and rerun to download the published ones") from None
        root.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"counts": counts, "downloads": records, "found_in_place": False}


def check_real_labels(path: Path) -> dict[str, Any]:
    """ReaL's real.json: 50,000 lists of class indices, 3,163 of them empty (Beyer et al. 2020)."""
    try:
        labels = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise PrepareError(f"{path}: not ReaL's real.json ({error})") from None
    empty = sum(1 for entry in labels if not entry) if isinstance(labels, list) else -1
    if not isinstance(labels, list) or len(labels) != 50_000 or empty != REAL_EMPTY_LISTS:
        raise PrepareError(f"{path}: expected 50,000 label lists ({REAL_EMPTY_LISTS:,} empty), found "
                           f"{len(labels) if isinstance(labels, list) else type(labels).__name__} ({empty} empty)")
    return {"images": len(labels), "empty_lists": empty}


def prepare_file(source: DatasetSource, target: Path, settings: PrepareSettings) -> dict[str, Any]:
    """Fetch one file, verify its checksum and content, and copy it to its place (atomically)."""
    (item,) = source.downloads
    record = fetch(item, settings)
    counts = check_real_labels(settings.downloads / item.file_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(settings.downloads / item.file_name, partial)
    os.replace(partial, target)
    return {"counts": counts, "downloads": [record], "found_in_place": False}


class Hub(Protocol):
    """The two hub calls a snapshot needs (huggingface_hub in a run, a local fake in the tests)."""

    def resolve(self, repo_id: str, revision: str) -> tuple[str, dict[str, tuple[int, str | None]]]:
        """(commit sha, {file path: (size, LFS sha256 or None)}) of a dataset repo at a revision."""

    def download(self, repo_id: str, commit: str, path: str, into: Path) -> Path:
        """Download one file of the repo at a commit into a folder; its local path."""


class HuggingFaceHub:
    """Hub access through huggingface_hub (installed with timm)."""

    def resolve(self, repo_id: str, revision: str) -> tuple[str, dict[str, tuple[int, str | None]]]:
        from huggingface_hub import HfApi

        info = HfApi().dataset_info(repo_id, revision=revision, files_metadata=True)
        return info.sha, {s.rfilename: (s.size, s.lfs.sha256 if s.lfs else None) for s in info.siblings}

    def download(self, repo_id: str, commit: str, path: str, into: Path) -> Path:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, path, repo_type="dataset", revision=commit, local_dir=into))


def prepare_hub(source: DatasetSource, spec: DatasetSpec, revision: str, hub: Hub) -> dict[str, Any]:
    """A hub dataset's parquet files at one commit, each checked against the hub's sha256, then counted."""
    root = Path(spec.root)
    commit, files = hub.resolve(source.repo_id, revision)
    parquet = sorted(p for p in files if p.endswith(".parquet"))
    if not parquet:
        raise PrepareError(f"{source.repo_id}@{commit}: no parquet files in the repository")
    if (present := found_in_place(source, spec)) is not None:
        return {**present, "revision": revision, "commit": commit}
    staging = root.with_name(root.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    records = []
    try:
        for path in parquet:
            local = hub.download(source.repo_id, commit, path, staging)
            size, sha256 = files[path]
            item = Download(f"hf://datasets/{source.repo_id}@{commit}/{path}", Path(path).name, size, sha256=sha256,
                            checksum_source="the hub's LFS sha256 of the file at that commit")
            records.append(verify_download(local, item, item.url))
        shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
        data = staging  # hf_parquet reads the snapshot as the hub lays it out
        if spec.format == "parquet_multilabel":  # which reads the *.parquet files of one folder
            data = staging / "parquet"
            data.mkdir()
            for path in parquet:
                os.replace(staging / path, data / Path(path).name)
        counts = verified_counts(source, spec, data)
        root.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"counts": counts, "downloads": records, "found_in_place": False, "revision": revision, "commit": commit}


def verify_manual(source: DatasetSource, spec: DatasetSpec) -> dict[str, Any]:
    """A dataset behind a login: check it is in place and complete, or say what to download and where."""
    if not Path(spec.root).exists():
        raise PrepareError(f"dataset {source.name!r}: {spec.root} does not exist. {source.how_to_get} "
                           f"(set 'datasets.{spec.id}.root' if it is elsewhere)")
    return {"counts": verify_existing(source, spec), "downloads": [], "found_in_place": True}


def prepare(name: str, spec: DatasetSpec | None, settings: PrepareSettings, revision: str = "main",
            real_labels_path: Path | None = None, hub: Hub | None = None,
            sources: dict[str, DatasetSource] = DATASET_SOURCES) -> dict[str, Any]:
    """Prepare (or verify) one entry of the sources table (a role) for the config dataset it fills; the manifest record."""
    source = sources[name]
    handlers: dict[str, Callable[[], dict[str, Any]]] = {
        "archive": lambda: prepare_archive(source, spec, settings),
        "manual": lambda: verify_manual(source, spec),
        "hub": lambda: prepare_hub(source, spec, revision, hub or HuggingFaceHub()),
        "file": lambda: prepare_file(source, real_labels_path, settings),
    }
    if spec is not None and spec.format not in ("parquet_multilabel", "hf_parquet") and source.kind == "hub":
        raise PrepareError(f"dataset {spec.id!r}: a hub snapshot is read as format parquet_multilabel or hf_parquet, "
                           f"not {spec.format!r}")
    started = time.monotonic()
    record = handlers[source.kind]()
    where = str(real_labels_path) if source.kind == "file" else spec.root
    return {"manifest_version": MANIFEST_VERSION, "name": name, "kind": source.kind, "path": where,
            "homepage": source.homepage, "expected": asdict(source.expected), **record,
            "seconds": round(time.monotonic() - started, 1)}


def settings_from_config(config: dict[str, Any]) -> PrepareSettings:
    """The `prepare:` section of a config."""
    section = config.get("prepare", {})
    return PrepareSettings(Path(section.get("downloads", "resources/downloads")), section.get("mirror"),
                           float(section.get("timeout_s", 60)))


def _needed_real_datasets(config: dict[str, Any]) -> list[DatasetSpec]:
    specs = dataset_specs(config)
    return [specs[d] for d in needed_datasets(config) if not is_generated(Path(specs[d].root), config)]


def preparable(config: dict[str, Any]) -> list[str]:
    """What the prepare_dataset rule covers: each needed dataset whose role the sources table knows (by its id; not a
    generated one), and ReaL's labels."""
    names = [spec.id for spec in _needed_real_datasets(config) if spec.role in DATASET_SOURCES]
    return names + ([REAL_LABELS] if "demo" not in config else [])


def vtab_preparable(config: dict[str, Any]) -> list[str]:
    """The dataset ids the prepare_vtab rule exports: each needed dataset whose role is one of the 19 VTAB tasks."""
    return [spec.id for spec in _needed_real_datasets(config) if vtab_task_of(spec.role) is not None]


def vtab_settings(config: dict[str, Any], dataset_id: str) -> dict[str, str]:
    """Interpreter, tfds folders, task and root of one prepare_vtab job."""
    section = config.get("prepare", {})
    spec = dataset_specs(config)[dataset_id]
    return {"python": section.get("vtab_python", ".venv-vtab/bin/python"),
            "data_dir": section.get("tfds_dir", "resources/tfds"),
            "manual_dir": section.get("tfds_manual_dir", "resources/downloads/manual"),
            "task": vtab_task_of(spec.role), "root": spec.root}


def real_labels_target(config: dict[str, Any]) -> Path:
    """Where ReaL's real.json goes: the configured path, or resources/data/real.json for `package`."""
    value = config.get("properties", {}).get("robustness", {}).get("real_labels", "package")
    return Path(REAL_LABELS_PATH if value == "package" else value)


def run_prepare(name: str, config: dict[str, Any], manifest: Path) -> None:
    """The prepare_dataset job: prepare one dataset (by id) or ReaL's labels, and write its manifest."""
    spec = dataset_specs(config).get(name)
    source = REAL_LABELS if spec is None else spec.role  # a dataset is prepared from the source of its role
    record = prepare(source, spec, settings_from_config(config), spec.revision if spec else "main",
                     real_labels_target(config))
    write_manifest(manifest, {**record, "dataset": name})
    log.info("%s: %s images verified at %s", name, record["counts"]["images"], record["path"])
