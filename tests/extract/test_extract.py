"""The cache contract: parity with a direct forward pass, bit-identical resume, refused bad files."""

import dataclasses

import h5py
import numpy as np
import pytest
import torch

from beyond_imagenet.data.formats import list_samples, load_rgb
from beyond_imagenet.extract.run import extract_outputs
from beyond_imagenet.models.build import load_model
from beyond_imagenet.store.cache import CacheError, CacheFileWriter, GroupWriter, partial_path, read_outputs
from beyond_imagenet.store.scores import true_class_probability


def _direct_logits(loaded, samples) -> np.ndarray:
    """model(transform(image)) one image at a time, with no DataLoader, cache or batching."""
    transform = loaded.preprocess.to_transform()
    with torch.inference_mode():
        rows = [loaded.network(transform(load_rgb(samples.root / i))[None])[0] for i in samples.ids]
    return torch.cat(rows).numpy()


@pytest.fixture(scope="module")
def timm_loaded(timm_spec):
    return load_model(timm_spec)


@pytest.fixture(scope="module")
def clip_loaded(clip_spec):
    head = torch.nn.functional.normalize(torch.randn(1000, 64, generator=torch.Generator().manual_seed(1)), dim=-1)
    return load_model(clip_spec, head, logit_scale=100.0)


@pytest.mark.parametrize("which", ["timm", "open_clip"])
def test_cached_logits_equal_direct_forward(which, timm_loaded, clip_loaded, val_dataset, tmp_path):
    loaded = timm_loaded if which == "timm" else clip_loaded
    samples = list_samples(val_dataset)
    path = extract_outputs(loaded, val_dataset, samples, tmp_path / "out.h5", batch_size=7)
    cached = read_outputs(path, expect={"model": loaded.spec.id, "dataset": "val"})
    np.testing.assert_allclose(cached.logits, _direct_logits(loaded, samples), rtol=1e-4, atol=1e-4)
    assert list(cached.ids) == list(samples.ids)
    assert list(cached.labels) == list(samples.labels)
    assert cached.identity["image_list_sha256"] == samples.fingerprint()
    assert cached.identity["preprocess"]["crop"] == loaded.preprocess.crop
    assert not partial_path(path).exists()
    with h5py.File(path) as handle:  # the per-image scores were stored by the job, equal to the logits' own
        group = handle["val/standard"]
        assert np.array_equal(group["argmax"][:], cached.logits.argmax(axis=1))
        assert np.array_equal(group["p_true"][:], true_class_probability(cached.logits, cached.labels))


class Interrupted(BaseException):
    """Stands in for a killed job (no Exception: nothing that drops a failing teammate catches it)."""


def _extract_killed_after(writes, loaded, dataset, samples, target, monkeypatch, **options):
    """Run an extraction that dies at its (writes+1)-th group write, leaving a partial; restores write."""
    real_write, calls = GroupWriter.write, []

    def write_then_die(self, start, logits, features, layers=None):
        if len(calls) == writes:
            raise Interrupted
        calls.append((self.where, start))
        real_write(self, start, logits, features, layers)

    monkeypatch.setattr(GroupWriter, "write", write_then_die)
    with pytest.raises(Interrupted):
        extract_outputs(loaded, dataset, samples, target, **options)
    monkeypatch.setattr(GroupWriter, "write", real_write)
    return real_write


def test_killed_extraction_resumes_bit_identical(timm_loaded, val_dataset, tmp_path, monkeypatch):
    samples = list_samples(val_dataset)
    reference = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "ref.h5", batch_size=6))

    target = tmp_path / "resumed.h5"
    real_write = _extract_killed_after(2, timm_loaded, val_dataset, samples, target, monkeypatch, batch_size=6)
    assert not target.exists() and partial_path(target).exists()
    with h5py.File(partial_path(target)) as handle:
        assert int(handle["val/standard"].attrs["rows_done"]) == 12
    with pytest.raises(CacheError, match=r"does not exist \(an unfinished extraction"):
        read_outputs(target)

    resumed_rows = []
    monkeypatch.setattr(GroupWriter, "write",
                        lambda self, s, l, f, layers=None: (resumed_rows.append(s), real_write(self, s, l, f, layers)))
    resumed = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, target, batch_size=6))
    assert resumed_rows[0] == 12  # it resumed, not restarted
    assert np.array_equal(resumed.logits, reference.logits)


