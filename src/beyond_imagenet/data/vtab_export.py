"""Export the 19 VTAB-1k tasks from tensorflow-datasets into the split-list layout the transfer property reads.

The splits and labels are task_adaptation's (google-research/task_adaptation, `task_adaptation/data/*.py` and
`scripts/run_all_tasks.sh`): train800 = the first 800 training examples, val200 = 200 examples from the
held-out part its `tfds_splits` names, test = its test split; structured tasks derive the label from annotations
(CLEVR object counts and distance bins, dSprites position/orientation in 16 bins, KITTI closest-vehicle distance).

Runs where tensorflow-datasets is installed (`make venv-vtab`, or envs/vtab.yaml): stdlib, numpy and PIL at
import, tensorflow_datasets only when a task is exported. Nothing complete-looking is left after a failure: the
task is written to `<root>.exporting` and renamed when every split has its expected count.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import write_manifest

log = logging.getLogger(__name__)
LabelFn = Callable[[dict[str, Any]], int]
SPLITS = ("train800", "val200", "test")


def plain_label(example: dict[str, Any]) -> int:
    """The dataset's own class label."""
    return int(example["label"])


def attribute_label(attribute: str) -> LabelFn:
    """An annotated attribute used as the class (smallNORB azimuth / elevation)."""
    return lambda example: int(example[attribute])


def binned_attribute(attribute: str, original_classes: int, classes: int) -> LabelFn:
    """dSprites: an attribute's value index floor-divided into `classes` bins (task_adaptation's DSpritesData)."""
    factor = original_classes / classes
    return lambda example: math.floor(float(example[attribute]) / factor)


def last_threshold_below(value: float, thresholds: tuple[float, ...]) -> int:
    """Index of the last threshold strictly below the value (task_adaptation's reduce_max(where(thr - v < 0)))."""
    below = [i for i, threshold in enumerate(thresholds) if threshold - value < 0]
    if not below:
        raise ValueError(f"value {value} is not above the first threshold {thresholds[0]}")
    return max(below)


CLEVR_DISTANCE_THRESHOLDS = (0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0)
KITTI_VEHICLE_THRESHOLDS = (-100.0, 8.0, 20.0, 999.0)
KITTI_VEHICLE_TYPES = 3  # object types 0, 1, 2 = Car, Van, Truck


def clevr_count(example: dict[str, Any]) -> int:
    """CLEVR count_all: number of objects - 3 (scenes hold 3..10 objects: 8 classes)."""
    return len(example["objects"]["size"]) - 3


def clevr_distance(example: dict[str, Any]) -> int:
    """CLEVR closest_object_distance: the nearest object's depth (pixel_coords z) in 6 bins."""
    depth = float(np.min(np.asarray(example["objects"]["pixel_coords"])[:, 2]))
    return last_threshold_below(depth, CLEVR_DISTANCE_THRESHOLDS)


def kitti_vehicle_distance(example: dict[str, Any]) -> int:
    """KITTI closest_vehicle_distance: the nearest car/van/truck's depth in 4 bins (none = 1000 m)."""
    objects = example["objects"]
    depths = np.asarray(objects["location"]).reshape(-1, 3)[:, 2][np.asarray(objects["type"]) < KITTI_VEHICLE_TYPES]
    return last_threshold_below(float(np.min(np.append(depths, 1000.0))), KITTI_VEHICLE_THRESHOLDS)


@dataclass(frozen=True)
class VtabTask:
    """One VTAB-1k task: its tfds builder, where val200 and test come from, and how the label is read.

    val200 / test are tfds split expressions; `{cut}` is `train_percent`% of the train split (val200 starts
    there) and `{test_start}` is (`train_percent` + `val_percent`)% of it, as task_adaptation computes them.
    """

    name: str
    builder: str
    val200: str
    test: str
    test_images: int  # the published size of the test split (the config's `images` = 1,000 + this)
    label: LabelFn = plain_label
    train_percent: int = 0
    val_percent: int = 0
    train_images: int | None = None  # the train split's size where the cut depends on it
    manual: str = ""  # what to download by hand (tfds manual_dir)
    image_scale: int = 1  # dSprites stores 0/1 pixels: x255, as task_adaptation does
    classes_of: tuple[str, int] | None = None  # (feature, class count) the label binning assumes

    def splits(self) -> dict[str, str]:
        """The tfds split expression of train800, val200 and test."""
        cut = self.train_percent * (self.train_images or 0) // 100
        test_start = cut + self.val_percent * (self.train_images or 0) // 100
        values = {"cut": cut, "cut200": cut + 200, "test_start": test_start}
        return {"train800": "train[:800]", "val200": self.val200.format(**values), "test": self.test.format(**values)}

    def expected(self) -> dict[str, int]:
        """Examples each split must yield."""
        return {"train800": 800, "val200": 200, "test": self.test_images}


