"""The README's "Add a model": every example runs as printed, through the workflow, on the demo world; and two GPU
jobs at once take different GPUs (two simulated slots)."""

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ..conftest import REPO

pytestmark = pytest.mark.workflow
TINY_DEMO = REPO / "tests/configs/tiny_demo.yaml"


def readme_models() -> dict[str, dict]:
    """Every model entry of the yaml blocks under the README's "## Add a model", as printed."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Add a model\n", 1)[1].split("\n## ", 1)[0]
    models: dict[str, dict] = {}
    for block in re.findall(r"```yaml\n(.*?)```", section, flags=re.S):
        models.update(yaml.safe_load(block)["models"])
    return models


def _write_weights(run: Path, models: dict[str, dict]) -> None:
    """Random weights of each example's architecture where its `weights` names a file or folder (no download)."""
    import torch

    for entry in models.values():
        path = run / entry["weights"]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        WRITERS[(entry["source"], entry.get("head", "imagenet"))](entry, path, run)


def _timm(entry: dict, path: Path, run: Path) -> None:
    import timm
    from safetensors.torch import save_file

    save_file(timm.create_model(entry["name"], pretrained=False).state_dict(), str(path))


def _open_clip(entry: dict, path: Path, run: Path) -> None:
    import open_clip
    import torch

    open_clip.add_model_config(run / entry["arch_config"])
    torch.save(open_clip.create_model(entry["name"]).state_dict(), path)


def _torchvision(entry: dict, path: Path, run: Path) -> None:
    import torch
    from torchvision.models import get_model

    torch.save(get_model(entry["name"], weights=None).state_dict(), path)


def _canonical_names() -> dict[int, str]:
    from beyond_imagenet.catalog.labels import imagenet_wnids, timm_info_file

    lemmas = dict(line.split("\t") for line in timm_info_file("imagenet_synset_to_lemma.txt").read_text().splitlines())
    return {index: lemmas[wnid] for index, wnid in enumerate(imagenet_wnids())}


# A transformers model's architecture is its folder's config.json: the folders written here keep the hub model's
# classes, widths, patch size and image processor, with 2 of its 12 layers (the test's time, not its code path).
LAYERS = 2


def _deit(entry: dict, path: Path, run: Path) -> None:
    """DeiT-tiny as facebook/deit-tiny-patch16-224 is on the hub: a ViT classifier and DeiT's image processor."""
    from transformers import DeiTImageProcessor, ViTConfig, ViTForImageClassification

    names = _canonical_names()
    config = ViTConfig(hidden_size=192, num_hidden_layers=LAYERS, num_attention_heads=3, intermediate_size=768,
                       image_size=224, patch_size=16, id2label=names, label2id={v: k for k, v in names.items()})
    ViTForImageClassification(config).save_pretrained(path)
    DeiTImageProcessor(size=256, crop_size=224, resample=3, image_mean=[0.485, 0.456, 0.406],
                       image_std=[0.229, 0.224, 0.225]).save_pretrained(path)


def _dinov2(entry: dict, path: Path, run: Path) -> None:
    """DINOv2-small as facebook/dinov2-small is on the hub: the base model and its BiT image processor."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    Dinov2Model(Dinov2Config(hidden_size=384, num_hidden_layers=LAYERS, num_attention_heads=6, patch_size=14,
                             image_size=518)).save_pretrained(path)
    BitImageProcessor(size={"shortest_edge": 256}, crop_size=224, resample=3, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(path)


MY_MODELS = '''"""A researcher's own model (the README's module example)."""
from torch import nn


def build() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 1000))
'''


def _module(entry: dict, path: Path, run: Path) -> None:
    import importlib
    import sys

    import torch

    folder = run / entry["factory_path"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_models.py").write_text(MY_MODELS)
    sys.path.insert(0, str(folder))
    try:
        module_name, _, function = entry["factory"].partition(":")
        torch.save(getattr(importlib.import_module(module_name), function)().state_dict(), path)
    finally:
        sys.path.remove(str(folder))


WRITERS = {("timm", "imagenet"): _timm, ("open_clip", "imagenet"): _open_clip,
           ("torchvision", "imagenet"): _torchvision, ("transformers", "imagenet"): _deit,
           ("transformers", "none"): _dinov2, ("module", "imagenet"): _module}


def _config(models: dict[str, dict]) -> dict:
    """The demo world, ImageNet val (accuracy) and one VTAB task (transfer), and the README's models."""
    tiny = yaml.safe_load(TINY_DEMO.read_text())
    datasets = {d: tiny["datasets"][d] for d in ("imagenet_val", "vtab_counting")}
    return {"demo": tiny["demo"], "models": models, "zero_shot": tiny["zero_shot"], "datasets": datasets,
            "properties": {"accuracy": {"datasets": ["imagenet_val"]}, "transfer": {"datasets": ["vtab_counting"]}},
            "extraction": {**tiny["extraction"], "device": "auto"}}


