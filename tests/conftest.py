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
def torchvision_spec(tmp_path_factory):
    """A random-weight torchvision MobileNetV3-small saved to a file; its weights enum gives preprocessing and labels."""
    import torch
    from torchvision.models import get_model

    from beyond_imagenet.config.specs import ModelSpec

    path = tmp_path_factory.mktemp("tv") / "mobilenet.pt"
    torch.manual_seed(0)
    torch.save(get_model("mobilenet_v3_small", weights=None).state_dict(), path)
    return ModelSpec(id="tiny_tv", source="torchvision", name="mobilenet_v3_small", weights=str(path),
                     pretrained="MobileNet_V3_Small_Weights.IMAGENET1K_V1")


def save_tiny_transformers_vit(folder: Path, id2label: dict[int, str] | None = None) -> Path:
    """A tiny ViT for image classification (1000 outputs, canonical id2label unless given), with its processor."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    from beyond_imagenet.catalog.labels import imagenet_wnids, timm_info_file

    lemmas = dict(line.split("\t") for line in timm_info_file("imagenet_synset_to_lemma.txt").read_text().splitlines())
    id2label = id2label or {i: lemmas[w] for i, w in enumerate(imagenet_wnids())}
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, num_labels=len(id2label), id2label=id2label,
                       label2id={v: k for k, v in id2label.items()})
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}, resample=2, image_mean=[0.5] * 3,
                      image_std=[0.5] * 3).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def transformers_spec(tmp_path_factory):
    from beyond_imagenet.config.specs import ModelSpec

    folder = save_tiny_transformers_vit(tmp_path_factory.mktemp("hf") / "tiny-vit")
    return ModelSpec(id="tiny_hf", source="transformers", name="tiny-vit", weights=str(folder))


def save_tiny_transformers_clip(folder: Path) -> Path:
    """A tiny CLIPModel (transformers), its image processor and a word-level tokenizer built offline."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    from beyond_imagenet.catalog.labels import imagenet_classnames

    words = sorted({w for name in imagenet_classnames() for w in name.lower().split()} | set("a photo of the".split()))
    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(words)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                            model_max_length=16).save_pretrained(folder)
    config = CLIPConfig(text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64,
                                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 16},
                        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
                                       "num_hidden_layers": 2, "num_attention_heads": 2},
                        projection_dim=64)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, resample=3,
                       image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def transformers_clip_spec(tmp_path_factory):
    from beyond_imagenet.config.specs import ModelSpec

    folder = save_tiny_transformers_clip(tmp_path_factory.mktemp("hf_clip") / "tiny-clip")
    return ModelSpec(id="tiny_hf_clip", source="transformers_clip", name="tiny-clip", weights=str(folder))


@pytest.fixture(scope="session")
def module_spec(tmp_path_factory):
    """The researcher's own module: a factory in tests/models, a checkpoint, a declared preprocessing and labels."""
    import sys

    import torch

    from beyond_imagenet.config.specs import ModelSpec

    sys.path.insert(0, str(REPO / "tests/models"))
    from tiny_factories import build

    path = tmp_path_factory.mktemp("module") / "mine.pt"
    torch.manual_seed(0)
    torch.save(build().state_dict(), path)
    return ModelSpec(id="mine", source="module", name="tiny-conv", weights=str(path), factory="tiny_factories:build",
                     factory_path=str(REPO / "tests/models"), labels="imagenet1k", preprocess=SUPERVISED_PREPROCESS)


@pytest.fixture(scope="session")
def val_dataset(tiny_world):
    from beyond_imagenet.config.specs import DatasetSpec

    return DatasetSpec(id="val", format="imagefolder_wnid", root=str(tiny_world / "val"))


def four_paper_like_specs() -> dict:
    """The paper's four model ids with their family and training (hub timm entries: figures only read these)."""
    from beyond_imagenet.config.specs import ModelSpec

    return {m: ModelSpec(id=m, source="timm", name=m, weights="hub", display_name=m.upper(), family=family,
                         training=training)
            for m, family, training in [("vit_sup", "vit", "supervised"), ("convnext_sup", "convnext", "supervised"),
                                        ("vit_clip", "vit", "clip"), ("convnext_clip", "convnext", "clip")]}
