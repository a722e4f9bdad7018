"""Stored data changed after the fact is refused (issue 19): every array of a cache, the zero-shot head and the
per-image outcomes carry content digests, verified on every read and before a resume keeps a block."""

import dataclasses

import h5py
import numpy as np
import pytest

from beyond_imagenet.stats.outcomes import OutcomesError, read_outcomes, write_outcomes
from beyond_imagenet.stats.resampling import paired_test
from beyond_imagenet.stats.statistics import MeanOf, Outcome, correct_outcome
from beyond_imagenet.store.cache import CacheError, CacheFileWriter, partial_path, read_head, read_outputs, write_head

pytestmark = pytest.mark.faults
ROWS, CLASSES = 10, 1000


def _cache(path, rows=ROWS, block=4, finish=True, layers=False):
    """A complete (or partial) cache with known logits, features and, optionally, layer activations."""
    rng = np.random.default_rng(0)
    writer = CacheFileWriter(path, {"job": "x", "model": "m"}, batch_size=block)
    layer_rows = np.array([1, 2, 7]) if layers else None
    identity = {"model": "m", "dataset": "val", "label_space": "imagenet1k", **({"layers": {"names": ["block0"]}} if layers else {})}
    group = writer.group("val", "standard", [f"i{k}" for k in range(rows)], list(range(rows)), identity,
                         layer_rows=layer_rows)
    logits = rng.standard_normal((rows, CLASSES)).astype(np.float32)
    for start in range(0, rows, block):
        block_layers = None
        if layers:
            inside = layer_rows[(layer_rows >= start) & (layer_rows < start + block)]
            block_layers = {"000_mean": np.full((len(inside), 3), start, np.float32)}
        group.write(start, logits[start:start + block], logits[start:start + block, :5], block_layers)
    if finish:
        writer.finish()
    else:
        writer.close()
    return logits


def test_logits_rewritten_through_h5py_are_refused(tmp_path):
    path = tmp_path / "c.h5"
    _cache(path)
    with h5py.File(path, "r+") as handle:  # the library rewrites the bytes and any checksum it keeps
        handle["val/standard/logits"][5, 3] = 42.0
    with pytest.raises(CacheError, match=r"c\.h5:val/standard/logits: rows 4\.\.8 do not match their digest"):
        read_outputs(path).logits  # read (and verified) when a property first uses them


def test_a_block_lost_as_zeros_is_refused(tmp_path):
    """A lost block reads back as zeros: a filter checksum of zeros is zero too, so only a content digest sees it."""
    path = tmp_path / "z.h5"
    _cache(path)
    with h5py.File(path, "r") as handle:
        info = handle["val/standard/logits"].id.get_chunk_info(1)
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset)
        handle.write(bytes(info.size))
    with pytest.raises(CacheError, match=r"logits: rows 4\.\.8 do not match their digest"):
        read_outputs(path).logits


@pytest.mark.parametrize("name", ["labels", "features", "layers/000_mean", "layer_rows", "argmax", "p_true"])
def test_every_other_array_is_verified(tmp_path, name):
    path = tmp_path / "a.h5"
    _cache(path, layers=True)
    with h5py.File(path, "r+") as handle:
        data = handle[f"val/standard/{name}"]
        data[0] = data[0] + 1
    with pytest.raises(CacheError, match=rf"{name}.* match"):
        read_outputs(path, features=True, layers=True)


