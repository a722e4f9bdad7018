"""PUG-ImageNet: the class mapping, the 841 collision in both scores, rows by hand, parsing, by-value rows, figure."""

import json
import logging
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.catalog.paper import paper_values
from beyond_imagenet.properties.pug_imagenet.compute import (
    FACTORS,
    PUG_FACTOR_COLUMNS,
    class_to_indices,
    correct_corrected,
    correct_paper,
    owners,
    paper_inverse,
    parse_pug_id,
    pug_annotation_values,
    pug_classes,
    pug_predictions,
    pug_rows,
)
from beyond_imagenet.properties.pug_imagenet.plot import KEY_ORDER, plot_pug
from beyond_imagenet.store.rows import METRIC_COLUMNS

from ..conftest import four_paper_like_specs

SHARED_INDEX = 841  # ImageNet "sweatshirt", listed under both "Shirt" and "Sweatshirt"
GOLDFISH = 1  # ImageNet index of "goldfish", PUG class "Goldfish"


def _raw_json() -> dict[str, list[int]]:
    """The shipped mapping in file order, read independently of the module."""
    return json.loads(resources.files("beyond_imagenet.catalog.files").joinpath("pug_class_to_imagenet_idx.json").read_text())


def _logits(top: list[int]) -> np.ndarray:
    """N×1000 logits whose argmax is the given ImageNet index per row."""
    logits = np.zeros((len(top), 1000), dtype=np.float32)
    logits[np.arange(len(top)), top] = 5.0
    return logits


def _unmapped_index() -> int:
    """An ImageNet index no PUG class lists."""
    return next(i for i in range(1000) if i not in owners())


# --- the mapping --------------------------------------------------------------------------------------

def test_mapping_counts_and_sorted_class_order():
    raw = _raw_json()
    assert len(pug_classes()) == 151
    assert sum(len(v) for v in class_to_indices().values()) == 177
    assert pug_classes() == sorted(raw)  # ImageFolder order
    assert pug_classes() != list(raw)  # the file is not sorted, so the sort is doing work
    assert class_to_indices() == {k: raw[k] for k in sorted(raw)}


def test_841_is_the_only_shared_index_and_paper_inverse_keeps_sweatshirt():
    raw = _raw_json()
    assert {i: names for i, names in owners().items() if len(names) > 1} == {SHARED_INDEX: {"Shirt", "Sweatshirt"}}
    assert raw["Shirt"] == raw["Sweatshirt"] == [SHARED_INDEX]  # "Shirt" has no other index to be right with
    # File order has Sweatshirt before Shirt: inverting WITHOUT the paper's sort would keep "Shirt".
    assert list(raw).index("Sweatshirt") < list(raw).index("Shirt")
    assert {i: k for k, v in raw.items() for i in v}[SHARED_INDEX] == "Shirt"
    # The paper sorts first (dict(sorted(...))), so the later key is "Sweatshirt".
    assert paper_inverse()[SHARED_INDEX] == "Sweatshirt"
    assert len(paper_inverse()) == 176
    assert "Shirt" not in set(paper_inverse().values())


# --- scoring ------------------------------------------------------------------------------------------

def test_841_collision_in_paper_and_corrected_scores():
    logits = _logits([SHARED_INDEX, SHARED_INDEX])
    truth = ["Shirt", "Sweatshirt"]
    assert list(pug_predictions(logits)) == ["Sweatshirt", "Sweatshirt"]
    assert correct_paper(logits, truth).tolist() == [False, True]
    assert correct_corrected(logits, truth).tolist() == [True, True]


def test_prediction_outside_the_mapping_is_wrong_in_both_scores():
    outside = _unmapped_index()
    logits = _logits([outside, GOLDFISH, GOLDFISH])
    truth = ["Goldfish", "Goldfish", "Wolf"]
    assert pug_predictions(logits).tolist() == [None, "Goldfish", "Goldfish"]
    assert correct_paper(logits, truth).tolist() == [False, True, False]
    assert correct_corrected(logits, truth).tolist() == [False, True, False]