def test_the_readme_has_one_example_per_source_and_a_headless_one():
    from beyond_imagenet.catalog.model_sources import MODEL_SOURCES

    models = readme_models()
    sources = {entry["source"] for entry in models.values()}
    assert sources == set(MODEL_SOURCES) - {"transformers_clip"}  # that one: named in the text, weights too large
    assert [m for m, e in models.items() if e.get("head") == "none"] == ["dinov2_small"]
    assert set(WRITERS) == {(e["source"], e.get("head", "imagenet")) for e in models.values()}


def _slot_periods(run: Path) -> list[tuple[int, datetime, datetime, str]]:
    """(slot, when the job took it and when it released it, log) of every extraction job."""
    periods = []
    for log in sorted((run / "logs/extract_outputs").rglob("*.log")):
        lines = log.read_text().splitlines()
        taken = next(k for k, line in enumerate(lines) if re.search(r"GPU slot (\d+) of 2", line))
        released = next(k for k, line in enumerate(lines) if re.search(r"GPU slot (\d+) released", line))
        slot = int(re.search(r"GPU slot (\d+) of 2", lines[taken]).group(1))
        assert f"GPU slot {slot} released" in lines[released]

        def at(line: str) -> datetime:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        periods.append((slot, at(lines[taken]), at(lines[released]), str(log.relative_to(run))))
    return periods


def test_each_readme_model_runs_as_printed_and_two_gpu_jobs_take_two_gpus(tmp_path):
    from beyond_imagenet.extract.devices import SIMULATED_ENV, SLOT_DIR_ENV

    run = tmp_path / "run"
    run.mkdir()
    (run / "config").symlink_to(REPO / "config")
    models = readme_models()
    _write_weights(run, models)
    (run / "my.yaml").write_text(yaml.safe_dump(_config(models), sort_keys=False))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", SIMULATED_ENV: "2", SLOT_DIR_ENV: str(tmp_path / "slots")}
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "all",
                             "--cores", "2", "--resources", "gpu=2", "--configfile", "my.yaml"],
                            cwd=run, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]

    accuracy = pd.read_csv(run / "results/tables/accuracy.csv")
    classified = [m for m, e in models.items() if e.get("head") != "none"]
    assert set(accuracy["model"]) == set(classified)
    assert set(pd.read_csv(run / "results/tables/transfer.csv")["model"]) == set(models)
    summary = pd.read_csv(run / "results/tables/summary.csv").set_index("model")
    assert (summary.loc["dinov2_small", [c for c in summary.columns if "top-1" in c.lower() and "VTAB" not in c]]
            == "no ImageNet head").all()
    assert "no ImageNet head" in (run / "results/cards/dinov2_small.md").read_text()
    wide = pd.read_csv(run / "results/tables/paper_style/accuracy.csv", index_col="model")
    assert (wide.loc["dinov2_small"] == "no ImageNet head").all()
    table1 = pd.read_csv(run / "results/tables/table1.csv").set_index("model")
    assert table1.loc["dinov2_small", "imagenet_top1_ci"] == "no ImageNet head"
    assert table1.loc["deit_tiny", "input_px"] == 224 and table1.loc["my_net", "source"] == "module"
    assert 1.0 < table1.loc["deit_tiny", "params_M"] < 1.5  # DeiT-tiny's embeddings and head, 2 of its 12 blocks

    periods = _slot_periods(run)
    assert len(periods) >= len(models)
    overlapping = [(a, b) for i, a in enumerate(periods) for b in periods[i + 1:] if a[1] < b[2] and b[1] < a[2]]
    assert overlapping, f"no two extraction jobs ran at once: {periods}"
    for a, b in overlapping:
        assert a[0] != b[0], f"{a[3]} and {b[3]} ran at once on the same GPU slot {a[0]}"
