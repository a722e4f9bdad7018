"""Two runs give the same bytes: the demo world's images and the figures (issue 9, case 10)."""

import hashlib
import time
from pathlib import Path

import pytest

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.demo.settings import WorldSettings
from beyond_imagenet.demo.world import generate_world

from ..conftest import TINY_CLASSES


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.faults
def test_two_demo_world_generations_are_byte_identical(tmp_path):
    settings = dict(classes=TINY_CLASSES, image_size=32, val_per_class=2, train_per_class=1, c_per_class=1)
    for name in ("a", "b"):
        generate_world(WorldSettings(root=str(tmp_path / name), **settings))
    first, second = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert first.keys() == second.keys()
    manifests = [(tmp_path / n / "manifest.json").read_text().replace(str(tmp_path / n), "ROOT") for n in "ab"]
    assert manifests[0] == manifests[1]  # the same but for the root it names
    del first["manifest.json"], second["manifest.json"]
    differing = sorted(k for k in first if first[k] != second[k])
    assert not differing, differing[:5]  # glass_blur and impulse_noise ignored numpy's seed before


@pytest.mark.faults
def test_figures_are_byte_identical_across_runs(tmp_path):
    from beyond_imagenet.properties import property_def
    from beyond_imagenet.store.rows import metric_frame, metric_row

    models = {"vit_sup": ModelSpec(id="vit_sup", source="timm", name="x", weights="hub", family="vit",
                                   training="supervised", display_name="ViT-sup")}
    metrics = metric_frame([metric_row("vit_sup", "accuracy", "imagenet_val", "imagenet_val", "top1_pct", 50.0, 10)])
    plot = property_def("accuracy").plot()
    for name in ("a", "b"):
        plot(metrics, models, tmp_path / name / "accuracy", {})
        time.sleep(1.1)  # a PDF creation date has 1 s resolution
    for suffix in (".pdf", ".png"):
        assert (tmp_path / "a" / f"accuracy{suffix}").read_bytes() == (tmp_path / "b" / f"accuracy{suffix}").read_bytes()
