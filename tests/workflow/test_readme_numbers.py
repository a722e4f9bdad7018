"""The numbers the README and config/README state about a run are the planner's: job counts from a dry run, views
and forward passes from the view planner, image passes from the declared sizes, dataset sizes from the sources."""

from __future__ import annotations

import re

import pytest
import yaml

from beyond_imagenet.catalog.public_datasets import DATASET_SOURCES
from beyond_imagenet.config.specs import dataset_specs, images_of
from beyond_imagenet.data.views import STANDARD_VIEW
from beyond_imagenet.pipeline.plan import dataset_views

from ..conftest import REPO
from .test_workflow import _run

pytestmark = pytest.mark.workflow
README = (REPO / "README.md").read_text()
CONFIG_README = (REPO / "config/README.md").read_text()
# The paper's two preprocessings: the supervised override and open_clip's for ViT-B-16 / convnext_base.
PAPER_PREPROCESS = {"supervised": (256, 224, "bilinear"), "clip": (224, 224, "bicubic")}


def _job_counts(configfile: str, run_dir) -> dict[str, int]:
    (run_dir / "config").symlink_to(REPO / "config")
    dry = _run(["all", "-n", "--cores", "2", "--configfile", str(REPO / configfile)], run_dir)
    assert dry.returncode == 0, dry.stderr[-2000:]
    return {job: int(count) for job, count in re.findall(r"^(\w+)\s+(\d+)$", dry.stdout, re.MULTILINE)}


def _stated(text: str, pattern: str) -> tuple[str, ...]:
    match = re.search(pattern, " ".join(text.split()))
    assert match, f"the document no longer says: {pattern}"
    return match.groups()


def test_the_paper_configs_job_counts_are_the_dry_runs(tmp_path):
    counts = _job_counts("config/config.yaml", tmp_path)
    models = len(yaml.safe_load((REPO / "config/config.yaml").read_text())["models"])
    total, extraction, per_model, heads, descriptions, metrics, compare, pairs, tables = map(int, _stated(
        README, r"The paper config plans (\d+) jobs: (\d+) extraction jobs \((\d+) per model.* (\d+) zero-shot heads "
                r".* (\d+) Table-1 descriptions, (\d+) metrics jobs .* (\d+) job comparing the models, (\d+) of paired "
                r"tests, (\d+) table\+figure jobs"))
    assert (total, extraction, per_model * models) == (counts["total"], counts["extract_outputs"], extraction)
    assert (heads, descriptions, metrics) == (counts["build_zero_shot_head"], counts["describe_model"],
                                              counts["compute_properties"])
    assert (compare, pairs, tables) == (counts["compare_models"], counts["compare_pairs"], counts["report_property"])
    assert tuple(map(int, _stated(CONFIG_README, r"The paper config plans (\d+) jobs: (\d+) extraction jobs "
                                                 r"\((\d+) per model\)"))) == (total, extraction, per_model)


def test_the_demos_job_count_is_the_dry_runs(tmp_path):
    (stated,) = _stated(README, r"the demo plans (\d+) jobs")
    assert int(stated) == _job_counts("config/demo.yaml", tmp_path)["total"]


def _passes(training: str, views: tuple[str, ...]) -> int:
    from beyond_imagenet.extract.run import plan_view_passes
    from beyond_imagenet.models.preprocess import Preprocess

    resize, crop, interpolation = PAPER_PREPROCESS[training]
    return len(plan_view_passes(Preprocess(resize, crop, interpolation, (0.5,) * 3, (0.5,) * 3), views))


def test_the_views_passes_and_image_passes_stated_are_the_planners():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    views, specs = dataset_views(config), dataset_specs(config)
    val = next(d for d, spec in specs.items() if spec.role == "imagenet_val")
    count, supervised, clip = map(int, _stated(README, r"ImageNet val's (\d+) views take (\d+) forward passes for a "
                                                       r"supervised model and (\d+) for a CLIP model"))
    assert (count, supervised, clip) == (len(views[val]), _passes("supervised", views[val]),
                                         _passes("clip", views[val]))
    assert STANDARD_VIEW in views[val]
    per_model = [float(x) for x in _stated(README, r"([\d.]+) million image passes per supervised model and "
                                                    r"([\d.]+) million per CLIP model")]
    for stated, training in zip(per_model, ("supervised", "clip")):
        total = sum(images_of(specs[d]) * _passes(training, v) for d, v in views.items())
        assert round(total / 1e6, 2) == stated, (training, total)


def test_the_dataset_table_states_the_published_counts():
    """The README's table of datasets (the `images` column) against the sources table the prepare step checks."""
    rows = {"ImageNet val": "imagenet_val", "ImageNet-V2 matched-frequency": "imagenet_v2", "ImageNet-A": "imagenet_a",
            "ImageNet-R": "imagenet_r", "ImageNet-Sketch": "imagenet_sketch", "cue-conflict": "cue_conflict",
            "PUG-ImageNet": "pug_imagenet"}
    for name, role in rows.items():
        line = next(line for line in README.splitlines() if line.strip().startswith(f"| {name} |"))
        stated = int(line.rstrip(" |").rsplit("|", 1)[1].strip().split()[0].replace(",", ""))
        assert stated == DATASET_SOURCES[role].expected.images, name
