"""The demo workflow through a real one-node SLURM cluster (scripts/slurm_local.sh), against a local run."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ..conftest import REPO

pytestmark = pytest.mark.workflow
CLUSTER = REPO / "scripts" / "slurm_local.sh"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def _can_run_slurm() -> str | None:
    """Why SLURM cannot be brought up here, or None."""
    if os.geteuid() != 0:
        return "starting slurmctld/slurmd/munged needs root"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM is not installed and there is no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    """Bring the cluster up for this module and always take it down again (by PID)."""
    reason = _can_run_slurm()
    if reason:
        pytest.skip(reason)
    up = subprocess.run(["bash", str(CLUSTER), "up"], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield
    finally:
        subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, text=True, timeout=120)


SMALL = REPO / "tests/configs/slurm_small.yaml"


def _snakemake(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}  # the stand-in GPU is not a CUDA device
    return subprocess.run(SNAKEMAKE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)


def _start_snakemake(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(SNAKEMAKE + args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_demo_workflow_through_slurm_equals_local(slurm_cluster, tmp_path):
    cluster_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    cluster_dir.mkdir(), local_dir.mkdir()
    config = SMALL
    for run_dir in (cluster_dir, local_dir):
        (run_dir / "config").symlink_to(REPO / "config")  # the config names config/open_clip/*.json
    profile = str(REPO / "profiles" / "slurm")
    # the local run goes on while the cluster run mostly waits between its squeue polls
    local_run = _start_snakemake(["all", "--cores", "1", "--resources", "gpu=1", "--configfile", str(config)],
                                 local_dir)
    # polled every second after a job finishes (the profile's 5 s is for a real cluster's controller)
    run = _snakemake(["all", "--profile", profile, "--jobs", "2", "--configfile", str(config),
                      "--slurm-init-seconds-before-status-checks", "1"], cluster_dir)
    local_out, local_err = local_run.communicate(timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert local_run.returncode == 0, local_err[-3000:]

    job_ids = _submitted_job_ids(run.stdout + run.stderr)
    rule_jobs = len(re.findall(r"^rule \w+:", run.stdout + run.stderr, re.MULTILINE))
    assert rule_jobs > 0 and len(job_ids) == rule_jobs  # every job but `all` went through sbatch
    slurm_logs = list((cluster_dir / "logs" / "slurm").rglob("*.log"))
    assert {p.stem for p in slurm_logs} >= job_ids  # one SLURM log per job, named by its job id
    gpu_jobs = [p for p in slurm_logs if "extract_outputs" in str(p) or "build_zero_shot_head" in str(p)]
    assert gpu_jobs and all(_requested_gpus(p.stem) == 1 for p in gpu_jobs)
    cpu_jobs = [p for p in slurm_logs if "compute_properties" in str(p)]
    assert cpu_jobs and all(_requested_gpus(p.stem) == 0 for p in cpu_jobs)

    for table in ("accuracy", "invariance"):
        on_cluster = pd.read_csv(cluster_dir / f"results/tables/{table}.csv")
        here = pd.read_csv(local_dir / f"results/tables/{table}.csv")
        pd.testing.assert_frame_equal(on_cluster, here)


def _submitted_job_ids(log: str) -> set[str]:
    """SLURM job ids of the executor's 'Job N has been submitted with SLURM jobid M' lines."""
    return set(re.findall(r"submitted with SLURM jobid (\d+)", log))


def _requested_gpus(job_id: str) -> int:
    """GPUs a finished job asked for, from the controller's record (kept MinJobAge seconds)."""
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    match = re.search(r"gres/gpu[:=](\d+)", shown) or re.search(r"TresPerJob=gres:gpu:(\d+)", shown)
    return int(match.group(1)) if match else 0


def test_a_stopped_cluster_lets_snakemake_start_at_once(slurm_cluster):
    """The SLURM plugin probes `scontrol show config` at every snakemake start; down must make it fail fast.

    (Against a stopped controller with default timeouts the probe waits ~9 s per snakemake call.)
    Runs last in this module: it takes the cluster down itself.
    """
    import time

    subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, text=True, timeout=120, check=True)
    began = time.perf_counter()
    subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - began < 3.0
