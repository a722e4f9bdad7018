"""Property wiring: parts merge like an unsplit set; each property's compute on synthetic caches."""

import json

import numpy as np
import pytest

from beyond_imagenet.cache import CachedOutputs
from beyond_imagenet.properties.registry import (
    PROPERTIES, compute_accuracy, compute_invariance, compute_robustness, invariance_views, merge_parts)


def _cache(dataset, ids, labels, logits, view="standard", part=None, label_space="imagenet1k", label_sets=None):
    identity = {"dataset": dataset, "view": view, "part": part, "label_space": label_space}
    return CachedOutputs(np.asarray(logits, np.float32), np.asarray(labels), np.asarray(ids, object), None,
                         identity, label_sets)


def _one_hot(predictions, classes=1000):
    logits = np.zeros((len(predictions), classes), np.float32)
    logits[np.arange(len(predictions)), predictions] = 5.0
    return logits


def test_merge_parts_concatenates_in_order():
    a = _cache("c", ["x/1/a", "x/1/b"], [1, 2], _one_hot([1, 0]), part="x.1")
    b = _cache("c", ["x/2/a"], [3], _one_hot([3]), part="x.2")
    merged = merge_parts([a, b])[("c", "standard")]
    assert list(merged.ids) == ["x/1/a", "x/1/b", "x/2/a"] and merged.labels.tolist() == [1, 2, 3]
    assert merged.identity["parts"] == ["x.1", "x.2"]


def test_accuracy_restricts_to_the_label_space():
    r_subset_member, outside = 1, 0  # index 1 (goldfish) is in ImageNet-R's 200, index 0 (tench) is not
    logits = _one_hot([outside])
    logits[0, r_subset_member] = 4.0  # second best overall, best inside the 200
    full = compute_accuracy("m", [_cache("val", ["a"], [r_subset_member], logits)], {}, {})
    restricted = compute_accuracy("m", [_cache("r", ["a"], [r_subset_member], logits, label_space="imagenet_r")], {}, {})
    assert full.query("metric == 'top1_pct'")["value"].item() == 0.0
    assert restricted.query("metric == 'top1_pct'")["value"].item() == 100.0


def test_robustness_real_join_and_imagenet_c_cells(tmp_path):
    ids = [f"n01440764/ILSVRC2012_val_{i:08d}.JPEG" for i in (3, 1, 2)]
    real = [[5], [], [7, 9]]  # entries for files 1, 2, 3
    (tmp_path / "real.json").write_text(json.dumps(real))
    # file 3 -> 9 (in [7, 9]: right), file 1 -> 0 (not in [5]: wrong), file 2 -> empty list: not scored
    val = _cache("imagenet_val", ids, [0, 0, 0], _one_hot([9, 0, 0]))
    c_ids = [f"{c}/{s}/n01440764/x.JPEG" for c in ("gaussian_noise", "shot_noise") for s in (1, 2)]
    c = _cache("imagenet_c", c_ids, [0, 0, 0, 0], _one_hot([0, 1, 0, 0]))
    config = {"datasets": {"imagenet_val": {"format": "imagefolder_wnid", "root": "x"},
                           "imagenet_c": {"format": "imagenet_c", "root": "y"}}}
    settings = {"real_labels": str(tmp_path / "real.json"), "require_complete_c": False}
    rows = compute_robustness("m", [val, c], settings, config).set_index(["key", "metric"])["value"]
    assert rows[("imagenet_real", "top1_pct")] == 50.0  # 1 of the 2 non-empty
    assert rows[("imagenet_val", "top1_pct")] == pytest.approx(200 / 3)
    assert rows[("imagenet_c/gaussian_noise", "top1_pct")] == 50.0 and rows[("imagenet_c/shot_noise", "top1_pct")] == 100.0
    assert ("imagenet_c", "top1_pct") not in rows.index  # partial run: never under the paper's key


def test_invariance_views_and_rows():
    views = invariance_views({"scales": [1, 1.5], "shifts": [0], "resolutions": [224]})
    assert views == ["scale=1", "scale=1.5", "shift=0", "resolution=224"]
    caches = [_cache("val", ["a", "b"], [1, 2], _one_hot([1, 0]), view=v) for v in views]
    rows = compute_invariance("m", caches, {}, {})
    top1 = rows[rows["metric"] == "top1_pct"].set_index("key")["value"]
    assert top1.to_dict() == {v: 50.0 for v in views}


def test_every_property_has_a_plot_and_paper_keys():
    assert set(PROPERTIES) == {"accuracy", "calibration", "imagenet_x", "robustness", "invariance", "shape_bias",
                               "pug_imagenet", "transfer"}
    with pytest.raises(KeyError, match="unknown property 'shape'"):
        from beyond_imagenet.properties.registry import property_def

        property_def("shape")