def test_scoring_rejects_bad_shapes_and_unknown_classes():
    with pytest.raises(ValueError, match=r"N×1000 ImageNet logits, got shape \(2, 10\)"):
        pug_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"unknown PUG class\(es\) \['Dragon'\]"):
        correct_paper(_logits([GOLDFISH]), ["Dragon"])
    with pytest.raises(ValueError, match="1 logit rows but 2 true classes"):
        correct_corrected(_logits([GOLDFISH]), ["Goldfish", "Goldfish"])


# --- ids ----------------------------------------------------------------------------------------------

def test_parse_pug_id_and_its_errors():
    assert parse_pug_id("Object_Yaw/Goldfish/a.png") == ("Object_Yaw", "Goldfish", "a.png")
    with pytest.raises(ValueError, match="unknown PUG-ImageNet factor 'Object_Spin'"):
        parse_pug_id("Object_Spin/Goldfish/a.png")
    with pytest.raises(ValueError, match="unknown PUG-ImageNet class 'goldfish'"):
        parse_pug_id("Worlds/goldfish/a.png")
    with pytest.raises(ValueError, match="is not '<Factor>/<class_name>/<file>'"):
        parse_pug_id("Goldfish/a.png")


# --- rows ---------------------------------------------------------------------------------------------

def _three_factor_case():
    """Worlds 1/2 right, Camera_Yaw 3/3 right, Scene_Light: a Shirt image predicted 841 (0/1 paper, 1/1 corrected)."""
    ids = ["Worlds/Goldfish/w1.png", "Worlds/Goldfish/w2.png",
           "Camera_Yaw/Goldfish/c1.png", "Camera_Yaw/Goldfish/c2.png", "Camera_Yaw/Sweatshirt/c3.png",
           "Scene_Light/Shirt/s1.png"]
    top = [GOLDFISH, _unmapped_index(), GOLDFISH, GOLDFISH, SHARED_INDEX, SHARED_INDEX]
    return ids, _logits(top)


def test_rows_per_factor_and_average_by_hand(caplog):
    ids, logits = _three_factor_case()
    with caplog.at_level(logging.WARNING, logger="beyond_imagenet.properties.pug_imagenet.compute"):
        rows = pug_rows("m", "pug_imagenet", ids, logits)
    missing = [f for f in FACTORS if f not in ("Worlds", "Camera_Yaw", "Scene_Light")]
    assert f"no images for factor(s) {missing}; 'average' is the mean of the 3 present" in caplog.text
    assert list(rows.columns) == list(METRIC_COLUMNS)
    assert set(rows["property"]) == {"pug_imagenet"}
    paper = rows[rows["metric"] == "top1_pct"].set_index("key")
    corrected = rows[rows["metric"] == "top1_pct_corrected"].set_index("key")
    assert paper["value"].to_dict() == pytest.approx(
        {"Worlds": 50.0, "Camera_Yaw": 100.0, "Scene_Light": 0.0, "average": 50.0})
    assert corrected["value"].to_dict() == pytest.approx(
        {"Worlds": 50.0, "Camera_Yaw": 100.0, "Scene_Light": 100.0, "average": 250.0 / 3})
    # average is the mean of factor accuracies, not the pooled accuracy (4/6 = 66.7 for the paper score).
    assert paper.loc["average", "value"] != pytest.approx(400.0 / 6)
    assert paper["n"].to_dict() == {"Worlds": 2, "Camera_Yaw": 3, "Scene_Light": 1, "average": 6}
    assert list(paper.index) == ["Worlds", "Camera_Yaw", "Scene_Light", "average"]  # paper factor order


def test_row_keys_join_paper_values():
    ids = [f"{f}/Goldfish/{i}.png" for i, f in enumerate(FACTORS)]
    rows = pug_rows("m", "pug_imagenet", ids, _logits([GOLDFISH] * len(ids)))
    paper = paper_values()
    paper_keys = set(paper.loc[(paper["property"] == "pug_imagenet") & (paper["metric"] == "top1_pct"), "key"])
    assert set(rows.loc[rows["metric"] == "top1_pct", "key"]) == paper_keys == {*FACTORS, "average"}
    assert (rows["value"] == 100.0).all()