VTAB_TASKS: dict[str, VtabTask] = {t.name: t for t in (
    VtabTask("caltech101", "caltech101:3.*.*", "train[{cut}:{cut200}]", "test", 6_084, train_percent=90,
             train_images=3_060),
    VtabTask("cifar100", "cifar100:3.*.*", "train[{cut}:{cut200}]", "test", 10_000, train_percent=90,
             train_images=50_000),
    VtabTask("dtd", "dtd:3.*.*", "validation[:200]", "test", 1_880),
    VtabTask("flowers102", "oxford_flowers102:2.*.*", "validation[:200]", "test", 6_149),
    VtabTask("pets", "oxford_iiit_pet:3.*.*", "train[{cut}:{cut200}]", "test", 3_669, train_percent=80,
             train_images=3_680),
    VtabTask("sun397", "sun397/tfds:4.*.*", "validation[:200]", "test", 21_750),
    VtabTask("svhn", "svhn_cropped:3.*.*", "train[{cut}:{cut200}]", "test", 26_032, train_percent=90,
             train_images=73_257),
    VtabTask("camelyon", "patch_camelyon:2.*.*", "validation[:200]", "test", 32_768),
    VtabTask("eurosat", "eurosat/rgb:2.*.*", "train[{cut}:{cut200}]", "train[{test_start}:]", 5_400,
             train_percent=60, val_percent=20, train_images=27_000),
    VtabTask("resisc45", "resisc45:3.*.*", "train[{cut}:{cut200}]", "train[{test_start}:]", 6_300,
             train_percent=60, val_percent=20, train_images=31_500,
             manual="NWPU-RESISC45.rar (the link above), extracted into prepare.tfds_manual_dir"),
    VtabTask("retinopathy", "diabetic_retinopathy_detection/btgraham-300:3.*.*", "validation[:200]", "test",
             42_670, manual="the Kaggle 'diabetic-retinopathy-detection' files (the zips and CSVs named above) "
                            "into prepare.tfds_manual_dir"),
    VtabTask("clevr_count", "clevr:3.*.*", "train[{cut}:{cut200}]", "validation", 15_000, clevr_count,
             train_percent=90, train_images=70_000),
    VtabTask("clevr_dist", "clevr:3.*.*", "train[{cut}:{cut200}]", "validation", 15_000, clevr_distance,
             train_percent=90, train_images=70_000),
    VtabTask("dmlab", "dmlab:2.0.1", "validation[:200]", "test", 22_735),
    VtabTask("dsprites_loc", "dsprites:2.*.*", "train[{cut}:{cut200}]", "train[{test_start}:]", 73_728,
             binned_attribute("label_x_position", 32, 16), train_percent=80, val_percent=10, train_images=737_280,
             image_scale=255, classes_of=("label_x_position", 32)),
    VtabTask("dsprites_ori", "dsprites:2.*.*", "train[{cut}:{cut200}]", "train[{test_start}:]", 73_728,
             binned_attribute("label_orientation", 40, 16), train_percent=80, val_percent=10, train_images=737_280,
             image_scale=255, classes_of=("label_orientation", 40)),
    VtabTask("kitti_dist", "kitti:3.1.0", "validation[:200]", "test", 711, kitti_vehicle_distance),
    VtabTask("snorb_azim", "smallnorb:2.*.*", "test[:200]", "test[50%:]", 12_150, attribute_label("label_azimuth")),
    VtabTask("snorb_elev", "smallnorb:2.*.*", "test[:200]", "test[50%:]", 12_150,
             attribute_label("label_elevation")),
)}


class VtabExportError(RuntimeError):
    """A task cannot be exported as VTAB-1k defines it (another tfds version, a missing manual download, counts)."""


