"""The property table: every entry resolves to its compute and plot; parts merge like an unsplit set."""

import inspect
import json

import numpy as np
import pytest

from beyond_imagenet.config.schema import load_schema
from beyond_imagenet.data.views import invariance_views
from beyond_imagenet.properties import ACROSS_MODELS, PER_MODEL, PROPERTIES, property_def
from beyond_imagenet.store.cache import CachedOutputs, merge_parts


def _cache(dataset, ids, labels, logits, view="standard", part=None, label_space="imagenet1k", label_sets=None):
    identity = {"dataset": dataset, "view": view, "part": part, "label_space": label_space}
    return CachedOutputs(np.asarray(logits, np.float32), np.asarray(labels), np.asarray(ids, object), None,
                         identity, label_sets)


def _one_hot(predictions, classes=1000):
    logits = np.zeros((len(predictions), classes), np.float32)
    logits[np.arange(len(predictions)), predictions] = 5.0
    return logits


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_every_property_resolves_to_its_entry_points(name):
    definition = property_def(name)
    compute, plot = definition.compute(), definition.plot()
    expected = ["model", "caches", "settings", "datasets"] if definition.scope == PER_MODEL else \
        ["caches_by_model", "settings", "datasets"]
    assert list(inspect.signature(compute).parameters) == expected
    assert list(inspect.signature(plot).parameters) == ["metrics", "models", "out_base", "settings"]
    assert definition.scope in (PER_MODEL, ACROSS_MODELS)
    assert definition.views({"scales": [2]})  # every property reads at least one view


def test_the_table_and_the_config_schema_name_the_same_properties():
    assert set(load_schema()["properties"]["properties"]["properties"]) == set(PROPERTIES)
    with pytest.raises(KeyError, match="unknown property 'shape'"):
        property_def("shape")


def test_merge_parts_concatenates_in_order():
    a = _cache("c", ["x/1/a", "x/1/b"], [1, 2], _one_hot([1, 0]), part="x.1")
    b = _cache("c", ["x/2/a"], [3], _one_hot([3]), part="x.2")
    merged = merge_parts([a, b])[("c", "standard")]
    assert list(merged.ids) == ["x/1/a", "x/1/b", "x/2/a"] and merged.labels.tolist() == [1, 2, 3]
    assert merged.identity["parts"] == ["x.1", "x.2"]


def test_accuracy_restricts_to_the_label_space():
    compute = property_def("accuracy").compute()
    r_subset_member, outside = 1, 0  # index 1 (goldfish) is in ImageNet-R's 200, index 0 (tench) is not
    logits = _one_hot([outside])
    logits[0, r_subset_member] = 4.0  # second best overall, best inside the 200
    full, _ = compute("m", [_cache("val", ["a"], [r_subset_member], logits)], {}, {})
    restricted, outcomes = compute("m", [_cache("r", ["a"], [r_subset_member], logits, label_space="imagenet_r")], {},
                                   {})
    assert outcomes[("r", "r", "top1_pct")].value() == 100.0  # the per-image outcome restricts the same way
    assert full.query("metric == 'top1_pct'")["value"].item() == 0.0
    assert restricted.query("metric == 'top1_pct'")["value"].item() == 100.0