def test_rows_reject_mismatched_ids():
    with pytest.raises(ValueError, match="2 ids but 1 logit rows"):
        pug_rows("m", "pug", ["Worlds/Goldfish/a.png", "Worlds/Goldfish/b.png"], _logits([GOLDFISH]))


def test_by_value_rows_on_a_tiny_example():
    ids = ["Object_Yaw/Goldfish/a.png", "Object_Yaw/Goldfish/b.png", "Object_Yaw/Goldfish/c.png",
           "Worlds/Goldfish/d.png", "Worlds/Goldfish/e.png"]
    logits = _logits([GOLDFISH, _unmapped_index(), GOLDFISH, GOLDFISH, GOLDFISH])
    values = pd.DataFrame({"id": ids[:4], "value": [90.0, 90.0, 0.0, "Desert"]})  # e.png has no value
    rows = pug_rows("m", "pug", ids, logits, factor_values=values)
    by_value = rows[rows["metric"] == "top1_pct_by_value"].set_index("key")
    assert by_value["value"].to_dict() == pytest.approx(
        {"Object_Yaw=0": 100.0, "Object_Yaw=90": 50.0, "Worlds=Desert": 100.0})
    assert by_value["n"].to_dict() == {"Object_Yaw=0": 1, "Object_Yaw=90": 2, "Worlds=Desert": 1}
    with pytest.raises(ValueError, match="needs columns 'id' and 'value'"):
        pug_rows("m", "pug", ids, logits, factor_values=values.rename(columns={"id": "file_name"}))
    with pytest.raises(ValueError, match="lists id 'Object_Yaw/Goldfish/a.png' more than once"):
        pug_rows("m", "pug", ids, logits, factor_values=pd.concat([values, values.iloc[:1]]))


def test_pug_annotation_values_picks_each_factors_column():
    annotations = pd.DataFrame([{"filename": name, **{c: f"{c}:{name}" for c in PUG_FACTOR_COLUMNS.values()}}
                                for name in ("a.png", "b.png")])
    ids = ["Object_Yaw/Goldfish/a.png", "Worlds/Goldfish/b.png", "Worlds/Goldfish/unknown.png"]
    assert pug_annotation_values(annotations, ids).to_dict("records") == [
        {"id": ids[0], "value": "character_rotation_yaw:a.png"}, {"id": ids[1], "value": "world_name:b.png"}]
    with pytest.raises(ValueError, match="file name 'a.png' occurs more than once"):
        pug_annotation_values(pd.concat([annotations, annotations.iloc[:1]]), ids)
    with pytest.raises(ValueError, match=r"lacks columns \['scene_light'\]"):
        pug_annotation_values(annotations.drop(columns="scene_light"), ids)


# --- figure ------------------------------------------------------------------------------------------

def test_figure_smoke(tmp_path):
    models = four_paper_like_specs()
    rng = np.random.default_rng(0)
    metrics = pd.DataFrame([{"model": m, "property": "pug_imagenet", "dataset": "pug_imagenet", "key": k,
                             "metric": metric, "value": float(rng.uniform(10, 50)), "n": 100}
                            for m in models for k in KEY_ORDER for metric in ("top1_pct", "top1_pct_corrected")])
    for metric in ("top1_pct", "top1_pct_corrected"):
        paths = plot_pug(metrics, models, tmp_path / metric, metric=metric)
        assert [p.suffix for p in paths] == [".pdf", ".png"]
        assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="several top1_pct rows"):
        plot_pug(pd.concat([metrics, metrics.assign(dataset="other")]), models, tmp_path / "x")
    with pytest.raises(ValueError, match="no rows with property='pug_imagenet', metric='nope'"):
        plot_pug(metrics, models, tmp_path / "y", metric="nope")
