"""Extraction job planning and rule params: fewer jobs, every view once, and params that are the cache identity."""

import copy

import pytest

from beyond_imagenet.config.schema import ConfigError, load_config
from beyond_imagenet.config.specs import dataset_keys, dataset_specs
from beyond_imagenet.pipeline.plan import dataset_views, extraction_jobs, property_refs
from beyond_imagenet.pipeline.targets import compute_params, extraction_params, report_models

from ..conftest import REPO

PAPER = load_config(REPO / "config/config.yaml")
DEMO = load_config(REPO / "config/demo.yaml")


@pytest.mark.parametrize("config", [PAPER, DEMO], ids=["paper", "demo"])
def test_every_dataset_key_is_extracted_by_exactly_one_job(config):
    jobs = extraction_jobs(config)
    planned = [key for job in jobs.values() for key in job.dataset_keys]
    specs = dataset_specs(config)
    needed = [key for dataset in dataset_views(config) for key in dataset_keys(specs[dataset])]
    assert sorted(planned) == sorted(needed) and len(planned) == len(set(planned))


def test_paper_plan_shape():
    jobs = extraction_jobs(PAPER)
    assert jobs["imagenet_val"].dataset_keys == ("imagenet_val",)
    c_jobs = [name for name in jobs if name.startswith("imagenet_c.")]
    assert len(c_jobs) == 15 and all(len(jobs[name].dataset_keys) == 5 for name in c_jobs)  # job_per: corruption
    assert len(jobs) <= 26  # from 117 extraction jobs (model loads) per model
    limit = PAPER["extraction"]["pack_images"]
    for job in jobs.values():
        if job.name.startswith("pack_"):
            assert job.passes <= limit and len(job.dataset_keys) > 1


def test_views_are_those_the_properties_read():
    views = dataset_views(PAPER)
    assert views["imagenet_val"][0] == "standard" and len(views["imagenet_val"]) == 16  # + 15 invariance views
    assert views["imagenet_r"] == ("standard",) and "imagenet_val" not in [d for d in views if d.startswith("vtab")]


@pytest.mark.parametrize(("job_per", "jobs_per_model"), [("cell", 75), ("corruption", 15), ("dataset", 1)])
def test_imagenet_c_grouping(job_per, jobs_per_model):
    config = copy.deepcopy(PAPER)
    config["datasets"]["imagenet_c"]["job_per"] = job_per
    c_jobs = [job for job in extraction_jobs(config).values() if job.name.startswith("imagenet_c")]
    assert len(c_jobs) == jobs_per_model and sum(len(j.dataset_keys) for j in c_jobs) == 75


def test_big_sets_get_their_own_job_and_shards_stay_apart():
    config = copy.deepcopy(PAPER)
    config["extraction"]["pack_images"] = 20_000
    config["datasets"]["imagenet_r"]["shards"] = 3
    jobs = extraction_jobs(config)
    assert "imagenet_sketch" in jobs and [n for n in jobs if n.startswith("imagenet_r.")] == [
        "imagenet_r.shard_1_of_3", "imagenet_r.shard_2_of_3", "imagenet_r.shard_3_of_3"]
    assert jobs["pack_imagenet_a_to_imagenet_hard"].dataset_keys == ("imagenet_a", "imagenet_hard")


def test_reordering_the_config_repacks_nothing():
    config = copy.deepcopy(PAPER)
    config["datasets"] = dict(reversed(list(config["datasets"].items())))
    assert extraction_jobs(config) == extraction_jobs(PAPER)


def test_a_dataset_named_like_a_pack_is_refused():
    config = {"models": {}, "datasets": {name: {"format": "imagefolder_wnid", "root": name, "images": images}
                                         for name, images in (("a", 10), ("b", 10), ("pack_a_to_b", 10**6))},
              "properties": {"accuracy": {"datasets": ["a", "b", "pack_a_to_b"]}}}
    with pytest.raises(ConfigError, match="'pack_a_to_b' is used twice"):
        extraction_jobs(config)


def test_property_refs_point_into_the_job_files():
    refs = property_refs(PAPER, "invariance", "vit_sup")
    assert {r.path for r in refs} == {"results/outputs/vit_sup/imagenet_val.h5"} and len(refs) == 15
    robustness = property_refs(PAPER, "robustness", "vit_sup")
    assert sum(r.dataset_key.startswith("imagenet_c.") for r in robustness) == 75
    assert {r.path for r in robustness if r.dataset_key == "imagenet_c.snow.3"} == {
        "results/outputs/vit_sup/imagenet_c.snow.h5"}


COSMETIC_OR_RUNTIME = [
    ("models", "vit_sup", "display_name", "Another name"),
    ("models", "vit_sup", "family", "other"),
    ("datasets", "imagenet_val", "get", "somewhere else"),
    ("datasets", "imagenet_val", "images", 49_999),
    ("extraction", None, "threads", 3),
    ("extraction", None, "batch_size", 7),
    ("extraction", None, "device", "cpu"),
]
OUTPUT_CHANGING = [
    ("models", "vit_sup", "name", "deit3_base_patch16_224.fb_in1k"),
    ("models", "vit_sup", "training", "other"),
    ("datasets", "imagenet_val", "root", "elsewhere/val"),
    ("extraction", None, "precision", "bf16"),
]


def _edited(section, entry, key, value):
    config = copy.deepcopy(PAPER)
    (config[section][entry] if entry else config[section])[key] = value
    return config


@pytest.mark.parametrize("edit", COSMETIC_OR_RUNTIME, ids=lambda e: e[2])
def test_cosmetic_and_runtime_edits_change_no_extraction_or_property_params(edit):
    config = _edited(*edit)
    assert extraction_params(config, "vit_sup", "imagenet_val") == extraction_params(PAPER, "vit_sup", "imagenet_val")
    assert compute_params(config, "vit_sup") == compute_params(PAPER, "vit_sup")


