"""Which device a GPU-stage job runs on: one GPU per concurrent job, or `jobs_per_gpu` of them per GPU.

Snakemake counts GPUs (`--resources gpu=N`) but hands no job a device id (snakemake/snakemake#281, open), so N
concurrent jobs would all take `cuda:0`. Each job therefore takes a slot: an exclusive `fcntl` lock on one file per
slot, held for the job's life and released by the kernel when the process ends, however it ends (no stale slot
after a kill). There are `jobs_per_gpu` slots per visible GPU, slot s on GPU s mod N: with 2, a job's start-up
(imports, model build, the first batches) overlaps another job's work on the same GPU instead of leaving it idle.
Under SLURM the scheduler has already given the job its GPUs (CUDA_VISIBLE_DEVICES, through `--gres`/`--gpus`);
that assignment is kept and no slot is taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch

log = logging.getLogger(__name__)

SLOT_DIR_ENV = "BEYOND_IMAGENET_GPU_SLOT_DIR"  # where the slot locks live (node-local; default: the temp dir)
# N slots handed out with no CUDA device present, the job then running on the CPU: how the slot logic is tested on a
# machine without GPUs (and how a dry run shows the assignment)
SIMULATED_ENV = "BEYOND_IMAGENET_SIMULATED_GPUS"
WAIT_LOG_S = 60.0


@dataclass(frozen=True)
class DeviceChoice:
    """The device a job runs on, the slot it holds (None: none taken) and why, for its log."""

    device: torch.device
    slot: int | None
    slots: int
    reason: str


def visible_gpus() -> int:
    """CUDA devices this process may use (CUDA_VISIBLE_DEVICES applied), or the simulated count."""
    simulated = os.environ.get(SIMULATED_ENV)
    if simulated:
        return int(simulated)
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def scheduler_assigned() -> str | None:
    """The GPUs a batch scheduler gave this job (SLURM sets CUDA_VISIBLE_DEVICES for --gres/--gpus), or None."""
    if os.environ.get("SLURM_JOB_ID") and os.environ.get("CUDA_VISIBLE_DEVICES"):
        return os.environ["CUDA_VISIBLE_DEVICES"]
    return None


def slot_dir() -> Path:
    """The folder of the slot locks: one per user and node (locks are local to a machine)."""
    folder = os.environ.get(SLOT_DIR_ENV) or str(Path(tempfile.gettempdir()) / f"beyond_imagenet-gpu-slots-{os.getuid()}")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def slot_file(folder: Path, slot: int) -> Path:
    """The lock file of one slot."""
    return folder / f"slot{slot}.lock"


def try_slot(folder: Path, slots: int) -> tuple[int, IO[bytes]] | None:
    """The first free slot, locked (the open file holds the lock), or None when every slot is held."""
    for slot in range(slots):
        handle = open(slot_file(folder, slot), "ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        return slot, handle
    return None


def wait_for_slot(folder: Path, slots: int, poll_s: float = 1.0) -> tuple[int, IO[bytes]]:
    """A slot, waiting while all are held (more GPU jobs than GPUs: `--resources gpu=` above the node's count)."""
    began = last_log = time.monotonic()
    while True:
        taken = try_slot(folder, slots)
        if taken is not None:
            return taken
        if time.monotonic() - last_log >= WAIT_LOG_S or last_log == began:
            log.warning("all %d GPU slots in %s are held by other jobs; waiting (is --resources gpu= above the "
                        "number of GPUs times extraction.jobs_per_gpu?)", slots, folder)
            last_log = time.monotonic()
        time.sleep(poll_s)


@contextlib.contextmanager
def job_device(name: str, jobs_per_gpu: int = 1) -> Iterator[DeviceChoice]:
    """The device for one job, held until the job ends: `extraction.device` 'auto' -> a GPU slot when GPUs are
    visible, else the CPU; 'cuda' -> a GPU slot (an error without a GPU); 'cpu' or 'cuda:K' -> as named.
    `jobs_per_gpu` (extraction.jobs_per_gpu) slots per GPU."""
    if jobs_per_gpu < 1:
        raise ValueError(f"extraction.jobs_per_gpu is {jobs_per_gpu}; it must be 1 or more")
    if name not in ("auto", "cuda"):
        yield DeviceChoice(torch.device(name), None, 0, f"extraction.device is {name!r}")
        return
    count = visible_gpus()
    if count == 0:
        if name == "cuda":
            raise RuntimeError("extraction.device is 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
        yield DeviceChoice(torch.device("cpu"), None, 0, "no CUDA device is visible")
        return
    simulated = bool(os.environ.get(SIMULATED_ENV))
    assigned = None if simulated else scheduler_assigned()
    if assigned is not None:
        yield DeviceChoice(torch.device("cuda:0"), None, count,
                           f"SLURM job {os.environ['SLURM_JOB_ID']} was given GPU(s) {assigned}; its first is cuda:0")
        return
    folder = slot_dir()
    slots = count * jobs_per_gpu
    slot, handle = wait_for_slot(folder, slots)
    gpu = slot % count  # the first N jobs on N different GPUs, then a second job on each
    try:
        device = torch.device("cpu") if simulated else torch.device(f"cuda:{gpu}")
        what = "simulated, running on the CPU" if simulated else torch.cuda.get_device_name(gpu)
        shared = f", {jobs_per_gpu} jobs per GPU" if jobs_per_gpu > 1 else ""
        yield DeviceChoice(device, slot, slots, f"GPU slot {slot} of {slots} on GPU {gpu} of {count}{shared} ({what}; "
                                                f"lock {slot_file(folder, slot)})")
    finally:
        handle.close()  # releases the lock
        log.info("GPU slot %d released", slot)
