"""Benchmark: what verifying a cache's content digests costs on a paper-sized group (50,000 x 1000 logits).

Writes one group the way an extraction does (blocks of 256 rows, a digest per block), then times, on the hot page
cache (each best of --repeats):
  plain read      h5py reads what `read_outputs` reads (logits, labels, ids), nothing checked
  verified read   `read_outputs`: the same arrays, every digest checked (what every CPU job does)
  fletcher32 read the same arrays with the logits under HDF5's fletcher32 filter (the checksums digests replaced)

    .venv/bin/python benchmarks/cache_verification.py --workdir /tmp/bench_digests
    .venv/bin/python benchmarks/cache_verification.py --cold   # also from disk: drops the page cache (root only)
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import h5py
import numpy as np

from _bench import benchmark_logging, timed
from beyond_imagenet.store.cache import CacheFileWriter, read_outputs

log = logging.getLogger("benchmark")
ROWS, CLASSES, BLOCK = 50_000, 1000, 256


def write_group(path: Path, logits: np.ndarray) -> None:
    """One group written block by block, as the extraction writes it."""
    writer = CacheFileWriter(path, {"job": "bench", "model": "m"}, batch_size=BLOCK)
    group = writer.group("val", "standard", [f"n0/ILSVRC2012_val_{k:08d}.JPEG" for k in range(ROWS)],
                         list(np.arange(ROWS) % CLASSES), {"model": "m", "dataset": "val"})
    for start in range(0, ROWS, BLOCK):
        group.write(start, logits[start:start + BLOCK], None)
    writer.finish()


def plain_read(path: Path) -> tuple[np.ndarray, ...]:
    with h5py.File(path, "r") as handle:
        group = handle["val/standard"]
        return group["logits"][:], group["labels"][:], group["ids"].asstr()[:]


def drop_page_cache() -> None:
    """Write dirty pages and drop the page cache, so the next read comes from the disk (needs root)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_digests"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time reads from disk (drops the page cache first)")
    args = parser.parse_args()
    benchmark_logging()
    args.workdir.mkdir(parents=True, exist_ok=True)
    logits = np.random.default_rng(0).standard_normal((ROWS, CLASSES)).astype(np.float32)
    cache, fletcher = args.workdir / "cache.h5", args.workdir / "fletcher32.h5"
    write_group(cache, logits)
    with h5py.File(cache, "r") as source, h5py.File(fletcher, "w") as handle:
        handle.create_dataset("val/standard/logits", data=logits, chunks=(BLOCK, CLASSES), fletcher32=True)
        for name in ("labels", "ids"):
            source.copy(source[f"val/standard/{name}"], handle["val/standard"], name)
    assert np.array_equal(read_outputs(cache).logits, logits)
    times = {name: min(timed(lambda: run(path)) for _ in range(args.repeats))
             for name, run, path in (("plain read", plain_read, cache),
                                     ("verified read", read_outputs, cache),
                                     ("fletcher32 read", plain_read, fletcher))}
    if args.cold:
        for name, run, path in (("plain read, cold", plain_read, cache), ("verified read, cold", read_outputs, cache),
                                ("fletcher32 read, cold", plain_read, fletcher)):
            times[name] = min(timed(lambda: (drop_page_cache(), run(path))) - timed(drop_page_cache)
                              for _ in range(args.repeats))
    size = logits.nbytes / 1e6
    for name, seconds in times.items():
        log.info("%-16s %7.3f s  (%5.0f MB/s)", name, seconds, size / seconds)
    if args.cold:
        log.info("from disk: verification adds %.0f%% to a plain read", 100 * (times["verified read, cold"]
                                                                          / times["plain read, cold"] - 1))
    log.info("hot page cache: verification adds %.0f%% to a plain read of the %d x %d group (%.0f MB); the verified "
             "read takes %.2fx the time of the fletcher32 read it replaces", 100 * (times["verified read"] / times["plain read"] - 1),
             ROWS, CLASSES, size, times["verified read"] / times["fletcher32 read"])
    cache.unlink()
    fletcher.unlink()


if __name__ == "__main__":
    main()
