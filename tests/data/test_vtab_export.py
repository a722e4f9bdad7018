"""VTAB-1k export: task_adaptation's splits and labels, and tfds mock data written in the transfer layout."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from beyond_imagenet.config.specs import dataset_specs
from beyond_imagenet.data.vtab_export import (
    VTAB_TASKS,
    binned_attribute,
    clevr_count,
    clevr_distance,
    kitti_vehicle_distance,
    last_threshold_below,
    to_rgb,
)

from ..conftest import REPO

VTAB_PYTHON = REPO / ".venv-vtab/bin/python"


def test_the_task_table_is_the_nineteen_tasks_of_the_transfer_property_and_the_config():
    import yaml

    from beyond_imagenet.properties.transfer.compute import VTAB_TASKS as PROPERTY_TASKS

    assert tuple(VTAB_TASKS) == PROPERTY_TASKS
    specs = dataset_specs(yaml.safe_load((REPO / "config/config.yaml").read_text()))
    for name, task in VTAB_TASKS.items():
        assert specs[f"vtab_{name}"].images == 1_000 + task.test_images, name  # train800val200 + the test split


@pytest.mark.parametrize(("task", "val200", "test"), [
    ("caltech101", "train[2754:2954]", "test"),  # 90% of 3,060
    ("pets", "train[2944:3144]", "test"),  # 80% of 3,680
    ("eurosat", "train[16200:16400]", "train[21600:]"),  # 60 / 20 / 20 of 27,000
    ("dsprites_ori", "train[589824:590024]", "train[663552:]"),  # 80 / 10 / 10 of 737,280
    ("clevr_count", "train[63000:63200]", "validation"),  # CLEVR's test has no labels: its validation split
    ("snorb_azim", "test[:200]", "test[50%:]"),
    ("dtd", "validation[:200]", "test"),
])
def test_splits_are_task_adaptations(task, val200, test):
    splits = VTAB_TASKS[task].splits()
    assert splits == {"train800": "train[:800]", "val200": val200, "test": test}
    for name in ("val200", "test"):  # held-out rows taken from train start after train800 and after each other
        if splits[name].startswith("train["):
            assert int(splits[name][6:].split(":")[0]) >= 800, (name, splits[name])
    if splits["val200"].startswith("train[") and splits["test"].startswith("train["):
        assert int(splits["test"][6:].split(":")[0]) >= int(splits["val200"][6:].split(":")[1].rstrip("]"))


def test_structured_labels_follow_task_adaptation():
    assert clevr_count({"objects": {"size": [0] * 3}}) == 0 and clevr_count({"objects": {"size": [0] * 10}}) == 7
    coords = lambda zs: {"objects": {"pixel_coords": np.array([[0.0, 0.0, z] for z in zs])}}
    assert clevr_distance(coords([12.0, 7.9])) == 0  # the nearest object decides
    assert clevr_distance(coords([8.0])) == 0 and clevr_distance(coords([8.01])) == 1  # thresholds are strict
    assert clevr_distance(coords([10.5])) == 5
    kitti = lambda types, zs: {"objects": {"type": np.array(types),
                                           "location": np.array([[0.0, 0.0, z] for z in zs])}}
    assert kitti_vehicle_distance(kitti([0, 3], [25.0, 2.0])) == 2  # the pedestrian (type 3) at 2 m is ignored
    assert kitti_vehicle_distance(kitti([2], [7.5])) == 0 and kitti_vehicle_distance(kitti([1], [8.5])) == 1
    assert kitti_vehicle_distance(kitti([4], [3.0])) == 3  # no vehicle: 1000 m
    bins = binned_attribute("label_orientation", 40, 16)
    assert [bins({"label_orientation": v}) for v in (0, 2, 3, 39)] == [0, 0, 1, 15]  # 2.5 values per bin
    with pytest.raises(ValueError, match="not above the first threshold"):
        last_threshold_below(0.0, (0.0, 1.0))
    assert to_rgb(np.ones((2, 2, 1), np.uint8), 255).tolist() == [[[255] * 3] * 2] * 2


@pytest.mark.skipif(not VTAB_PYTHON.exists(), reason="needs the VTAB environment: make venv-vtab")
def test_mock_tfds_tasks_export_to_the_layout_the_transfer_property_reads(tmp_path):
    """Three tasks of different shapes: RGB of any size, 64x64 0/1 grayscale (x255), a test split cut from train."""
    from beyond_imagenet.config.specs import DatasetSpec
    from beyond_imagenet.data.formats import list_samples
    from beyond_imagenet.data.samples import read_split_list

    tasks = ["caltech101", "dsprites_loc", "snorb_elev"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([str(VTAB_PYTHON), str(REPO / "tests/data/vtab_mock_driver.py"), str(tmp_path), "6", *tasks],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    records = json.loads(result.stdout.strip().splitlines()[-1])
    assert "gave 6 examples for train800, expected 800" in records["refused"]
    assert not (tmp_path / "refused").exists() and not (tmp_path / "refused.exporting").exists()
    for task in tasks:
        root = tmp_path / task
        samples = list_samples(DatasetSpec(id=f"vtab_{task}", format="vtab", root=str(root)))
        assert len(samples) == 18  # train800 + val200 + test, each image once
        train, val = read_split_list(root / "train800.txt"), read_split_list(root / "val200.txt")
        assert read_split_list(root / "train800val200.txt") == train + val and len(train) == len(val) == 6
        assert all(name.startswith("train800/") for name, _ in train)
        image = samples.load(0)
        assert image.mode == "RGB"
        assert records[task]["splits"] == VTAB_TASKS[task].splits()
    dsprites = np.asarray(list_samples(DatasetSpec(id="d", format="vtab", root=str(tmp_path / "dsprites_loc"))).load(0))
    assert set(np.unique(dsprites)) <= {0, 255}  # 0/1 pixels scaled as task_adaptation does
    assert max(records["dsprites_loc"]["counts"]["labels"]) < 16


@pytest.mark.workflow
@pytest.mark.skipif(not VTAB_PYTHON.exists(), reason="needs the VTAB environment: make venv-vtab")
def test_prepare_vtab_for_a_manual_task_says_what_to_download_and_leaves_nothing(tmp_path):
    """Through snakemake and the VTAB environment, offline: resisc45 cannot be downloaded by tfds."""
    from ..workflow.test_workflow import _run

    (tmp_path / "config").symlink_to(REPO / "config")
    result = _run(["prepare_vtab_resisc45", "--cores", "1", "--configfile", str(REPO / "config/config.yaml"),
                   "--config", f"prepare={{vtab_python: {VTAB_PYTHON}}}"], tmp_path)
    assert result.returncode != 0
    log = (tmp_path / "logs/prepare_vtab/vtab_resisc45.log").read_text()  # logs are named by dataset id
    assert "NWPU-RESISC45.rar" in log and "prepare.tfds_manual_dir" in log and "Traceback" not in log
    assert not (tmp_path / "resources/prepared/vtab_resisc45.json").exists()
    assert not (tmp_path / "resources/data/vtab/resisc45").exists()
