"""Robustness: A/R restriction, ReaL multi-label scoring and join, ImageNet-C summary and mCE, rows, figure."""

from __future__ import annotations

import hashlib
import json
import logging
import random

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.catalog.labels import imagenet_subset, wnid_to_index
from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.properties.robustness.compute import (
    ALEXNET_ERRORS,
    AVERAGE_KEY,
    IMAGENET_C_CORRUPTIONS,
    IMAGENET_C_EXTRA,
    IMAGENET_C_SEVERITIES,
    REAL_NUM_IMAGES,
    REAL_SHA256,
    SHIFTED_KEYS,
    cells_of_group,
    corruption_cells,
    imagenet_c_summary,
    load_real_json,
    multilabel_correct,
    per_image_c,
    real_label_sets,
    restricted_top1,
    robustness_rows,
    scored_accuracy_pct,
)
from beyond_imagenet.properties.robustness.plot import plot_robustness
from beyond_imagenet.store.rows import METRIC_COLUMNS

# ---------------------------------------------------------------- ImageNet-A / -R


@pytest.mark.parametrize("name", ["imagenet_a", "imagenet_r"])
def test_subset_is_200_canonical_indices_of_the_sorted_wnids(name):
    from importlib import resources

    subset = imagenet_subset(name)
    wnids = sorted(resources.files("timm.data._info").joinpath(f"{name}_synsets.txt").read_text().split())
    assert len(subset) == 200 and len(set(subset.tolist())) == 200
    assert subset.tolist() == sorted(subset.tolist())
    # folder j (sorted wnids) of the dataset is the j-th index of the list
    assert subset.tolist() == [wnid_to_index()[w] for w in wnids]


def test_known_subset_members():
    assert imagenet_subset("imagenet_a")[:3].tolist() == [6, 11, 13]  # n01498041 stingray is 6
    assert imagenet_subset("imagenet_r")[:3].tolist() == [1, 2, 4]  # goldfish, great white shark, hammerhead
    with pytest.raises(ValueError, match="unknown class subset 'imagenet_x'"):
        imagenet_subset("imagenet_x")


def test_huge_logit_outside_the_subset_never_wins():
    rng = np.random.default_rng(0)
    subset = imagenet_subset("imagenet_a")
    outside = np.setdiff1d(np.arange(1000), subset)
    logits = rng.normal(size=(50, 1000)).astype(np.float32)
    logits[:, outside[0]] = 1e6  # an unrestricted argmax would always pick this class
    labels = subset[logits[:, subset].argmax(axis=1)]
    assert restricted_top1(logits, labels, subset).all()
    assert not (logits.argmax(axis=1) == labels).any()


def test_restricted_prediction_by_hand():
    logits = np.array([[9.0, 1.0, 3.0, 2.0], [9.0, 1.0, 2.0, 3.0]])
    # subset {1, 3}: row 0 picks 3 (2.0 > 1.0), row 1 picks 3
    assert restricted_top1(logits, np.array([3, 1]), [1, 3]).tolist() == [True, False]


def test_label_outside_the_subset_is_named():
    with pytest.raises(ValueError, match=r"labels \[0\] are not among the 2 classes scored"):
        restricted_top1(np.zeros((2, 4)), np.array([0, 1]), [1, 3])


# ---------------------------------------------------------------- ReaL / multi-label


def test_multilabel_skips_empty_sets_by_hand():
    logits = np.array([[0.0, 5.0, 1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 2.0], [4.0, 1.0, 0.0]])
    label_sets = [[1, 2], [], [0], [0, 2]]
    correct, scored = multilabel_correct(logits.argmax(axis=1), label_sets)
    assert scored.tolist() == [True, False, True, True]
    assert correct.tolist() == [True, False, False, True]
    assert scored_accuracy_pct(correct, scored) == pytest.approx(200 / 3)  # 2 of 3 scored, not 2 of 4


def test_nothing_scored_fails():
    correct, scored = multilabel_correct(np.zeros(2, dtype=int), [[], []])
    with pytest.raises(ValueError, match="nothing to score"):
        scored_accuracy_pct(correct, scored)