def test_partial_from_other_batch_size_is_restarted(timm_loaded, val_dataset, tmp_path, monkeypatch):
    samples = list_samples(val_dataset)
    target = tmp_path / "o.h5"
    writer = CacheFileWriter(target, {"job": "val", "model": "x"}, batch_size=6)
    group = writer.group("val", "standard", list(samples.ids), list(samples.labels), {"model": "x"})
    group.write(0, np.ones((6, 1000), np.float32), None)
    writer.close()
    out = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, target, batch_size=5))
    assert not np.any(np.all(out.logits[:6] == 1.0, axis=1))


def test_truncated_file_is_refused(timm_loaded, val_dataset, tmp_path):
    samples = list_samples(val_dataset)
    path = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "t.h5", batch_size=8)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(CacheError, match="truncated or corrupt|damaged"):
        read_outputs(path)


@pytest.mark.faults
def test_incomplete_and_mismatched_files_are_refused(timm_loaded, val_dataset, tmp_path):
    samples = list_samples(val_dataset)
    path = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "m.h5", batch_size=8)
    with pytest.raises(CacheError, match=r"made with model='tiny_vit', expected 'other'"):
        read_outputs(path, expect={"model": "other"})
    with pytest.raises(CacheError, match=r"has no view 'scale=2'"):
        read_outputs(path, "val", "scale=2")
    with pytest.raises(CacheError, match=r"has no dataset 'imagenet_r'"):
        read_outputs(path, "imagenet_r", "standard")
    with h5py.File(path, "r+") as handle:
        handle.attrs["complete"] = False
    with pytest.raises(CacheError, match="marked incomplete"):
        read_outputs(path)


def test_features_are_stored_when_asked(timm_loaded, val_dataset, tmp_path):
    import dataclasses

    samples = list_samples(val_dataset)
    with_features = dataclasses.replace(val_dataset, features=True)
    path = extract_outputs(timm_loaded, with_features, samples, tmp_path / "f.h5", batch_size=8)
    cached = read_outputs(path, features=True)
    assert cached.features.shape == (len(samples), timm_loaded.network.model.num_features)
    plain = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "nf.h5", batch_size=8)
    with pytest.raises(CacheError, match="has no features"):
        read_outputs(plain, features=True)


@pytest.mark.gpu
def test_cuda_extraction_matches_cpu(timm_loaded, val_dataset, tmp_path):
    samples = list_samples(val_dataset)
    cpu = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "cpu.h5", device="cpu"))
    cuda = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "cuda.h5", device="cuda"))
    np.testing.assert_allclose(cuda.logits, cpu.logits, rtol=1e-3, atol=1e-3)
    bf16 = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "bf16.h5", device="cuda",
                                        precision="bf16"))
    assert np.mean(bf16.logits.argmax(1) == cpu.logits.argmax(1)) > 0.9
    timm_loaded.network.cpu()


def test_cuda_request_without_gpu_is_an_error(monkeypatch):
    from beyond_imagenet.extract.devices import SIMULATED_ENV, job_device

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible; this checks the CPU-only error")
    monkeypatch.delenv(SIMULATED_ENV, raising=False)
    with pytest.raises(RuntimeError, match="no CUDA device is visible"), job_device("cuda"):
        pass
    with job_device("auto") as choice:
        assert choice.device.type == "cpu" and choice.slot is None


def test_sharded_extraction_merges_to_the_unsharded_result(timm_loaded, val_dataset, tmp_path):
    import dataclasses

    from beyond_imagenet.config.specs import dataset_keys, split_dataset_key
    from beyond_imagenet.store.cache import merge_parts

    whole = read_outputs(extract_outputs(timm_loaded, val_dataset, list_samples(val_dataset), tmp_path / "w.h5",
                                         batch_size=4))
    sharded = dataclasses.replace(val_dataset, shards=3)
    parts = []
    for key in dataset_keys(sharded):
        part = split_dataset_key(key)[1]
        path = extract_outputs(timm_loaded, sharded, list_samples(sharded, part), tmp_path / f"{key}.h5",
                               batch_size=4, part=part)
        parts.append(read_outputs(path))
    assert [p.identity["part"] for p in parts] == ["shard_1_of_3", "shard_2_of_3", "shard_3_of_3"]
    merged = merge_parts(parts)[("val", "standard")]
    assert list(merged.ids) == list(whole.ids) and np.array_equal(merged.labels, whole.labels)
    np.testing.assert_allclose(merged.logits, whole.logits, rtol=1e-5, atol=1e-5)


