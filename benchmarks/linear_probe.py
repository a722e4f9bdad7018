"""Benchmark: the VTAB linear probe (weight-decay search included) on VTAB-1k-sized random features.

Random features with class structure (Gaussian blobs, D = 768, 100 classes by default): train800 + val200 and a
10,000-row test split, the size of one VTAB-1k task. Times the first probe of the process (it includes torch's
one-off optimizer import), then `--probes` more probes, and logs seconds per task and the 76-probe total (19
tasks x 4 models) against the 5-minute target; with `--probes` below 76 the total is extrapolated and says so.
The probe runs on one torch thread (linear_probe.PROBE_THREADS), so the total is for one core, sequentially.

    .venv/bin/python benchmarks/linear_probe.py [--probes 76] [--classes 100] [--check]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from beyond_imagenet.properties.transfer.probe import linear_probe

log = logging.getLogger("benchmark")

DIM = 768
TRAIN, VAL, TEST = 800, 200, 10_000
FULL_PROBES = 76  # 19 VTAB tasks x 4 models
TARGET_S = 300.0
NOISE = 3.0  # blob spread relative to unit-variance centres: a task the probe gets ~95% right, not 100%


def make_split(centres: np.ndarray, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows of Gaussian blobs around the class centres, float32 like cached features."""
    labels = rng.integers(0, centres.shape[0], rows)
    features = centres[labels] + NOISE * rng.standard_normal((rows, centres.shape[1]), dtype=np.float32)
    return features, labels


def time_probe(splits: list[tuple[np.ndarray, np.ndarray]], seed: int) -> tuple[float, float, float]:
    """Seconds of one linear_probe call, its test top-1 and chosen weight decay."""
    start = time.perf_counter()
    result = linear_probe(*splits[0], *splits[1], *splits[2], seed=seed)
    return time.perf_counter() - start, result.test_top1_pct, result.weight_decay


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; with --check, exit 1 when the (extrapolated) 76-probe total misses the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=FULL_PROBES, help="timed probes after the first")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--check", action="store_true", help="exit 1 if the 76-probe total exceeds 5 minutes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((args.classes, DIM), dtype=np.float32)
    splits = [make_split(centres, rows, rng) for rows in (TRAIN, VAL, TEST)]
    first, top1, wd = time_probe(splits, seed=0)
    log.info("first probe (includes the one-off torch optimizer import): %.2f s, test top-1 %.1f%%, wd %.3g",
             first, top1, wd)
    times = [time_probe(splits, seed)[0] for seed in range(1, args.probes + 1)]
    per_task = float(np.mean(times))
    log.info("per task (D=%d, %d classes, %d train+val, %d test): mean %.2f s, min %.2f s, max %.2f s over %d probes",
             DIM, args.classes, TRAIN + VAL, TEST, per_task, min(times), max(times), len(times))
    if args.probes >= FULL_PROBES:
        total, how = float(sum(times[:FULL_PROBES])), "measured"
    else:
        total, how = per_task * FULL_PROBES, f"EXTRAPOLATED from {args.probes} probes"
    log.info("%d probes (19 tasks x 4 models), sequential on one core: %.1f s (%s); target %.0f s -> %s",
             FULL_PROBES, total, how, TARGET_S, "OK" if total <= TARGET_S else "MISSED")
    return 1 if args.check and total > TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
