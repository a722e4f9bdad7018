"""Faults that used to give a silently wrong result (issue 9): a full disk and failed writes.

Run alone with `pytest -m faults`. The other numbered cases live beside the code they guard:
test_extract (in-place changes, damaged partials, lost chunks, two writers, wrong-path reads),
test_jobs (changed dataset listing), test_registry (cut metrics files), test_datasets (16-bit,
truncated and oversized images, split-list traversal, unlisted images), test_reproducible (two
demo worlds and figures byte-identical), test_config (native_resolution, empty root),
test_workflow (Ctrl-C, then the same command).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from beyond_imagenet.store.cache import CacheError, CacheFileWriter, partial_path, read_outputs

pytestmark = pytest.mark.faults

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from pathlib import Path
    from beyond_imagenet.store.cache import CacheFileWriter
    rows = int(sys.argv[2])
    writer = CacheFileWriter(Path(sys.argv[1]), {"job": "x"}, batch_size=32)
    ids = [f"i{i:05d}" for i in range(rows)]
    group = writer.group("val", "standard", ids, list(range(rows)), {"dataset": "val", "part": None})
    try:
        for start in range(group.rows_done, rows, 32):
            block = np.random.default_rng(start).standard_normal((min(32, rows - start), 1000)).astype(np.float32)
            group.write(start, block, None)
        writer.finish()
    finally:
        writer.close()
    print("complete")
""")


def _write(path: Path, rows: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRITER, str(path), str(rows)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system (tmpfs), where the machine lets root mount one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_stops_the_extraction_with_its_reason_and_nothing_looks_complete(small_disk, tmp_path):
    target = small_disk / "val.h5"
    full = _write(target, 2880)  # 2880 x 1000 float32 = 11.5 MB on a 2 MB disk
    assert full.returncode != 0 and "complete" not in full.stdout
    assert "free space and rerun" in full.stderr and str(small_disk) in full.stderr, full.stderr[-2000:]
    assert not target.exists() and partial_path(target).exists()
    subprocess.run(["mount", "-o", "remount,size=40m", str(small_disk)], check=True)  # space freed
    resumed = _write(target, 2880)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = _write(tmp_path / "reference.h5", 2880)
    assert reference.returncode == 0
    np.testing.assert_array_equal(read_outputs(target).logits, read_outputs(tmp_path / "reference.h5").logits)


def _failing_after(real, calls_before_failure):
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == calls_before_failure + 1:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    return flaky


@pytest.mark.parametrize(("where", "fail_at"), [("setitem", 0), ("setitem", 1), ("setitem", 2), ("setitem", 3),
                                               ("setitem", 4), ("flush", 0), ("fsync", 1)])
def test_a_failed_write_is_never_counted(tmp_path, monkeypatch, where, fail_at):
    """An OSError at any step of a write (the data, HDF5's flush, the fsync) stops the job uncounted."""
    import h5py

    targets = {"setitem": (h5py.Dataset, "__setitem__"), "flush": (h5py.File, "flush"), "fsync": (os, "fsync")}
    owner, name = targets[where]
    real = getattr(owner, name)
    writer = CacheFileWriter(tmp_path / "f.h5", {"job": "x"}, batch_size=4)
    group = writer.group("val", "standard", [f"i{i}" for i in range(12)], list(range(12)), {"dataset": "val"})
    monkeypatch.setattr(owner, name, _failing_after(real, fail_at))
    with pytest.raises(CacheError, match="the rows are not counted"):
        for start in range(0, 12, 4):
            group.write(start, np.full((4, 1000), start, np.float32), None)
    # a block is two stores per row array (the logits, and the top-1 and p(true) stored with them: its rows, then
    # its digest); flush 0 is before the fsync
    stores_per_block = 2 * len(group.datasets)
    assert stores_per_block == 6
    failed_batch = {"setitem": fail_at // stores_per_block, "flush": 0, "fsync": fail_at}[where]
    assert group.rows_done == 4 * failed_batch
    monkeypatch.setattr(owner, name, real)
    for start in range(group.rows_done, 12, 4):
        group.write(start, np.full((4, 1000), start, np.float32), None)
    writer.finish()
    assert read_outputs(tmp_path / "f.h5").logits[:, 0].tolist() == [0] * 4 + [4] * 4 + [8] * 4


def test_too_little_space_is_refused_before_writing(tmp_path, monkeypatch):
    import shutil

    writer = CacheFileWriter(tmp_path / "s.h5", {"job": "x"}, batch_size=4)
    group = writer.group("val", "standard", ["a", "b", "c", "d"], [0, 1, 2, 3], {"dataset": "val"})
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**6, used=10**6 - 1000, free=1000))
    with pytest.raises(CacheError, match=r"MB free, a write needs"):
        group.write(0, np.ones((4, 1000), np.float32), None)
    assert group.rows_done == 0
    writer.close()


@pytest.mark.workflow
def test_a_second_run_while_another_writes_is_stopped_before_any_job(tmp_path, monkeypatch):
    """After `snakemake --unlock` a second run took the first one's outputs for incomplete; the first then ended with
    snakemake's misleading 'filesystem latency' message. Now the second one does not start, and says why."""
    import socket

    from beyond_imagenet.pipeline.targets import another_run_writing

    from .test_workflow import TINY_DEMO, _checkout_like, _run

    run = _checkout_like(tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    lock = run / "results/outputs/vit_sup/imagenet_val.h5.partial.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{socket.gethostname()} {writer.pid}\n")
    try:
        result = _run(["all", "--cores", "1", "--configfile", str(TINY_DEMO)], run)
    finally:
        writer.kill()
        writer.wait()
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Another run is still writing these caches" in said
    assert f"imagenet_val.h5 (process {writer.pid}" in said and "--unlock` is only for a run that is gone" in said
    assert "Finished jobid" not in said
    monkeypatch.chdir(run)
    assert another_run_writing() == ""  # its writer is gone: the lock is stale, a run may start (and take it over)