def _val_id(position: int) -> str:
    return f"n01440764/ILSVRC2012_val_{position + 1:08d}.JPEG"


def test_real_join_by_file_name_not_row_order():
    real_json = [[], [970, 795], [230, 231], [809], [5]]
    ids = [_val_id(i) for i in range(5)]
    assert real_label_sets(real_json, ids) == real_json
    shuffled = [ids[i] for i in (3, 0, 4, 2, 1)]
    assert real_label_sets(real_json, shuffled) == [[809], [], [5], [230, 231], [970, 795]]


def test_real_accuracy_invariant_to_shuffle():
    rng = np.random.default_rng(1)
    real_json = [sorted(set(rng.integers(0, 10, size=k).tolist())) for k in rng.integers(0, 3, size=40)]
    ids = [_val_id(i) for i in range(40)]
    logits = rng.normal(size=(40, 10))
    order = rng.permutation(40)
    before = multilabel_correct(logits.argmax(axis=1), real_label_sets(real_json, ids))
    after = multilabel_correct(logits[order].argmax(axis=1), real_label_sets(real_json, [ids[i] for i in order]))
    assert scored_accuracy_pct(*before) == scored_accuracy_pct(*after)
    assert before[1].sum() == sum(1 for s in real_json if s)


@pytest.mark.parametrize("bad_id", ["n01440764/val_1.JPEG", "ILSVRC2012_val_00000000.JPEG", "x/ILSVRC2012_val_1.JPEG"])
def test_unparseable_id_is_named(bad_id):
    with pytest.raises(ValueError, match=bad_id.replace(".", r"\.")):
        real_label_sets([[1]], [bad_id])


def test_id_beyond_the_labels_and_duplicates_fail():
    with pytest.raises(ValueError, match="val image 3, but the ReaL labels have only 2"):
        real_label_sets([[1], [2]], [_val_id(2)])
    with pytest.raises(ValueError, match="name the same val file"):
        real_label_sets([[1], [2]], [_val_id(0), f"flat/{_val_id(0).split('/')[1]}"])


def test_packaged_real_labels():
    labels = load_real_json()
    assert len(labels) == REAL_NUM_IMAGES
    assert sum(1 for s in labels if not s) == 3163  # 46,837 scored
    assert labels[:3] == [[], [970, 795], [230, 231]]


def test_imagenet_x_copy_is_identical_when_installed():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("imagenet_x")  # locates the package without importing its heavy modules
    if spec is None or spec.origin is None:
        pytest.skip("imagenet-x not installed; its ReaL copy cannot be compared")
    copy = Path(spec.origin).parent / "annotations" / "imagenet_real_labels.jsonl"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == REAL_SHA256


def test_real_json_must_be_a_list_and_a_short_one_is_read(tmp_path):
    path = tmp_path / "real.json"
    path.write_text(json.dumps({"1": [1]}))
    with pytest.raises(ValueError, match="expected a JSON list of N label lists"):
        load_real_json(path)
    path.write_text(json.dumps([[1], []]))  # a demo world's real.json relabels fewer images
    assert load_real_json(path) == [[1], []]


# ---------------------------------------------------------------- ImageNet-C


def _full_grid(value=lambda c, s: 50.0):
    return {(c, s): value(c, s) for c in IMAGENET_C_CORRUPTIONS for s in IMAGENET_C_SEVERITIES}


def test_mce_is_100_when_errors_equal_alexnet():
    acc = _full_grid(lambda c, s: 100.0 * (1.0 - ALEXNET_ERRORS[c]))
    summary = imagenet_c_summary(acc)
    assert summary["mce"] == pytest.approx(100.0)
    assert all(ce == pytest.approx(100.0) for ce in summary["corruption_error"].values())


def test_mce_by_hand_for_one_corruption():
    # errors 10..50% on gaussian_noise: CE = 100 * 150 / (5 * 88.6428)
    acc = _full_grid(lambda c, s: 100.0 - 10.0 * s if c == "gaussian_noise" else 100.0 * (1 - ALEXNET_ERRORS[c]))
    ce = imagenet_c_summary(acc)["corruption_error"]["gaussian_noise"]
    assert ce == pytest.approx(100 * 150 / (5 * 88.6428))