@pytest.mark.parametrize("edit", OUTPUT_CHANGING, ids=lambda e: e[2])
def test_edits_that_change_outputs_change_the_params(edit):
    config = _edited(*edit)
    assert extraction_params(config, "vit_sup", "imagenet_val") != extraction_params(PAPER, "vit_sup", "imagenet_val")


def test_display_name_reaches_only_the_reports():
    config = _edited("models", "vit_sup", "display_name", "Another name")
    assert report_models(config)["vit_sup"]["display_name"] == "Another name"


def test_a_property_that_compares_models_reads_every_models_groups(tmp_path, monkeypatch):
    """The table's 'models' scope: one metrics file from all models' caches (representation similarity's kind)."""
    import dataclasses

    import numpy as np

    from beyond_imagenet.pipeline import cpu as cpu_stage
    from beyond_imagenet.pipeline.targets import compare_params, metrics_inputs, per_model_metrics
    from beyond_imagenet.properties import _registry as registry
    from beyond_imagenet.store.cache import CacheFileWriter, read_outputs

    def agreement(caches_by_model, settings, datasets):
        from beyond_imagenet.store.rows import metric_frame, metric_row

        (a, *_), (b, *_) = caches_by_model.values()
        same = float(np.mean(a.logits.argmax(1) == b.logits.argmax(1)))
        return metric_frame([metric_row("vit_sup|vit_clip", "agreement", "imagenet_val", "all", "top1_agreement",
                                        same, len(a.labels))])

    fake = dataclasses.replace(registry.PROPERTIES["accuracy"], name="agreement", scope=registry.ACROSS_MODELS)
    monkeypatch.setattr(registry.PropertyDef, "compute", lambda self: agreement if self.name == "agreement"
                        else registry.importlib.import_module(f"beyond_imagenet.properties.{self.name}.compute").compute)
    monkeypatch.setitem(registry.PROPERTIES, "agreement", fake)
    config = copy.deepcopy(DEMO)
    config["models"] = {m: config["models"][m] for m in ("vit_sup", "vit_clip")}
    config["properties"] = {"agreement": {"datasets": ["imagenet_val"]}}
    assert per_model_metrics(config) == [] and metrics_inputs(config, "agreement") == [
        "results/metrics/agreement/all_models.csv"]
    params = compare_params(config, "agreement")
    assert set(params["refs"]) == set(config["models"])
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for model, refs in params["refs"].items():
        (path, key, view), = refs
        writer = CacheFileWriter(tmp_path / path, {"job": "x"}, batch_size=4)
        group = writer.group(key, view, ["a", "b", "c", "d"], [0, 1, 2, 3], {"model": model, "dataset": key,
                                                                              "part": None})
        group.write(0, rng.normal(size=(4, 1000)).astype(np.float32), None)
        writer.finish()
        assert read_outputs(tmp_path / path, key, view).identity["model"] == model
    cpu_stage.run_compare_models("agreement", params, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines()[1].startswith("vit_sup|vit_clip,agreement")


def test_a_new_meaning_of_views_or_caches_reruns_extraction(monkeypatch):
    """Transform code is not a snakemake input: its version is a param, so a change of meaning reruns caches."""
    from beyond_imagenet.pipeline import targets

    before = extraction_params(PAPER, "vit_sup", "imagenet_val")
    monkeypatch.setattr(targets, "VIEW_TRANSFORMS_VERSION", targets.VIEW_TRANSFORMS_VERSION + 1)
    assert extraction_params(PAPER, "vit_sup", "imagenet_val") != before


@pytest.mark.faults
def test_an_image_added_under_an_unchanged_root_reruns_its_extraction(tmp_path):
    """The listing's stamp is a param (issue 9, case 5): one directory walk per DAG build, no stat per image."""
    import time

    from PIL import Image

    from beyond_imagenet.pipeline.plan import listing_stamp

    folder = tmp_path / "val" / "n01440764"
    folder.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(folder / "a.JPEG")
    config = {"models": {"m": {"source": "timm", "name": "x", "weights": "hub"}},
              "datasets": {"val": {"format": "imagefolder_wnid", "root": str(tmp_path / "val")}},
              "properties": {"accuracy": {"datasets": ["val"]}}}
    before = extraction_params(config, "m", "val")
    listing_stamp.cache_clear()
    assert extraction_params(config, "m", "val") == before  # nothing changed: nothing reruns
    time.sleep(0.01)
    Image.new("RGB", (8, 8)).save(folder / "b.JPEG")
    listing_stamp.cache_clear()  # a new DAG build
    assert extraction_params(config, "m", "val")["listings"] != before["listings"]


def test_the_demo_world_is_stamped_by_its_manifest_not_by_a_walk():
    params = extraction_params(DEMO, "vit_sup", next(iter(extraction_jobs(DEMO))))
    assert set(params["listings"].values()) == {"generated"}


def test_switching_off_the_properties_beyond_the_paper_keeps_the_papers_extraction_plan():
    """The README's promise to a finished paper run: with the four off, not one extraction job changes."""
    beyond = ("ood_detection", "objectnet", "object_focus", "class_balance")
    off = copy.deepcopy(PAPER)
    for prop in beyond:
        off["properties"][prop]["enabled"] = False
    paper_only = copy.deepcopy(PAPER)
    for prop in beyond:
        del paper_only["properties"][prop]
    for dataset in ("imagenet_o", "objectnet", "imagenet_9"):
        del paper_only["datasets"][dataset]
    assert extraction_jobs(off) == extraction_jobs(paper_only)
    assert extraction_jobs(PAPER) != extraction_jobs(paper_only)  # with them on, two packs change (the README says so)