def check_builder(task: VtabTask, builder: Any) -> None:
    """Refuse a tfds version whose sizes or classes differ from what the VTAB-1k slices were defined on."""
    splits = builder.info.splits
    if task.train_images is not None and "train" in splits and splits["train"].num_examples != task.train_images:
        raise VtabExportError(f"{task.builder}: train split has {splits['train'].num_examples:,} examples, VTAB-1k's "
                              f"slices assume {task.train_images:,}; install the tfds version task_adaptation used")
    if task.classes_of is not None:
        feature, count = task.classes_of
        if builder.info.features[feature].num_classes != count:
            raise VtabExportError(f"{task.builder}: {feature} has {builder.info.features[feature].num_classes} "
                                  f"classes, the 16-bin labels assume {count}")


def to_rgb(image: np.ndarray, scale: int) -> np.ndarray:
    """HxWx1 or HxWx3 uint8 -> HxWx3 uint8 (grayscale tiled, as task_adaptation does)."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if scale != 1:
        pixels = pixels.astype(np.int64) * scale
    return np.clip(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels, 0, 255).astype(np.uint8)


def write_split(examples: Iterable[dict[str, Any]], folder: Path, split: str, task: VtabTask) -> list[str]:
    """Write each example as `<split>/<index>.png`; the `path label` lines of the split list."""
    from PIL import Image

    (folder / split).mkdir(parents=True, exist_ok=True)
    lines = []
    for index, example in enumerate(examples):
        label = task.label(example)
        if label < 0:
            raise VtabExportError(f"{task.name}: example {index} of {split} has label {label}")
        name = f"{split}/{index:06d}.png"
        Image.fromarray(to_rgb(example["image"], task.image_scale)).save(folder / name)
        lines.append(f"{name} {label}")
    return lines


def write_lists(folder: Path, lines: dict[str, list[str]]) -> None:
    """train800.txt, val200.txt, train800val200.txt (the two together) and test.txt."""
    lists = {**lines, "train800val200": lines["train800"] + lines["val200"]}
    for split, entries in lists.items():
        (folder / f"{split}.txt").write_text("".join(f"{line}\n" for line in entries))


def export_task(task: VtabTask, root: Path, data_dir: Path | None = None, manual_dir: Path | None = None,
                expected_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """Download (tfds), slice, label and write one task; the record of what was written."""
    import tensorflow_datasets as tfds

    started = time.monotonic()
    if root.exists():
        raise VtabExportError(f"{task.name}: {root} already exists; move it away to export again")
    builder = tfds.builder(task.builder, data_dir=str(data_dir) if data_dir else None)
    check_builder(task, builder)
    try:
        config = tfds.download.DownloadConfig(manual_dir=str(manual_dir)) if manual_dir else None
        builder.download_and_prepare(download_config=config)
    except AssertionError as error:  # tfds asserts on a missing manual download
        raise VtabExportError(f"{task.name}: {error} -- download {task.manual or 'the files it names'}") from None
    expected = expected_counts or task.expected()
    staging = root.with_name(root.name + ".exporting")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        lines = {}
        for split, expression in task.splits().items():
            dataset = builder.as_dataset(split=expression, shuffle_files=False)
            lines[split] = write_split(tfds.as_numpy(dataset), staging, split, task)
            if len(lines[split]) != expected[split]:
                raise VtabExportError(f"{task.name}: {task.builder} split {expression!r} gave {len(lines[split]):,} "
                                      f"examples for {split}, expected {expected[split]:,}")
        write_lists(staging, lines)
        root.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    labels = sorted({int(line.rsplit(" ", 1)[1]) for entries in lines.values() for line in entries})
    return {"name": f"vtab_{task.name}", "kind": "vtab", "path": str(root), "builder": task.builder,
            "tfds_version": tfds.__version__, "splits": task.splits(),
            "counts": {"images": sum(len(v) for v in lines.values()), **{k: len(v) for k, v in lines.items()},
                       "labels": labels},
            "source": "task_adaptation (google-research) data/*.py split and label definitions",
            "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> None:
    """`python -m beyond_imagenet.vtab_export --task T --root R --manifest M [--data-dir D] [--manual-dir D]`."""

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, choices=sorted(VTAB_TASKS))
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--manual-dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        record = export_task(VTAB_TASKS[args.task], args.root, args.data_dir, args.manual_dir)
    except VtabExportError as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    write_manifest(args.manifest, record)


if __name__ == "__main__":
    main()
