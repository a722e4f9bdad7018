"""Data preparation against a local HTTP server serving small generated archives (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PIL import Image

from beyond_imagenet.catalog.labels import imagenet_wnids
from beyond_imagenet.catalog.public_datasets import DATASET_SOURCES, REAL_LABELS, DatasetSource, Download, Expected
from beyond_imagenet.config.specs import DatasetSpec, dataset_specs
from beyond_imagenet.data.prepare import PrepareError, PrepareSettings, preparable, prepare, write_manifest
from beyond_imagenet.data.vtab_export import VTAB_TASKS

from ..conftest import REPO

WNIDS = list(imagenet_wnids()[:2])


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    return _tar_with(None, files)


def _wnid_files(wrapper: str, per_class: int) -> dict[str, bytes]:
    return {f"{wrapper}/{w}/img_{i}.JPEG": _png(i) for w in WNIDS for i in range(per_class)}


class _Server:
    """A local HTTP server over a folder; `html` names files served as a web page (Google Drive's confirm page)."""

    def __init__(self, folder: Path) -> None:
        self.html: set[str] = set()
        html = self.html

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def guess_type(self, path):
                return "text/html" if Path(path).name in html else "application/octet-stream"

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, _Server]]:
    folder = tmp_path / "served"
    folder.mkdir()
    server = _Server(folder)
    yield folder, server
    server.close()


def _source(data: bytes, name: str = "imagenet_a", expected: Expected | None = None, **checks) -> DatasetSource:
    digests = {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest(),
               "size": len(data)}
    digests.update(checks)
    item = Download(f"https://example.invalid/{name}.tar.gz", f"{name}.tar.gz", checksum_source="test", **digests)
    return DatasetSource(name, "archive", (item,), expected or Expected(images=6, groups=2, per_group=3))


def _spec(tmp_path: Path, fmt: str = "imagefolder_wnid", name: str = "imagenet_a") -> DatasetSpec:
    return DatasetSpec(id=name, format=fmt, root=str(tmp_path / "data" / name))


def _settings(tmp_path: Path, server: _Server) -> PrepareSettings:
    return PrepareSettings(downloads=tmp_path / "downloads", mirror=server.url, timeout_s=10)


def _nothing_complete_left(tmp_path: Path, spec: DatasetSpec) -> None:
    assert not Path(spec.root).exists()
    assert not list((tmp_path / "data").glob("*.unpacking")) if (tmp_path / "data").exists() else True
    assert not list((tmp_path / "downloads").glob("*.partial"))


def test_an_archive_is_downloaded_verified_unpacked_and_counted(tmp_path, served):
    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3) | {"imagenet-a/README.txt": b"readme"})
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec, source = _spec(tmp_path), _source(data)
    record = prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": source})
    # the wrapper folder is descended; labels come from the format's own lister
    assert sorted(p.name for p in Path(spec.root).iterdir()) == sorted(WNIDS + ["README.txt"])
    assert record["counts"]["images"] == 6 and record["counts"]["groups"] == 2
    (download,) = record["downloads"]
    assert download["sha256"] == hashlib.sha256(data).hexdigest() and download["checked"].keys() == {"sha256", "md5"}
    assert download["url"] == f"{server.url}/imagenet_a.tar.gz" and not record["found_in_place"]
    server.close()  # a second prepare verifies what is there, with no network
    again = prepare("imagenet_a", spec, PrepareSettings(downloads=tmp_path / "downloads", mirror="http://127.0.0.1:9"),
                    sources={"imagenet_a": source})
    assert again["found_in_place"] and again["counts"]["ids_sha256"] == record["counts"]["ids_sha256"]


def test_a_wrong_checksum_names_the_url_and_both_values_and_leaves_nothing(tmp_path, served):
    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec = _spec(tmp_path)
    source = _source(data, sha256="0" * 64)
    with pytest.raises(PrepareError) as error:
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": source})
    said = str(error.value)
    assert f"{server.url}/imagenet_a.tar.gz" in said and "0" * 64 in said
    assert hashlib.sha256(data).hexdigest() in said and "test" in said  # where the checksum comes from
    _nothing_complete_left(tmp_path, spec)
    assert not (tmp_path / "downloads/imagenet_a.tar.gz").exists()


