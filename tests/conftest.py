"""Shared fixtures: a tiny demo world and tiny random models, built with the production code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may reach a hub from the tests

REPO = Path(__file__).resolve().parents[1]
TINY_CLASSES = (404, 294, 444, 8)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `gpu` with a reason when no CUDA device is visible."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; none is visible on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-class world of 32-px images (5 val, 2 train, 1 corrupted per class), in the real on-disk formats."""
    from beyond_imagenet.demo.settings import WorldSettings
    from beyond_imagenet.demo.world import generate_world

    root = tmp_path_factory.mktemp("world")
    generate_world(WorldSettings(root=str(root), classes=TINY_CLASSES, image_size=32, val_per_class=5,
                                 train_per_class=2, c_per_class=1))
    return root


def _save_random_timm(path: Path) -> None:
    import timm
    import torch

    torch.manual_seed(0)
    torch.save(timm.create_model("test_vit.r160_in1k", pretrained=False, img_size=32, patch_size=8).state_dict(), path)


def _save_random_clip(path: Path) -> None:
    import open_clip
    import torch

    open_clip.add_model_config(REPO / "config/open_clip/demo-vit-clip.json")
    torch.manual_seed(0)
    torch.save(open_clip.create_model("demo-vit-clip", pretrained=None).state_dict(), path)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random-init checkpoints of a tiny timm ViT and a tiny open_clip ViT, as local files."""
    root = tmp_path_factory.mktemp("weights")
    paths = {"timm": root / "timm_vit.pt", "open_clip": root / "clip_vit.pt"}
    _save_random_timm(paths["timm"])
    _save_random_clip(paths["open_clip"])
    return paths


SUPERVISED_PREPROCESS = {"resize": 36, "crop": 32, "interpolation": "bilinear",
                         "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


@pytest.fixture(scope="session")
def timm_spec(tiny_weights):
    from beyond_imagenet.config.specs import ModelSpec

    return ModelSpec(id="tiny_vit", source="timm", name="test_vit.r160_in1k", weights=str(tiny_weights["timm"]),
                     model_kwargs={"img_size": 32, "patch_size": 8}, preprocess=SUPERVISED_PREPROCESS)


@pytest.fixture(scope="session")
def clip_spec(tiny_weights):
    from beyond_imagenet.config.specs import ModelSpec

    return ModelSpec(id="tiny_clip", source="open_clip", name="demo-vit-clip", weights=str(tiny_weights["open_clip"]),
                     arch_config=str(REPO / "config/open_clip/demo-vit-clip.json"))


@pytest.fixture(scope="session")
def val_dataset(tiny_world):
    from beyond_imagenet.config.specs import DatasetSpec

    return DatasetSpec(id="val", format="imagefolder_wnid", root=str(tiny_world / "val"))