def test_declared_size_sets_the_shards():
    from beyond_imagenet.config.specs import dataset_keys, dataset_specs, images_of

    config = {"datasets": {"val": {"format": "imagefolder_wnid", "root": "x", "images": 50_000},
                           "small": {"format": "imagefolder_wnid", "root": "y", "images": 900}},
              "extraction": {"max_images_per_job": 20_000}}
    specs = dataset_specs(config)
    assert dataset_keys(specs["val"]) == ["val.shard_1_of_3", "val.shard_2_of_3", "val.shard_3_of_3"]
    assert dataset_keys(specs["small"]) == ["small"]
    assert images_of(specs["val"], "shard_2_of_3") == 16_666


def _rebuild(spec):
    def at_size(size):
        return load_model(spec, image_size=size)

    return at_size


def test_every_view_from_one_decode_equals_one_view_per_run(timm_loaded, timm_spec, val_dataset, tmp_path):
    """A multi-view job gives each view exactly what a separate one-view extraction gives, aliases included."""
    samples = list_samples(val_dataset)
    views = ("standard", "scale=1", "scale=1.5", "shift=0", "shift=4", "resolution=32", "resolution=48")
    path = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "all.h5", views=views, batch_size=6,
                           model_at=_rebuild(timm_spec))
    for view in views:
        alone = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / f"{view}.h5", views=(view,),
                                batch_size=6, model_at=_rebuild(timm_spec))
        together, separate = read_outputs(path, "val", view), read_outputs(alone)
        np.testing.assert_array_equal(together.logits, separate.logits, err_msg=view)
        assert together.identity["view"] == view
    with h5py.File(path) as handle:  # the identity views (scale=1, resolution=<crop>) are not computed again
        assert sorted(handle["val"]) == ["resolution=48", "scale=1.5", "shift=0", "shift=4", "standard"]
    alias = read_outputs(path, "val", "resolution=32")
    assert alias.identity["computed_as"] == "standard" and "resolution=32" in alias.identity["views"]


def test_model_is_loaded_once_per_size_and_images_decoded_once(timm_spec, val_dataset, tmp_path, monkeypatch):
    import beyond_imagenet.data.formats as datasets_module

    built = []
    decoded = []
    real_load = datasets_module.SampleList.load
    monkeypatch.setattr(datasets_module.SampleList, "load", lambda self, row: (decoded.append(row), real_load(self, row))[1])

    def at_size(size):
        built.append(size)
        return load_model(timm_spec, image_size=size)

    from beyond_imagenet.extract.run import DatasetTask, RunSettings, extract_job

    samples = list_samples(val_dataset)
    task = DatasetTask("val", val_dataset, samples, ("standard", "scale=2", "resolution=48", "resolution=64"))
    extract_job(at_size, [task], tmp_path / "j.h5", {"job": "val"}, RunSettings(batch_size=8))
    assert built == [None, 48, 64]
    assert sorted(decoded) == list(range(len(samples)))


def test_killed_between_two_views_resumes_each_group_where_it_stopped(timm_loaded, timm_spec, val_dataset, tmp_path,
                                                                      monkeypatch):
    samples = list_samples(val_dataset)
    views = ("standard", "scale=1.5")
    reference = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "ref.h5", views=views, batch_size=6)
    target = tmp_path / "t.h5"
    # batch 0 of both views, then batch 1 of the first view only
    _extract_killed_after(3, timm_loaded, val_dataset, samples, target, monkeypatch, views=views, batch_size=6)
    extract_outputs(timm_loaded, val_dataset, samples, target, views=views, batch_size=6)
    for view in views:
        np.testing.assert_array_equal(read_outputs(target, "val", view).logits,
                                      read_outputs(reference, "val", view).logits)


# --- a cache is verified before it is trusted (issue 9: in-place changes, damaged partials, lost writes) ----

def _first_chunk_offset(path, name):
    with h5py.File(path) as handle:
        return handle[name].id.get_chunk_info(0).byte_offset


@pytest.mark.faults
def test_logits_changed_in_place_are_refused(timm_loaded, val_dataset, tmp_path):
    path = extract_outputs(timm_loaded, val_dataset, list_samples(val_dataset), tmp_path / "c.h5", batch_size=8)
    offset = _first_chunk_offset(path, "val/standard/logits")
    with open(path, "r+b") as handle:  # the HDF5 structure stays intact; only numbers change
        handle.seek(offset + 400)
        handle.write(np.full(8, 9.5, np.float32).tobytes())
    with pytest.raises(CacheError, match=r"logits: rows 0\.\.8 do not match their digest"):
        read_outputs(path).logits  # verified when first read