def test_robustness_real_join_and_imagenet_c_cells(tmp_path):
    """Any dataset ids: ReaL relabels the dataset with role imagenet_val, ImageNet-C is found by its format and keyed
    by its role."""
    ids = [f"n01440764/ILSVRC2012_val_{i:08d}.JPEG" for i in (3, 1, 2)]
    real = [[5], [], [7, 9]]  # entries for files 1, 2, 3
    (tmp_path / "real.json").write_text(json.dumps(real))
    # file 3 -> 9 (in [7, 9]: right), file 1 -> 0 (not in [5]: wrong), file 2 -> empty list: not scored
    val = _cache("my_val", ids, [0, 0, 0], _one_hot([9, 0, 0]))
    c_ids = [f"{c}/{s}/n01440764/x.JPEG" for c in ("gaussian_noise", "shot_noise") for s in (1, 2)]
    c = _cache("corrupted", c_ids, [0, 0, 0, 0], _one_hot([0, 1, 0, 0]))
    datasets = {"my_val": {"format": "imagefolder_wnid", "root": "x", "role": "imagenet_val"},
                "corrupted": {"format": "imagenet_c", "root": "y", "role": "imagenet_c"}}
    settings = {"real_labels": str(tmp_path / "real.json"), "require_complete_c": False}
    rows, outcomes = property_def("robustness").compute()("m", [val, c], settings, datasets)
    datasets_of = rows.set_index("key")["dataset"]
    rows = rows.set_index(["key", "metric"])["value"]
    real = outcomes[("my_val", "imagenet_real", "top1_pct")]
    assert sorted(real.ids) == sorted(ids[i] for i in (0, 1))  # the empty ReaL list is not scored
    assert ("corrupted", "imagenet_c", "top1_pct") not in outcomes  # 4 of 75 cells: no per-image interval
    assert rows[("imagenet_real", "top1_pct")] == 50.0  # 1 of the 2 non-empty
    assert rows[("imagenet_val", "top1_pct")] == pytest.approx(200 / 3)
    assert rows[("imagenet_c/gaussian_noise", "top1_pct")] == 50.0 and rows[("imagenet_c/shot_noise", "top1_pct")] == 100.0
    assert ("imagenet_c", "top1_pct") not in rows.index  # partial run: never under the paper's key
    assert datasets_of["imagenet_real"] == "my_val" and datasets_of["imagenet_c/partial"] == "corrupted"


def test_robustness_without_roles_keys_rows_by_id_and_forms_no_average():
    """A dataset that declares no role is measured under its own id; the paper's average needs the 7 roles."""
    c_ids = [f"{c}/{s}/n01440764/x.JPEG" for c in ("gaussian_noise",) for s in (1,)]
    c = _cache("mine_c", c_ids, [0], _one_hot([0]))
    other = _cache("imagenet_v2", ["n01440764/a.JPEG"], [0], _one_hot([0]))  # an id that is a role name, no role
    datasets = {"mine_c": {"format": "imagenet_c", "root": "y"}, "imagenet_v2": {"format": "imagefolder_wnid"}}
    rows, _ = property_def("robustness").compute()("m", [c, other], {"require_complete_c": False}, datasets)
    assert {"mine_c/partial", "mine_c/gaussian_noise", "imagenet_v2"} <= set(rows["key"])
    assert "average_7_shifted" not in set(rows["key"])
    headline, = property_def("robustness").headlines({}, datasets)
    assert "imagenet_v2" in headline.missing and "imagenet_real" in headline.missing


def test_invariance_views_and_rows():
    views = invariance_views({"scales": [1, 1.5], "shifts": [0], "resolutions": [224]})
    assert views == ["scale=1", "scale=1.5", "shift=0", "resolution=224"]
    assert property_def("invariance").views({"scales": [1, 1.5], "shifts": [0], "resolutions": [224]}) == views
    caches = [_cache("val", ["a", "b"], [1, 2], _one_hot([1, 0]), view=v) for v in views]
    rows, _ = property_def("invariance").compute()("m", caches, {}, {})
    top1 = rows[rows["metric"] == "top1_pct"].set_index("key")["value"]
    assert top1.to_dict() == {v: 50.0 for v in views}


# --- metrics files: written whole, refused when cut (issue 9, case 6) ---------------------------------

def _write_rows(path):
    from beyond_imagenet.store.rows import metric_frame, metric_row, write_metrics

    write_metrics(metric_frame([metric_row("m", "accuracy", "val", "val", "top1_pct", 66.875, 10),
                                metric_row("m", "accuracy", "val", "val", "top5_pct", 90.0, 10)]), path)


@pytest.mark.faults
def test_metrics_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import pandas as pd

    from beyond_imagenet.store.rows import read_metrics

    path = tmp_path / "w.csv"
    _write_rows(path)
    before = path.read_text()

    def die(self, target, *args, **kwargs):
        open(target, "w").write("model,prop")  # a job killed while writing
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", die)
    with pytest.raises(KeyboardInterrupt):
        _write_rows(path)
    assert path.read_text() == before and len(read_metrics([path])) == 2
