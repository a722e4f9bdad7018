"""GPU slots: each concurrent GPU job takes its own device, keeps SLURM's assignment, and frees its slot however
it ends. Tested on the CPU by simulating N devices."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from beyond_imagenet.extract import devices
from beyond_imagenet.extract.devices import SIMULATED_ENV, SLOT_DIR_ENV, job_device, try_slot


@pytest.fixture
def four_gpus(monkeypatch, tmp_path):
    """Four CUDA devices as this machine would see them (no real CUDA call is made), slots under tmp_path."""
    monkeypatch.setenv(SLOT_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(SIMULATED_ENV, raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setattr(devices, "visible_gpus", lambda: 4)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"GPU {index}")
    return tmp_path


def test_concurrent_jobs_take_different_gpus_and_free_them(four_gpus):
    with job_device("auto") as first, job_device("auto") as second, job_device("cuda") as third:
        assert [first.device, second.device, third.device] == [torch.device(f"cuda:{k}") for k in range(3)]
        assert "GPU slot 1 of 4" in second.reason
    with job_device("auto") as again:
        assert again.device == torch.device("cuda:0")  # the slots were released


def test_a_job_beyond_the_gpus_waits_for_a_slot(four_gpus):
    with job_device("auto"), job_device("auto"), job_device("auto"), job_device("auto"):
        assert try_slot(four_gpus, 4) is None  # a fifth job finds every slot held and waits (wait_for_slot)


def test_two_jobs_per_gpu_spread_first_then_share(four_gpus):
    with contextlib.ExitStack() as stack:
        choices = [stack.enter_context(job_device("auto", jobs_per_gpu=2)) for _ in range(8)]
        assert [c.device.index for c in choices] == [0, 1, 2, 3, 0, 1, 2, 3]  # every GPU busy before one is shared
        assert [c.slot for c in choices] == list(range(8)) and "GPU slot 5 of 8 on GPU 1 of 4, 2 jobs" in choices[5].reason
        assert try_slot(four_gpus, 8) is None  # a ninth job waits
    with job_device("auto", jobs_per_gpu=2) as again:
        assert again.device == torch.device("cuda:0")


def test_jobs_per_gpu_below_one_is_refused(four_gpus):
    with pytest.raises(ValueError, match="extraction.jobs_per_gpu is 0"), job_device("auto", jobs_per_gpu=0):
        pass


def test_slurms_assignment_is_kept(four_gpus, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with job_device("auto") as choice, job_device("auto") as other:
        assert choice.device == other.device == torch.device("cuda:0") and choice.slot is None
        assert "SLURM job 42 was given GPU(s) 3" in choice.reason
    assert not list(four_gpus.glob("*.lock"))  # no slot was taken


def test_a_named_device_is_used_as_named(four_gpus):
    with job_device("cuda:2") as choice:
        assert choice.device == torch.device("cuda:2") and choice.slot is None


def test_a_killed_job_frees_its_slot(tmp_path):
    env = {**os.environ, SLOT_DIR_ENV: str(tmp_path), SIMULATED_ENV: "1"}
    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom beyond_imagenet.extract.devices import "
                               "job_device\nwith job_device('auto') as c:\n    print(c.slot, flush=True)\n"
                               "    time.sleep(60)"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert try_slot(tmp_path, 1) is None
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.time() + 5
        taken = None
        while taken is None and time.time() < deadline:
            taken = try_slot(tmp_path, 1)
        assert taken is not None and taken[0] == 0  # the kernel released the dead job's lock
        taken[1].close()
    finally:
        holder.kill()


def test_simulated_slots_run_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv(SLOT_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(SIMULATED_ENV, "2")
    with job_device("auto") as first, job_device("auto") as second:
        assert first.device == second.device == torch.device("cpu")
        assert (first.slot, second.slot) == (0, 1) and "simulated" in first.reason