@pytest.mark.faults
def test_ids_changed_in_place_are_refused(timm_loaded, val_dataset, tmp_path):
    path = extract_outputs(timm_loaded, val_dataset, list_samples(val_dataset), tmp_path / "i.h5", batch_size=8)
    with h5py.File(path, "r+") as handle:
        ids = handle["val/standard/ids"]
        ids[0] = ids[1]
    with pytest.raises(CacheError, match="ids do not match their digest"):
        read_outputs(path)


@pytest.mark.faults
def test_a_damaged_partial_group_is_recomputed_not_resumed(timm_loaded, val_dataset, tmp_path, monkeypatch):
    samples = list_samples(val_dataset)
    reference = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "ref.h5", batch_size=6))
    target = tmp_path / "p.h5"
    _extract_killed_after(2, timm_loaded, val_dataset, samples, target, monkeypatch, batch_size=6)
    offset = _first_chunk_offset(partial_path(target), "val/standard/logits")
    with open(partial_path(target), "r+b") as handle:  # zero rows the partial says are done
        handle.seek(offset)
        handle.write(bytes(4 * 1000 * 3))
    resumed = read_outputs(extract_outputs(timm_loaded, val_dataset, samples, target, batch_size=6))
    assert np.array_equal(resumed.logits, reference.logits)


@pytest.mark.faults
def test_rows_that_never_reached_the_file_stop_the_rename(tmp_path):
    writer = CacheFileWriter(tmp_path / "h.h5", {"job": "x"}, batch_size=4)
    group = writer.group("val", "standard", ["a", "b", "c", "d", "e"], [0, 1, 2, 3, 4], {"dataset": "val"})
    group.write(0, np.ones((4, 1000), np.float32), None)
    group.group.attrs["rows_done"] = 5  # counted as written, but the second chunk never landed (a full disk)
    with pytest.raises(CacheError, match=r"1 of 2 chunks are in the file"):
        writer.finish()
    writer.close()
    assert not (tmp_path / "h.h5").exists()


# --- one writer per cache (issue 9, case 2) ---------------------------------------------------------------