def test_means_by_hand():
    # acc = 10/3 * corruption position + severity, so every mean is known in closed form
    acc = _full_grid(lambda c, s: 10.0 * IMAGENET_C_CORRUPTIONS.index(c) / 3 + s)
    acc[("saturate", 1)] = 0.0  # extra corruptions never enter the benchmark number
    summary = imagenet_c_summary(acc)
    assert summary["mean"] == pytest.approx(np.mean([10 * i / 3 for i in range(15)]) + 3.0)
    assert summary["per_corruption"]["shot_noise"] == pytest.approx(10 / 3 + 3.0)
    assert summary["per_severity"][5] == pytest.approx(np.mean([10 * i / 3 for i in range(15)]) + 5.0)
    assert summary["complete"] and summary["n_cells"] == 75


def test_missing_cells_raise_and_partial_is_flagged():
    acc = _full_grid()
    del acc[("fog", 3)], acc[("snow", 5)]
    with pytest.raises(ValueError, match=r"missing 2 of 75 .*\('snow', 5\).*\('fog', 3\)"):
        imagenet_c_summary(acc)
    partial = imagenet_c_summary(acc, require_complete=False)
    assert not partial["complete"] and partial["missing"] == [("snow", 5), ("fog", 3)]
    assert "fog" not in partial["corruption_error"] and len(partial["corruption_error"]) == 13


def test_unknown_corruption_and_bad_severity_fail():
    with pytest.raises(ValueError, match="unknown ImageNet-C corruption 'gausian_noise'"):
        imagenet_c_summary({("gausian_noise", 1): 50.0})
    with pytest.raises(ValueError, match="severity 6"):
        imagenet_c_summary({("fog", 6): 50.0})
    with pytest.raises(ValueError, match="not a percentage"):
        imagenet_c_summary({("fog", 1): 0.5 + 100})


def test_constants_from_the_reference():
    assert len(IMAGENET_C_CORRUPTIONS) == 15 and len(IMAGENET_C_EXTRA) == 4
    assert set(ALEXNET_ERRORS) == set(IMAGENET_C_CORRUPTIONS)
    assert ALEXNET_ERRORS["brightness"] == 0.564592


# ---------------------------------------------------------------- rows


ALL_KEYS = ("imagenet_val", *SHIFTED_KEYS)


def test_average_excludes_imagenet_val():
    top1 = {k: float(i) for i, k in enumerate(SHIFTED_KEYS)} | {"imagenet_val": 1000.0}
    rows = robustness_rows("m", top1, None, {k: 10 for k in ALL_KEYS})
    average = rows[rows["key"] == AVERAGE_KEY]
    assert average["value"].tolist() == [3.0]  # mean of 0..6, val's 1000 left out
    assert average["n"].tolist() == [70]
    assert list(rows.columns) == list(METRIC_COLUMNS)
    assert (rows["property"] == "robustness").all() and (rows["metric"] == "top1_pct").all()


def test_no_average_when_a_shifted_set_is_missing(caplog):
    top1 = {k: 50.0 for k in ALL_KEYS if k != "imagenet_hard"}
    with caplog.at_level(logging.WARNING):
        rows = robustness_rows("m", top1, None, {k: 10 for k in ALL_KEYS})
    assert AVERAGE_KEY not in rows["key"].tolist()
    assert "imagenet_hard" in caplog.text


def test_imagenet_c_rows_from_the_summary():
    summary = imagenet_c_summary(_full_grid(lambda c, s: 100.0 * (1.0 - ALEXNET_ERRORS[c])))
    top1 = {k: 50.0 for k in ALL_KEYS if k != "imagenet_c"}
    rows = robustness_rows("m", top1, summary, {k: 10 for k in ALL_KEYS} | {"imagenet_c": 75 * 50_000})
    value = rows.set_index(["key", "metric"])["value"]
    assert value[("imagenet_c", "top1_pct")] == pytest.approx(summary["mean"])
    assert value[("imagenet_c", "mce")] == pytest.approx(100.0)
    assert value[("imagenet_c/fog", "top1_pct")] == pytest.approx(100 * (1 - ALEXNET_ERRORS["fog"]))
    assert ("imagenet_c/severity=3", "top1_pct") in value.index
    n = rows.set_index(["key", "metric"])["n"]
    assert n[("imagenet_c/fog", "top1_pct")] == 5 * 50_000 and n[("imagenet_c/severity=3", "top1_pct")] == 15 * 50_000
    assert AVERAGE_KEY in rows["key"].tolist()


