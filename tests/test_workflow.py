"""The workflow end to end on a tiny demo world, plus the start-up check and the linter."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import REPO

pytestmark = pytest.mark.workflow
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(SNAKEMAKE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _tiny_demo_config(tmp_path: Path) -> Path:
    """config/demo.yaml cut down: 2 models (one per library), 4 classes, 1 epoch."""
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["demo"].update(classes=[404, 294, 444, 8], val_per_class=4, train_per_class=4, train_epochs=1,
                          image_size=32)
    config["models"] = {k: config["models"][k] for k in ("vit_sup", "vit_clip")}
    config["models"]["vit_sup"]["model_kwargs"]["img_size"] = 32
    config["models"]["vit_sup"]["preprocess"].update(resize=32, crop=32)
    config["models"]["vit_clip"]["arch_config"] = str(REPO / config["models"]["vit_clip"]["arch_config"])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_demo_dag_runs_to_the_accuracy_table(tmp_path):
    config = _tiny_demo_config(tmp_path)
    result = _run(["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(config)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(tmp_path / "results/tables/accuracy.csv")
    assert set(table["model"]) == {"vit_sup", "vit_clip"}
    assert set(table["dataset"]) == {"imagenet_val", "imagenet_val_flat"}
    assert (table["n"] == 16).all()
    assert table["value"].between(0, 100).all()
    # The same images in two formats must give the same numbers (label order is format-independent).
    by_format = table.pivot_table(index=["model", "metric"], columns="dataset", values="value")
    assert (by_format["imagenet_val"] == by_format["imagenet_val_flat"]).all()
    assert (tmp_path / "results/tables/accuracy.md").read_text().startswith("| model")
    assert (tmp_path / "results/heads/vit_clip.h5").exists()

    rerun = _run(["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(config), "-n"], tmp_path)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr  # caches are reused, not recomputed


def test_missing_data_stops_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["datasets"]["imagenet_val"]["root"] = str(tmp_path / "no_imagenet")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    dry = _run(["all", "-n", "--cores", "1", "--configfile", str(path)], tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "extract_outputs" in dry.stdout and "needs data that is not on this machine" in dry.stdout + dry.stderr
    real = _run(["all", "--cores", "1", "--configfile", str(path)], tmp_path)
    said = real.stdout + real.stderr
    assert real.returncode != 0
    assert "datasets.imagenet_val.root" in said and "enabled: false" in said and "image-net.org" in said
    assert "Finished jobid" not in said and not (tmp_path / "results").exists()


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/demo.yaml"])
def test_lint_is_clean(configfile):
    result = _run(["--lint", "--configfile", str(REPO / configfile)], REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