@pytest.mark.faults
def test_a_second_writer_is_refused_and_the_first_ones_partial_survives(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "w.h5"
    first = CacheFileWriter(target, {"job": "x"}, batch_size=4)
    group = first.group("val", "standard", ["a", "b", "c", "d"], [0, 1, 2, 3], {"dataset": "val"})
    group.write(0, np.ones((4, 1000), np.float32), None)
    # a second process (a run after --unlock, or a rerun-incomplete) tries the same cache
    code = ("import sys; from pathlib import Path; from beyond_imagenet.store.cache import CacheFileWriter, CacheError\n"
            f"try:\n    CacheFileWriter(Path({str(target)!r}), {{'job': 'x'}}, batch_size=4)\n"
            "except CacheError as error:\n    print(error); sys.exit(3)\n")
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert second.returncode == 3 and "is being written by process" in second.stdout, second.stdout + second.stderr
    assert group.rows_done == 4
    first.finish()
    assert read_outputs(target).logits.sum() == 4000 and not (tmp_path / "w.h5.partial.lock").exists()


@pytest.mark.faults
def test_a_dead_writers_lock_is_taken_over(tmp_path):
    import socket

    target = tmp_path / "d.h5"
    (tmp_path / "d.h5.partial.lock").write_text(f"{socket.gethostname()} 999999999\n")  # no such process
    writer = CacheFileWriter(target, {"job": "x"}, batch_size=4)
    writer.group("val", "standard", ["a"], [0], {"dataset": "val"}).write(0, np.ones((1, 1000), np.float32), None)
    writer.finish()
    assert read_outputs(target).logits.shape == (1, 1000)


@pytest.mark.parametrize(("setting", "supervised_skips", "clip_skips"), [
    ("none", False, False), ("supervised", True, False), ("all", True, True)])
@pytest.mark.faults
def test_native_resolution_says_which_models_skip_resize_and_crop(setting, supervised_skips, clip_skips,
                                                                   timm_loaded, clip_loaded, val_dataset):
    """Explicit, not implied by `training:` (issue 9, case 11): the setting names who sees stored pixels."""
    import dataclasses

    from beyond_imagenet.extract.run import dataset_preprocess

    dataset = dataclasses.replace(val_dataset, native_resolution=setting)
    supervised = dataclasses.replace(timm_loaded, spec=dataclasses.replace(timm_loaded.spec, training="supervised"))
    assert (dataset_preprocess(supervised, dataset).crop == 0) is supervised_skips
    assert (dataset_preprocess(clip_loaded, dataset).crop == 0) is clip_skips


@pytest.mark.faults
def test_a_cache_copied_to_another_jobs_path_is_refused(timm_loaded, val_dataset, tmp_path):
    """ImageNet-R's cache under Sketch's path was counted as R twice; a group must be the dataset asked for."""
    import shutil

    path = extract_outputs(timm_loaded, val_dataset, list_samples(val_dataset), tmp_path / "val.h5", batch_size=8)
    shutil.copy(path, tmp_path / "sketch.h5")
    with pytest.raises(CacheError, match=r"has no dataset 'imagenet_sketch'"):
        read_outputs(tmp_path / "sketch.h5", "imagenet_sketch", "standard")
    with h5py.File(tmp_path / "sketch.h5", "r+") as handle:
        handle.move("val", "imagenet_sketch")  # renamed inside, too: the group's own identity still says val
    with pytest.raises(CacheError, match=r"made with dataset='val', expected 'imagenet_sketch'"):
        read_outputs(tmp_path / "sketch.h5", "imagenet_sketch", "standard")


# --- layer activations for representation similarity: recorded by the same pass, on a seeded subset --------

@pytest.mark.parametrize("which", ["timm", "open_clip"])
def test_layer_activations_of_a_subset_equal_a_direct_hooked_forward(which, timm_loaded, clip_loaded, val_dataset,
                                                                     tmp_path):
    from beyond_imagenet.extract.run import DatasetTask, LayerRecorder, RunSettings, extract_job, layer_subset

    loaded = timm_loaded if which == "timm" else clip_loaded
    samples = list_samples(val_dataset)
    request = {"images": 7, "seed": 3, "layers": r"(^|\.)(blocks|resblocks)\.\d+$"}
    task = DatasetTask("val", val_dataset, samples, ("standard",), request)
    path = extract_job(lambda size: loaded, [task], tmp_path / "l.h5", {"job": "val"}, RunSettings(batch_size=6))
    cached = read_outputs(path, "val", "standard", layers=True)
    rows = layer_subset(len(samples), 7, 3)
    assert cached.layer_rows.tolist() == rows.tolist() and len(rows) == 7
    recorder = LayerRecorder(loaded, request["layers"])
    assert list(cached.layers) == recorder.names and len(recorder.names) > 1
    transform = loaded.preprocess.to_transform()
    with torch.inference_mode():
        loaded.network(torch.stack([transform(load_rgb(samples.root / samples.ids[r])) for r in rows]))
    direct = recorder.pooled(len(rows))
    recorder.remove()
    for name in recorder.names:
        for kind, values in direct[name].items():
            np.testing.assert_allclose(cached.layers[name][kind], values.numpy(), rtol=1e-4, atol=1e-5)
    tower = loaded.network.model.visual if which == "open_clip" else loaded.network.model
    tower_modules = dict(tower.named_modules())
    assert all(name in tower_modules for name in recorder.names)  # the image tower only, never the text tower
    if which == "open_clip":
        text_blocks = [n for n, _ in loaded.network.model.transformer.named_modules() if n.startswith("resblocks.")]
        assert text_blocks and len(recorder.names) == len(tower.transformer.resblocks)


@pytest.mark.faults
def test_a_model_that_outputs_nan_is_refused_naming_model_dataset_view_and_image(timm_spec, val_dataset, tmp_path):
    """A checkpoint with one NaN weight gave argmax 0 for every image and ran to the end (issue 19)."""
    from beyond_imagenet.extract.run import NonFiniteOutputError

    broken = load_model(timm_spec)
    with torch.no_grad():
        broken.network.model.head.weight[3, 0] = float("nan")
    samples = list_samples(val_dataset)
    with pytest.raises(NonFiniteOutputError, match=rf"model 'tiny_vit' gives non-finite logits on dataset 'val', view "
                                                  rf"'standard', first at image '{samples.ids[0]}' \(row 0\)"):
        extract_outputs(broken, val_dataset, samples, tmp_path / "nan.h5", batch_size=8)
    assert not (tmp_path / "nan.h5").exists()


# --- shared decoding: several models over one decode of each image (extraction.share_decoding) ---------------

def _team_run(members, val_dataset, samples, views, crash_after=None, monkeypatch=None):
    from beyond_imagenet.extract.run import DatasetTask, RunSettings, extract_team

    if crash_after is not None:
        real_write, calls = GroupWriter.write, []

        def write_then_die(self, start, logits, features, layers=None):
            if len(calls) == crash_after:
                raise Interrupted
            calls.append(start)
            real_write(self, start, logits, features, layers)
        monkeypatch.setattr(GroupWriter, "write", write_then_die)
        with pytest.raises(Interrupted):
            extract_team(members, [DatasetTask("val", val_dataset, samples, views)], RunSettings(batch_size=8))
        monkeypatch.setattr(GroupWriter, "write", real_write)
    extract_team(members, [DatasetTask("val", val_dataset, samples, views)], RunSettings(batch_size=8))


@pytest.mark.parametrize("crash_after", [None, 7])  # 7 writes: one member a block further than the other
def test_models_sharing_each_images_decoding_write_what_each_writes_alone(crash_after, timm_loaded, clip_loaded,
                                                                          val_dataset, tmp_path, monkeypatch):
    from beyond_imagenet.extract.run import TeamMember

    samples = list_samples(val_dataset)
    views = ("standard", "scale=1.5", "shift=5")
    alone = {name: extract_outputs(loaded, val_dataset, samples, tmp_path / f"alone_{name}.h5", views=views,
                                   batch_size=8) for name, loaded in (("timm", timm_loaded), ("clip", clip_loaded))}
    members = [TeamMember(lambda size, loaded=loaded: loaded, tmp_path / f"team_{name}.h5", {"job": "val"})
               for name, loaded in (("timm", timm_loaded), ("clip", clip_loaded))]
    _team_run(members, val_dataset, samples, views, crash_after, monkeypatch)
    for name in ("timm", "clip"):
        for view in views:
            shared = read_outputs(tmp_path / f"team_{name}.h5", "val", view)
            own = read_outputs(alone[name], "val", view)
            assert shared.logits.tobytes() == own.logits.tobytes(), (name, view)
            assert list(shared.ids) == list(own.ids) and shared.identity["model"] == own.identity["model"]


def test_two_members_of_one_geometry_share_its_tensor_and_write_what_each_writes_alone(timm_loaded, val_dataset,
                                                                                     tmp_path):
    from beyond_imagenet.extract.run import TeamMember

    samples = list_samples(val_dataset)
    alone = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "alone.h5", batch_size=8)
    members = [TeamMember(lambda size: timm_loaded, tmp_path / f"twin{k}.h5", {"job": "val"}) for k in range(2)]
    _team_run(members, val_dataset, samples, ("standard",))
    for k in range(2):
        assert read_outputs(tmp_path / f"twin{k}.h5").logits.tobytes() == read_outputs(alone).logits.tobytes()