def test_partial_imagenet_c_never_uses_the_paper_key():
    acc = _full_grid()
    del acc[("fog", 3)]
    summary = imagenet_c_summary(acc, require_complete=False)
    rows = robustness_rows("m", {}, summary, {"imagenet_c": 74 * 100})
    assert "imagenet_c" not in rows["key"].tolist() and "imagenet_c/partial" in rows["key"].tolist()
    assert AVERAGE_KEY not in rows["key"].tolist()
    with pytest.raises(ValueError, match="partial ImageNet-C summary"):
        robustness_rows("m", {"imagenet_c": 50.0}, summary, {"imagenet_c": 74 * 100})


def test_conflicting_imagenet_c_values_fail():
    summary = imagenet_c_summary(_full_grid())
    with pytest.raises(ValueError, match="imagenet_c top-1 given as 10.0"):
        robustness_rows("m", {"imagenet_c": 10.0}, summary, {"imagenet_c": 1})


def test_missing_count_is_named():
    with pytest.raises(ValueError, match="no image count for 'imagenet_a'"):
        robustness_rows("m", {"imagenet_a": 1.0}, None, {})


# ---------------------------------------------------------------- figure


def _specs():
    return {m.id: m for m in [
        ModelSpec(id="vit_sup", source="timm", name="a", weights="hub", family="vit", training="supervised"),
        ModelSpec(id="convnext_sup", source="timm", name="b", weights="hub", family="convnext", training="supervised"),
        ModelSpec(id="vit_clip", source="open_clip", name="c", weights="hub", family="vit", training="clip"),
        ModelSpec(id="convnext_clip", source="open_clip", name="d", weights="hub", family="convnext", training="clip"),
    ]}


def _metrics(models):
    rng = random.Random(0)
    frames = [robustness_rows(m, {k: rng.uniform(5, 90) for k in ALL_KEYS}, None, {k: 100 for k in ALL_KEYS})
              for m in models]
    return pd.concat(frames, ignore_index=True)


def test_figure_smoke(tmp_path):
    models = _specs()
    paths = plot_robustness(_metrics(models), models, tmp_path / "robustness")
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_figure_skips_an_incomplete_pair(tmp_path, caplog):
    models = _specs()
    del models["convnext_clip"]
    with caplog.at_level(logging.WARNING):
        paths = plot_robustness(_metrics(models), models, tmp_path / "robustness")
    assert "robustness figure: the clip pair has models ['vit_clip']" in caplog.text
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="no model pair"):
        plot_robustness(_metrics(models), {"vit_clip": models["vit_clip"]}, tmp_path / "none")


# ---------------------------------------------------------------- ImageNet-C per cell and per image

IMAGES = ("n01440764/ILSVRC2012_val_00000293.JPEG", "n01443537/ILSVRC2012_val_00000236.JPEG",
          "n09999999/ILSVRC2012_val_00000001.JPEG")


def _c_groups(right, cells=None, images=IMAGES):
    """One (ids, correct) group per cell as the extraction writes it; right(cell, image) says if the image is right."""
    cells = cells or [(c, s) for c in IMAGENET_C_CORRUPTIONS for s in IMAGENET_C_SEVERITIES]
    return [(np.asarray([f"{c}/{s}/{image}" for image in images], dtype=object),
             np.asarray([right((c, s), image) for image in images])) for c, s in cells]


def _right_by_hand(cell, image):
    """Image 0 right at severity 1 only (15 of 75 cells), image 1 everywhere, image 2 in fog only (5 of 75)."""
    return {IMAGES[0]: cell[1] == 1, IMAGES[1]: True, IMAGES[2]: cell[0] == "fog"}[image]