def _full_softmax_p_true(logits, labels):
    """The definition, written out: one float64 softmax over every row at once, then each row's label."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return probabilities[np.arange(len(labels)), labels]


def test_stored_scores_equal_those_computed_from_the_logits_to_the_bit(tmp_path):
    path = tmp_path / "s.h5"
    logits = _cache(path)
    with h5py.File(path) as handle:
        assert {"argmax", "p_true"} <= set(handle["val/standard"])  # stored by the writer, not computed on read
    cached = read_outputs(path)
    assert cached.argmax.dtype == np.int16 and np.array_equal(cached.argmax, logits.argmax(axis=1))
    assert cached.p_true.dtype == np.float64
    assert cached.p_true.tobytes() == _full_softmax_p_true(logits, np.arange(ROWS)).tobytes()


def test_chunked_p_true_equals_one_softmax_over_all_rows(monkeypatch):
    from beyond_imagenet.store import scores

    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((37, 1000)) * 8).astype(np.float32)
    labels = rng.integers(0, 1000, 37)
    monkeypatch.setattr(scores, "SOFTMAX_ROWS", 5)  # many chunks, the last one short
    assert scores.true_class_probability(logits, labels).tobytes() == _full_softmax_p_true(logits, labels).tobytes()


def test_a_cache_made_before_scores_were_stored_reads_them_from_the_logits(tmp_path):
    path = tmp_path / "old.h5"
    logits = _cache(path)
    with h5py.File(path, "r+") as handle:  # what a cache of the previous release holds
        for name in ("argmax", "p_true"):
            del handle[f"val/standard/{name}"], handle[f"val/standard/digests/{name}"]
    cached = read_outputs(path)
    assert np.array_equal(cached.argmax, logits.argmax(axis=1))
    assert cached.p_true.tobytes() == _full_softmax_p_true(logits, np.arange(ROWS)).tobytes()


def test_a_scores_only_reader_never_reads_the_logits(tmp_path, monkeypatch):
    path = tmp_path / "lazy.h5"
    _cache(path)
    cached = read_outputs(path)
    monkeypatch.setattr(cached, "_load_logits", None)  # a read now would fail loudly
    assert len(cached.argmax) == ROWS and len(cached.p_true) == ROWS


def test_logits_of_a_file_replaced_after_its_labels_were_read_are_refused(tmp_path):
    path = tmp_path / "r.h5"
    _cache(path)
    cached = read_outputs(path)
    path.unlink()
    _cache(path, block=5)  # another extraction: other blocks, its own valid digests
    with pytest.raises(CacheError, match=r"r\.h5:val/standard/logits: the file was replaced"):
        cached.logits


def test_finish_refuses_logits_changed_after_their_block_was_written(tmp_path):
    writer = CacheFileWriter(tmp_path / "f.h5", {"job": "x"}, batch_size=4)
    group = writer.group("val", "standard", [f"i{k}" for k in range(8)], list(range(8)), {"dataset": "val"})
    for start in (0, 4):
        group.write(start, np.ones((4, CLASSES), np.float32), None)
    writer.handle["val/standard/logits"][5, 0] = 7.0  # after its digest: a cache that looks complete would lie
    with pytest.raises(CacheError, match=r"val/standard/logits: rows 4\.\.8 do not match their digest"):
        writer.finish()
    writer.close()
    assert not (tmp_path / "f.h5").exists()


@pytest.mark.parametrize(("space", "labels", "refused"), [("imagenet_r", [1, 2, 3, 4], False),
                                                     ("none", [-1] * 4, True),
                                                     ("imagenet1k", [1, 2, 3, 1000], True)])
def test_p_true_of_any_single_imagenet_label_and_never_of_a_set_without_one(tmp_path, space, labels, refused):
    writer = CacheFileWriter(tmp_path / "s.h5", {"job": "x"}, batch_size=4)
    group = writer.group("r", "standard", [f"i{k}" for k in range(4)], labels,
                         {"dataset": "r", "model": "m", "label_space": space})
    logits = np.random.default_rng(0).standard_normal((4, CLASSES)).astype(np.float32)
    group.write(0, logits, None)
    writer.finish()
    with h5py.File(tmp_path / "s.h5") as handle:
        assert ("p_true" in handle["r/standard"]) is not refused  # stored only where it is defined
    cached = read_outputs(tmp_path / "s.h5")
    if refused:
        with pytest.raises(ValueError, match="dataset 'r', view 'standard': the true class's probability"):
            cached.p_true
    else:
        assert cached.p_true.tobytes() == _full_softmax_p_true(logits, np.array(labels)).tobytes()


def test_a_complete_cache_reads_back(tmp_path):
    path = tmp_path / "ok.h5"
    logits = _cache(path, layers=True)
    cached = read_outputs(path, features=True, layers=True)
    assert np.array_equal(cached.logits, logits) and np.array_equal(cached.features, logits[:, :5])
    assert cached.layers["block0"]["mean"][:, 0].tolist() == [0.0, 0.0, 4.0] and cached.layer_rows.tolist() == [1, 2, 7]


def test_a_zeroed_block_inside_a_partial_is_recomputed_not_resumed(tmp_path):
    path = tmp_path / "p.h5"
    _cache(path, finish=False)
    with h5py.File(partial_path(path), "r+") as handle:
        handle["val/standard/logits"][0:4] = 0.0
    writer = CacheFileWriter(path, {"job": "x", "model": "m"}, batch_size=4)
    group = writer.group("val", "standard", [f"i{k}" for k in range(ROWS)], list(range(ROWS)),
                         {"model": "m", "dataset": "val"})
    assert group.rows_done == 0  # the damaged rows are not kept
    writer.close()


def test_a_changed_zero_shot_head_is_refused(tmp_path):
    path = tmp_path / "head.h5"
    write_head(path, np.eye(4, 8, dtype=np.float32), {"model": "m"})
    assert read_head(path)[0].shape == (4, 8)
    with h5py.File(path, "r+") as handle:
        handle["embeddings"][1, 1] = 0.5
    with pytest.raises(CacheError, match="zero-shot head does not match its digest"):
        read_head(path)


def test_a_head_with_a_non_finite_value_is_not_written(tmp_path):
    embeddings = np.eye(4, 8, dtype=np.float32)
    embeddings[2, 0] = np.nan
    with pytest.raises(CacheError, match=r"non-finite values \(row 2\)"):
        write_head(tmp_path / "nan.h5", embeddings, {"model": "m"})
    assert not (tmp_path / "nan.h5").exists()


def _outcomes():
    ids = np.array([f"i{k}" for k in range(6)])
    return {("accuracy", "val", "imagenet_val", "top1_pct"): correct_outcome(ids, [1, 0, 1, 1, 0, 1]),
            ("transfer", "vtab", "average", "top1_pct"): MeanOf((("a", "b", "c"),))}


def test_a_changed_outcome_column_is_refused(tmp_path):
    path = tmp_path / "o.h5"
    write_outcomes(path, _outcomes(), "m")
    assert read_outcomes(path)[0] == "m"
    with h5py.File(path, "r+") as handle:
        handle["o00000/columns/correct"][1] = 1.0
    with pytest.raises(OutcomesError, match=r"o\.h5:o00000 \(accuracy, val, imagenet_val, top1_pct\): does not match"):
        read_outcomes(path)


def test_a_deleted_outcome_and_a_truncated_file_are_refused(tmp_path):
    path = tmp_path / "o.h5"
    write_outcomes(path, _outcomes(), "m")
    with h5py.File(path, "r+") as handle:
        del handle["o00001"]
    with pytest.raises(OutcomesError, match="holds 1 outcomes, its header says 2"):
        read_outcomes(path)
    write_outcomes(path, _outcomes(), "m")
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(OutcomesError, match=r"o\.h5: not a readable outcomes file .* truncated or damaged"):
        read_outcomes(path)


def test_a_paired_test_refuses_an_image_listed_twice():
    a = correct_outcome(["x", "y", "y"], [1, 0, 1])
    b = correct_outcome(["x", "y", "z"], [1, 1, 1])
    with pytest.raises(ValueError, match="model A's outcome lists image 'y' more than once"):
        paired_test(a, b)
    assert dataclasses.replace(a) is not None  # outcomes stay plain data
    assert isinstance(a, Outcome)


def test_a_partial_that_overstates_its_rows_is_recomputed_and_finishes(tmp_path):
    """It failed the same way on every rerun and never said to delete it."""
    path = tmp_path / "o.h5"
    logits = _cache(path, finish=False)
    with h5py.File(partial_path(path), "r+") as handle:
        handle["val/standard"].attrs["rows_done"] = ROWS + 2
    writer = CacheFileWriter(path, {"job": "x", "model": "m"}, batch_size=4)
    group = writer.group("val", "standard", [f"i{k}" for k in range(ROWS)], list(range(ROWS)),
                         {"model": "m", "dataset": "val"})
    assert group.rows_done == 0
    for start in range(0, ROWS, 4):
        group.write(start, logits[start:start + 4], logits[start:start + 4, :5])
    writer.finish()
    assert np.array_equal(read_outputs(path).logits, logits)


def test_an_empty_listing_names_the_dataset(tmp_path):
    from beyond_imagenet.config.specs import DatasetSpec
    from beyond_imagenet.data.formats import list_samples
    from beyond_imagenet.data.samples import DatasetFormatError

    (tmp_path / "task").mkdir()
    for name in ("train800val200.txt", "test.txt"):
        (tmp_path / "task" / name).write_text("")
    with pytest.raises(DatasetFormatError, match=r"dataset 'my_task' lists no image under .*task \(format vtab\)"):
        list_samples(DatasetSpec(id="my_task", format="vtab", root=str(tmp_path / "task"), classes=2))


def test_outcomes_with_columns_in_any_order_read_back(tmp_path):
    """HDF5 lists a group's members by name: the digest must not depend on the order the columns were given in."""
    ids = np.array(["a", "b", "c"])
    outcome = Outcome(ids, {"member_z": np.ones(3), "correct": np.array([1.0, 0, 1]), "member_a": np.zeros(3)},
                      "error_ratio_average")
    write_outcomes(tmp_path / "o.h5", {("imagenet_x", "val", "average", "error_ratio"): outcome}, "m")
    (_, back), = [read_outcomes(tmp_path / "o.h5")]
    assert back[("imagenet_x", "val", "average", "error_ratio")].value() == outcome.value()