@pytest.mark.faults
@pytest.mark.parametrize("fault", ["setup", "non-finite outputs"])
def test_a_failing_teammate_is_dropped_and_the_jobs_own_model_finishes(fault, timm_loaded, clip_loaded, val_dataset,
                                                                       tmp_path, caplog):
    from beyond_imagenet.extract.run import TeamMember
    from beyond_imagenet.store.cache import WriterLock, lock_path

    class Broken(torch.nn.Module):  # a teammate whose outputs turn NaN after its first batch
        def __init__(self, network):
            super().__init__()
            self.network, self.calls = network, 0

        def forward(self, images):
            self.calls += 1
            logits, features = self.network(images)
            return (logits * float("nan") if self.calls > 1 else logits), features

    def broken_at(size):
        if fault == "setup":
            raise CacheError("head.h5: built from other templates")  # e.g. a zero-shot head that does not match
        return dataclasses.replace(clip_loaded, network=Broken(clip_loaded.network))

    samples = list_samples(val_dataset)
    teammate = tmp_path / "teammate.h5"
    lock = WriterLock(lock_path(teammate))  # claimed by the leader, as claim_team_members does
    members = [TeamMember(lambda size: timm_loaded, tmp_path / "own.h5", {"job": "val"}),
               TeamMember(broken_at, teammate, {"job": "val"}, lock=lock)]
    _team_run(members, val_dataset, samples, ("standard",))
    alone = extract_outputs(timm_loaded, val_dataset, samples, tmp_path / "alone.h5", batch_size=8)
    assert read_outputs(tmp_path / "own.h5").logits.tobytes() == read_outputs(alone).logits.tobytes()
    assert not teammate.exists() and not lock_path(teammate).exists()  # left to its own job, its lock freed
    assert "is left to its own job" in caplog.text