def _cells(groups):
    return [cell for ids, correct in groups for cell in cells_of_group(ids, correct)]


def test_per_image_c_is_each_images_share_of_the_75_cells_by_hand():
    ids, share = per_image_c(_cells(_c_groups(_right_by_hand)))
    assert list(ids) == sorted(IMAGES)  # the prefix '<corruption>/<severity>/' is gone, ids sorted
    assert dict(zip(ids, share)) == {IMAGES[0]: 15 / 75, IMAGES[1]: 1.0, IMAGES[2]: 5 / 75}


def test_cell_accuracy_by_hand_and_extra_corruptions_kept_out_of_the_per_image_share():
    extra = [("saturate", 1)]
    groups = _c_groups(_right_by_hand) + _c_groups(lambda cell, image: False, cells=extra)
    cells = corruption_cells(_cells(groups))
    assert cells[("fog", 1)] == pytest.approx(100.0) and cells[("fog", 2)] == pytest.approx(200 / 3)
    assert cells[("snow", 1)] == pytest.approx(200 / 3)
    assert cells[("snow", 2)] == pytest.approx(100 / 3) and cells[("saturate", 1)] == 0.0
    assert dict(zip(*per_image_c(_cells(groups))))[IMAGES[1]] == 1.0  # saturate (all wrong) is not a benchmark cell


def test_a_group_of_mixed_cells_and_cells_in_other_orders_give_the_same_numbers():
    groups = _c_groups(_right_by_hand)
    expected_cells, (expected_ids, expected_share) = corruption_cells(_cells(groups)), per_image_c(_cells(groups))
    mixed = (np.concatenate([ids for ids, _ in groups]), np.concatenate([correct for _, correct in groups]))
    order = np.random.default_rng(0).permutation(len(mixed[0]))
    shuffled = [(mixed[0][order], mixed[1][order])]  # one group, every cell in it, rows in any order
    assert corruption_cells(_cells(shuffled)) == expected_cells
    ids, share = per_image_c(_cells(shuffled))
    assert list(ids) == list(expected_ids) and share.tobytes() == expected_share.tobytes()
    reversed_cell = [(ids[::-1], correct[::-1]) if k == 7 else (ids, correct) for k, (ids, correct) in
                     enumerate(groups)]  # one cell lists its images in another order
    ids, share = per_image_c(_cells(reversed_cell))
    assert list(ids) == list(expected_ids) and share.tobytes() == expected_share.tobytes()


def test_a_prefix_shared_by_most_ids_of_a_group_is_not_taken_for_all():
    ids = np.asarray(["fog/1/a.JPEG", "fog/1/b.JPEG", "fog/2/a.JPEG"], dtype=object)
    cells = cells_of_group(ids, np.array([True, False, True]))
    assert {c.cell: list(c.images) for c in cells} == {("fog", 1): ["a.JPEG", "b.JPEG"], ("fog", 2): ["a.JPEG"]}


@pytest.mark.parametrize("image_id", ["fog/x/a.JPEG", "a.JPEG"])
def test_an_id_that_is_no_imagenet_c_path_is_named(image_id):
    with pytest.raises(ValueError, match=f"ImageNet-C image id '{image_id}' is not"):
        cells_of_group(np.asarray(["fog/1/b.JPEG", image_id], dtype=object), np.array([True, True]))


@pytest.mark.parametrize("fault", ["missing", "duplicated", "cell_missing"])
def test_an_image_not_once_in_every_benchmark_cell_has_no_per_image_share(fault):
    groups = _c_groups(_right_by_hand)
    if fault == "missing":  # one image lost from one cell
        groups[3] = (groups[3][0][:-1], groups[3][1][:-1])
    elif fault == "duplicated":  # one image listed twice in every cell
        groups = [(np.concatenate([ids, ids[:1]]), np.concatenate([ok, ok[:1]])) for ids, ok in groups]
    else:
        groups = groups[:-1]
    with pytest.raises(ValueError, match="ImageNet-C: an image is"):
        per_image_c(_cells(groups))