def test_a_truncated_download_is_refused_by_its_size(tmp_path, served):
    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data[: len(data) // 2])
    spec = _spec(tmp_path)
    with pytest.raises(PrepareError, match=f"has {len(data) // 2:,} bytes, expected {len(data):,}"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    _nothing_complete_left(tmp_path, spec)


def test_a_truncated_archive_without_a_published_checksum_fails_to_unpack(tmp_path, served):
    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data[: len(data) - 40])
    spec = _spec(tmp_path)
    source = _source(data, size=None, sha256=None, md5=None)  # like cue-conflict and PUG: counts only
    with pytest.raises(PrepareError, match="cannot unpack .*truncated"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": source})
    _nothing_complete_left(tmp_path, spec)


def test_a_wrong_count_is_refused_with_both_counts(tmp_path, served):
    folder, server = served
    files = _wnid_files("imagenet-a", 3)
    files.pop(next(iter(files)))  # one image short
    data = _tar_gz(files)
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec = _spec(tmp_path)
    with pytest.raises(PrepareError, match="5 images, expected 6; 2-3 images per folder, expected 3"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    _nothing_complete_left(tmp_path, spec)


def test_an_incomplete_root_already_there_is_not_overwritten(tmp_path, served):
    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec = _spec(tmp_path)
    mine = Path(spec.root) / WNIDS[0] / "mine.JPEG"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(_png(0))
    with pytest.raises(PrepareError, match="already exists but is not a complete copy"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    assert mine.read_bytes() == _png(0) and len(list(Path(spec.root).rglob("*.JPEG"))) == 1


def test_a_web_page_instead_of_the_archive_says_how_to_download_by_hand(tmp_path, served):
    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(b"<html>confirm</html>")
    server.html.add("imagenet_a.tar.gz")
    spec = _spec(tmp_path)
    with pytest.raises(PrepareError, match="sent a web page.*download it in a browser"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    _nothing_complete_left(tmp_path, spec)
    # put there by hand, the archive is verified and used without the network
    (tmp_path / "downloads/imagenet_a.tar.gz").write_bytes(data)
    offline = PrepareSettings(downloads=tmp_path / "downloads", mirror="http://127.0.0.1:9")
    record = prepare("imagenet_a", spec, offline, sources={"imagenet_a": _source(data)})
    assert record["counts"]["images"] == 6 and record["downloads"][0]["checked"]["sha256"]


def test_zip_archives_and_several_archives_into_one_root(tmp_path, served):
    folder, server = served
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in _wnid_files("sketch", 2).items():
            archive.writestr(name, data)
    zipped = buffer.getvalue()
    (folder / "sketch.zip").write_bytes(zipped)
    spec = _spec(tmp_path, name="imagenet_sketch")
    source = DatasetSource("imagenet_sketch", "archive", (Download("https://x.invalid/s.zip", "sketch.zip", len(zipped),
                        sha256=hashlib.sha256(zipped).hexdigest()),), Expected(images=4, groups=2, per_group=2))
    record = prepare("imagenet_sketch", spec, _settings(tmp_path, server), sources={"imagenet_sketch": source})
    assert record["counts"]["images"] == 4
    # ImageNet-C: four archives unpack side by side; the 15 corruption folders must all be there
    parts = {}
    for part, corruptions in (("blur", ["defocus_blur"]), ("noise", ["gaussian_noise"])):
        files = {f"{c}/{s}/{w}/x.JPEG": _png(s) for c in corruptions for s in (1, 2) for w in WNIDS}
        parts[part] = _tar_gz(files)
        (folder / f"{part}.tar").write_bytes(parts[part])
    downloads = tuple(Download(f"https://x.invalid/{p}.tar", f"{p}.tar", md5=hashlib.md5(d).hexdigest())
                      for p, d in parts.items())
    c_spec = DatasetSpec(id="imagenet_c", format="imagenet_c", root=str(tmp_path / "data/imagenet-c"),
                         corruptions=("defocus_blur", "gaussian_noise"), severities=(1, 2))
    c_source = DatasetSource("imagenet_c", "archive", downloads,
                          Expected(images=8, groups=8, per_group=1, top_level=("defocus_blur", "gaussian_noise", "fog")))
    with pytest.raises(PrepareError, match=r"missing top folders \['fog'\]"):
        prepare("imagenet_c", c_spec, _settings(tmp_path, server), sources={"imagenet_c": c_source})
    c_source = DatasetSource("imagenet_c", "archive", downloads,
                          Expected(images=8, groups=8, per_group=1, top_level=("defocus_blur", "gaussian_noise")))
    # counted over the whole published set: the 15 benchmark corruptions, whatever the config selects
    with pytest.raises(PrepareError, match="imagenet_c"):
        prepare("imagenet_c", c_spec, _settings(tmp_path, server), sources={"imagenet_c": c_source})


def test_real_json_is_fetched_and_checked_against_the_pinned_sha256(tmp_path, served):
    """The table's real entry, end to end: timm's byte copy of real.json has the published checksum."""
    import timm

    folder, server = served
    real = Path(timm.__file__).parent / "data/_info/imagenet_real_labels.json"
    (folder / "real.json").write_bytes(real.read_bytes())
    target = tmp_path / "data/real.json"
    record = prepare(REAL_LABELS, None, _settings(tmp_path, server), real_labels_path=target)
    assert target.read_bytes() == real.read_bytes()
    assert record["counts"] == {"images": 50_000, "empty_lists": 3_163}
    assert "25ae4854f875bbae6782fd9ea4a18654f6c89c6c" in DATASET_SOURCES[REAL_LABELS].downloads[0].url  # a commit


def test_a_hub_snapshot_is_checked_file_by_file_and_records_its_commit(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = {}
    for index in range(2):
        table = pa.table({"image": [{"bytes": _png(i), "path": None} for i in range(3)],
                          "label": [[index, 5], [7], [999]]})
        sink = io.BytesIO()
        pq.write_table(table, sink)
        shards[f"data/validation-0000{index}-of-00002.parquet"] = sink.getvalue()

    class FakeHub:
        def __init__(self, tamper: bool = False) -> None:
            self.tamper = tamper

        def resolve(self, repo_id, revision):
            files = {p: (len(d), hashlib.sha256(d).hexdigest()) for p, d in shards.items()}
            return "abc123" * 6 + "abcd", files | {"README.md": (10, None)}

        def download(self, repo_id, commit, path, into):
            local = into / path
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(shards[path][:-1] + b"x" if self.tamper else shards[path])
            return local

    spec = DatasetSpec(id="imagenet_hard", format="parquet_multilabel", root=str(tmp_path / "data/imagenet-hard"))
    source = DatasetSource("imagenet_hard", "hub", repo_id="taesiri/imagenet-hard", expected=Expected(images=6))
    settings = PrepareSettings(downloads=tmp_path / "downloads")
    with pytest.raises(PrepareError, match="sha256 of .* expected"):
        prepare("imagenet_hard", spec, settings, hub=FakeHub(tamper=True), sources={"imagenet_hard": source})
    assert not Path(spec.root).exists()
    record = prepare("imagenet_hard", spec, settings, revision="v1", hub=FakeHub(), sources={"imagenet_hard": source})
    assert record["commit"].startswith("abc123") and record["revision"] == "v1" and record["counts"]["images"] == 6
    assert sorted(p.name for p in Path(spec.root).iterdir()) == sorted(Path(p).name for p in shards)
    # read in place as a snapshot (the paper config's format): the hub's own layout is kept
    snapshot = DatasetSpec(id="imagenet_hard", format="hf_parquet", root=str(tmp_path / "data/hard-snapshot"))
    record = prepare("imagenet_hard", snapshot, settings, hub=FakeHub(), sources={"imagenet_hard": source})
    assert sorted(str(p.relative_to(snapshot.root)) for p in Path(snapshot.root).rglob("*.parquet")) == sorted(shards)
    assert record["counts"]["images"] == 6


def test_imagenet_val_is_verified_and_says_what_to_download(tmp_path):
    spec = DatasetSpec(id="imagenet_val", format="imagefolder_wnid", root=str(tmp_path / "val"))
    with pytest.raises(PrepareError, match="does not exist. ILSVRC2012_img_val.tar .*image-net.org"):
        prepare("imagenet_val", spec, PrepareSettings(downloads=tmp_path / "d"))
    for wnid in WNIDS:
        (tmp_path / "val" / wnid).mkdir(parents=True)
        (tmp_path / "val" / wnid / "a.JPEG").write_bytes(_png(1))
    with pytest.raises(PrepareError, match="2 images, expected 50,000; 2 image folders, expected 1,000"):
        prepare("imagenet_val", spec, PrepareSettings(downloads=tmp_path / "d"))


def test_the_sources_table_matches_the_paper_config():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    specs = dataset_specs(config)
    assert set(preparable(config)) == set(DATASET_SOURCES)  # every public dataset of the paper has a prepare rule
    for name, source in DATASET_SOURCES.items():
        for item in source.downloads:
            assert item.url.startswith("https://") and item.checksum_source, name
            assert item.sha256 is None or len(item.sha256) == 64
            assert item.md5 is None or len(item.md5) == 32
        if name in specs and source.expected.images is not None:
            assert specs[name].images == source.expected.images, name  # the config's sizes are the published ones
    assert DATASET_SOURCES["imagenet_c"].expected.images == 75 * 50_000  # every cell holds the whole val set


def test_a_manifest_is_written_whole(tmp_path):
    path = tmp_path / "m/x.json"
    write_manifest(path, {"name": "x", "counts": {"images": 1}})
    assert json.loads(path.read_text())["counts"]["images"] == 1 and not list(path.parent.glob("*.partial"))


CUE_CATEGORIES = ("airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog",
                  "elephant", "keyboard", "knife", "oven", "truck")


def _paper_config_with(tmp_path: Path, server: _Server) -> Path:
    (tmp_path / "config").symlink_to(REPO / "config")
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["prepare"] = {"mirror": server.url, "timeout_s": 10}
    path = tmp_path / "paper_mirror.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.workflow
def test_prepare_data_plans_a_job_per_dataset_and_a_target_each(tmp_path, served):
    from ..workflow.test_workflow import _run

    _, server = served
    dry = _run(["prepare_data", "-n", "--configfile", str(_paper_config_with(tmp_path, server))], tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    jobs = [(block.split(":")[0], re.search(r"wildcards: name=(\w+)", block).group(1))
            for block in dry.stdout.split("\nrule ")[1:] if "wildcards: name=" in block]
    planned = {name for rule, name in jobs if rule == "prepare_dataset"}
    assert planned == set(DATASET_SOURCES), planned
    vtab = {name for rule, name in jobs if rule == "prepare_vtab"}
    assert vtab == {f"vtab_{task}" for task in VTAB_TASKS}, vtab  # the 19 VTAB-1k tasks, one prepare_vtab job each


@pytest.mark.workflow
def test_the_prepare_rules_unpack_a_good_archive_and_refuse_a_bad_one(tmp_path, served):
    """Through snakemake: cue-conflict (counts only) from the mirror is prepared; ImageNet-A's checksum fails."""
    from ..workflow.test_workflow import _run

    folder, server = served
    cue = {f"cue-conflict/{c}/{c}{i}-{CUE_CATEGORIES[(k + 1) % 16]}{i}.png": _png(i)
           for k, c in enumerate(CUE_CATEGORIES) for i in range(80)}
    (folder / "cue-conflict.tar.gz").write_bytes(_tar_gz(cue))
    (folder / "imagenet-a.tar").write_bytes(b"not the published archive")
    config = _paper_config_with(tmp_path, server)
    result = _run(["prepare_cue_conflict", "prepare_imagenet_a", "--cores", "1", "--keep-going",
                   "--configfile", str(config)], tmp_path)
    assert result.returncode != 0  # imagenet_a failed; the missing paper data did not stop the run
    manifest = json.loads((tmp_path / "resources/prepared/cue_conflict.json").read_text())
    assert manifest["counts"]["images"] == 1_280 and manifest["counts"]["groups"] == 16
    assert len(list((tmp_path / "resources/data/cue-conflict").glob("*/*.png"))) == 1_280
    assert not (tmp_path / "resources/prepared/imagenet_a.json").exists()
    assert not (tmp_path / "resources/data/imagenet-a").exists()
    log = (tmp_path / "logs/prepare_dataset/imagenet_a.log").read_text()
    assert f"{server.url}/imagenet-a.tar" in log and "687,552,512" in log  # the URL and the published size


# --- hostile archives and full disks (issue 19) -----------------------------------------------------------------

def _tar_with(special: tarfile.TarInfo | None, files: dict[str, bytes]) -> bytes:
    """A .tar.gz of `files`, and a member that is not a regular file (a device, a link) when given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if special is not None:
            archive.addfile(special)
    return buffer.getvalue()


@pytest.mark.faults
@pytest.mark.parametrize("kind", ["chrdev", "fifo", "symlink"])
def test_an_archive_member_that_is_not_a_file_or_folder_is_refused(tmp_path, served, kind):
    """A character device in the archive was unpacked (as root) into the dataset root and accepted."""
    folder, server = served
    special = tarfile.TarInfo("imagenet-a/n01440764/evil.JPEG")
    special.type = {"chrdev": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE, "symlink": tarfile.SYMTYPE}[kind]
    special.devmajor, special.devminor, special.linkname = 1, 3, "img_0.JPEG"
    data = _tar_with(special, _wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec = _spec(tmp_path)
    with pytest.raises(PrepareError, match=r"member 'imagenet-a/n01440764/evil\.JPEG' is a (device|link)"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    _nothing_complete_left(tmp_path, spec)


@pytest.mark.faults
@pytest.mark.parametrize("junk", ["many_members", "one_huge_member"])
def test_an_archive_far_beyond_the_published_set_is_refused_before_unpacking(tmp_path, served, junk):
    folder, server = served
    files = _wnid_files("imagenet-a", 3)
    if junk == "many_members":
        files |= {f"imagenet-a/junk/{k}.txt": b"" for k in range(1_200)}
    else:
        files |= {"imagenet-a/junk.bin": bytes(3 << 20)}  # zeros: a tiny .gz, a large file
    data = _tar_gz(files)
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec = _spec(tmp_path)
    with pytest.raises(PrepareError, match="far beyond the published set; this is not the published archive"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    _nothing_complete_left(tmp_path, spec)
    assert not list(tmp_path.glob("data/*.unpacking"))


@pytest.mark.faults
def test_a_full_disk_while_unpacking_keeps_the_archive_and_says_to_free_space(tmp_path, served, monkeypatch):
    import errno as errno_module

    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    spec = _spec(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno_module.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extractall", full)
    with pytest.raises(PrepareError, match=r"unpacking into .* failed: No space left on device — free space there"):
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    assert (tmp_path / "downloads/imagenet_a.tar.gz").exists()  # a good archive is not called truncated, nor deleted
    monkeypatch.undo()
    assert prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": _source(data)})


@pytest.mark.faults
def test_a_full_disk_during_a_download_names_the_url_and_the_file(tmp_path, served, monkeypatch):
    import builtins
    import errno as errno_module

    folder, server = served
    data = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(data)
    real_open = builtins.open

    class FullFile:
        def __init__(self, handle):
            self.handle = handle

        def write(self, block):
            raise OSError(errno_module.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.handle.close()

    def opener(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        return FullFile(handle) if str(path).endswith(".partial") and "w" in mode else handle

    monkeypatch.setattr(builtins, "open", opener)
    with pytest.raises(PrepareError, match=r"imagenet_a\.tar\.gz: writing .*imagenet_a\.tar\.gz\.partial failed after "
                                           r"0 bytes: No space left on device — free space in"):
        prepare("imagenet_a", _spec(tmp_path), _settings(tmp_path, server), sources={"imagenet_a": _source(data)})
    assert not list((tmp_path / "downloads").glob("*.partial"))


@pytest.mark.faults
def test_a_hand_placed_archive_of_another_version_names_the_file_to_delete(tmp_path, served):
    """Without a published checksum, a wrong archive fails by its counts: the message names the archive, not the
    staging folder (deleted by then), and a rerun after deleting it downloads the published one."""
    folder, server = served
    published = _tar_gz(_wnid_files("imagenet-a", 3))
    (folder / "imagenet_a.tar.gz").write_bytes(published)
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads/imagenet_a.tar.gz").write_bytes(_tar_gz(_wnid_files("imagenet-a", 2)))
    source = _source(published, sha256=None, md5=None, size=None)  # counts only, like cue-conflict and PUG
    spec = _spec(tmp_path)
    with pytest.raises(PrepareError) as error:
        prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": source})
    said = str(error.value)
    assert "4 images, expected 6" in said and str(tmp_path / "downloads/imagenet_a.tar.gz") in said
    assert "delete them and rerun" in said
    (tmp_path / "downloads/imagenet_a.tar.gz").unlink()
    assert prepare("imagenet_a", spec, _settings(tmp_path, server), sources={"imagenet_a": source})["counts"]["images"] == 6


def test_imagenet_9_is_counted_on_its_four_variants_with_the_rest_of_the_release_unpacked(tmp_path, served):
    # the release holds 8 variants and the masks; the set scored is 4 variants: the archive may hold more files than
    # the images counted, up to what the source declares
    folder, server = served
    variants = ("original", "only_fg", "mixed_same", "mixed_rand", "mixed_next", "no_fg", "only_bg_b", "only_bg_t")
    files = {f"bg_challenge/{v}/val/{c}/img_{i}.JPEG": _png(i) for v in variants
             for c in ("00_dog", "02_wheeled vehicle") for i in range(2)}
    files |= {f"bg_challenge/fg_mask/val/00_dog/img_{i}.npy": b"mask" for i in range(2)}
    data = _tar_gz(files)
    (folder / "imagenet_9.tar.gz").write_bytes(data)
    counted = Expected(images=16, groups=8, top_level=("original", "only_fg", "mixed_same", "mixed_rand"))
    spec = _spec(tmp_path, "imagenet_9", "imagenet_9")
    allowed = Expected(images=16, groups=8, top_level=counted.top_level, archive_files=len(files))
    record = prepare("imagenet_9", spec, _settings(tmp_path, server),
                     sources={"imagenet_9": _source(data, "imagenet_9", allowed)})
    assert record["counts"]["images"] == 16 and (Path(spec.root) / "only_bg_t").is_dir()
    # the published release (8 variants + masks, 36,450 files) fits its limit; counted on 4 variants alone it would not
    from beyond_imagenet.data.prepare import unpack_limits

    archive = tmp_path / "downloads" / "imagenet_9.tar.gz"
    release = DATASET_SOURCES["imagenet_9"]
    assert unpack_limits(release, [archive]).max_members >= 9 * 4_050
    assert unpack_limits(DatasetSource("x", "archive", expected=Expected(images=16_200)),
                         [archive]).max_members < 9 * 4_050


def test_objectnet_is_verified_in_place_and_says_where_to_get_it(tmp_path):
    spec = DatasetSpec(id="objectnet", format="objectnet", root=str(tmp_path / "objectnet-1.0"))
    with pytest.raises(PrepareError, match="objectnet-1.0.zip.*licence"):
        prepare("objectnet", spec, PrepareSettings(downloads=tmp_path / "d"))
