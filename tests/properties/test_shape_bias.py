"""Shape bias on cue-conflict: the 16-category mapping, decisions, id parsing, metrics by hand, the figure."""

import logging

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.catalog.paper import paper_values
from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.properties.shape_bias.compute import (
    OVERALL_KEY,
    PROPERTY,
    categories,
    category_indices,
    category_probabilities,
    decisions,
    parse_cue_conflict_id,
    shape_bias_rows,
)
from beyond_imagenet.properties.shape_bias.plot import plot_shape_bias
from beyond_imagenet.store.rows import METRIC_COLUMNS

CATEGORIES = ["airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog",
              "elephant", "keyboard", "knife", "oven", "truck"]
FULL_SET_IMAGES = 1280  # 16 folders × 80 PNGs


def _logits_deciding(wanted: list[str]) -> np.ndarray:
    """One row per wanted category: its member indices high, everything else low."""
    logits = np.full((len(wanted), 1000), -10.0, dtype=np.float32)
    for row, category in enumerate(wanted):
        logits[row, category_indices()[category]] = 10.0
    return logits


def _metric(rows: pd.DataFrame, metric: str, key: str = OVERALL_KEY) -> pd.Series:
    match = rows[(rows["metric"] == metric) & (rows["key"] == key)]
    assert len(match) == 1, f"expected one {metric} row for {key}, got {len(match)}"
    return match.iloc[0]


# --- the category mapping ---------------------------------------------------------------------------

def test_category_indices_are_model_vs_humans_sixteen():
    mapping = category_indices()
    assert categories() == CATEGORIES
    assert sum(len(v) for v in mapping.values()) == 207
    assert {c: len(mapping[c]) for c in ("airplane", "bird", "dog", "knife")} == {"airplane": 1, "bird": 49,
                                                                                    "dog": 109, "knife": 1}
    assert mapping["airplane"].tolist() == [404]  # airliner
    everything = np.concatenate(list(mapping.values()))
    assert len(np.unique(everything)) == len(everything)
    assert everything.min() >= 0 and everything.max() <= 999


def test_category_probabilities_are_member_means_of_the_softmax():
    logits = np.zeros((2, 1000))
    logits[1, 404] = np.log(1000.0)  # airplane alone gets weight 1000: p = 1000 / 1999
    probabilities = category_probabilities(logits)
    assert probabilities.shape == (2, 16)
    np.testing.assert_allclose(probabilities[0], 1 / 1000)  # uniform softmax: every mean is 1/1000
    np.testing.assert_allclose(probabilities[1, 0], 1000 / 1999)
    np.testing.assert_allclose(probabilities[1, 1:], 1 / 1999)


def test_category_probabilities_survive_huge_logits():
    logits = np.full((1, 1000), 1e4, dtype=np.float32)
    logits[0, 404] = 1e4 + 50  # exp(1e4) overflows without the max shift
    probabilities = category_probabilities(logits)
    assert np.isfinite(probabilities).all()
    assert decisions(logits).tolist() == ["airplane"]


def test_mean_not_sum_decides():
    logits = np.full((1, 1000), -50.0)
    logits[0, category_indices()["airplane"]] = 5.0  # one index, higher
    logits[0, category_indices()["dog"]] = 3.0  # 109 indices, each lower
    probabilities = np.exp(logits[0]) / np.exp(logits[0]).sum()
    sums = {c: probabilities[idx].sum() for c, idx in category_indices().items()}
    assert max(sums, key=sums.get) == "dog"  # the sum mapping would say dog ...
    assert decisions(logits).tolist() == ["airplane"]  # ... the mean mapping says airplane


def test_bad_logit_shape():
    with pytest.raises(ValueError, match=r"expected N×1000"):
        category_probabilities(np.zeros((2, 200)))


# --- ids ----------------------------------------------------------------------------------------------

def test_parse_ids():
    assert parse_cue_conflict_id("airplane/airplane1-bicycle2.png") == ("airplane", "bicycle")
    assert parse_cue_conflict_id("cue-conflict/dog/dog10-elephant3.png") == ("dog", "elephant")
    assert parse_cue_conflict_id("oven/oven2-oven1.png") == ("oven", "oven")


@pytest.mark.parametrize("image_id, message", [
    ("airplane/airplane-bicycle2.png", "airplane-bicycle2.png.*is not '<shape><i>-<texture><j>.png'"),
    ("airplane/airplane1_bicycle2.png", "is not '<shape><i>-<texture><j>.png'"),
    ("airplane/airplane1-bicycle2.jpg", "is not '<shape><i>-<texture><j>.png'"),
    ("bear/airplane1-bicycle2.png", "folder 'bear' disagrees with the file name's shape 'airplane'"),
    ("airplane1-bicycle2.png", "folder '' disagrees"),
    ("zebra/zebra1-bicycle2.png", "shape 'zebra' is not one of the 16"),
    ("airplane/airplane1-zebra2.png", "texture 'zebra' is not one of the 16"),
])
def test_parse_errors_name_the_image(image_id, message):
    with pytest.raises(ValueError, match=message):
        parse_cue_conflict_id(image_id)


# --- metrics ------------------------------------------------------------------------------------------

CONFLICT_IDS = ["airplane/airplane1-bear1.png", "bear/bear1-bicycle1.png", "cat/cat2-dog3.png"]


@pytest.mark.parametrize("cue, expected", [("shape", 1.0), ("texture", 0.0)])
def test_single_cue_responders(cue, expected):
    shapes_textures = [parse_cue_conflict_id(i) for i in CONFLICT_IDS]
    wanted = [s if cue == "shape" else t for s, t in shapes_textures]
    rows = shape_bias_rows("m", "cue_conflict", CONFLICT_IDS, _logits_deciding(wanted))
    assert _metric(rows, "shape_bias")["value"] == expected
    assert _metric(rows, f"{cue}_fraction")["value"] == 1.0
    assert _metric(rows, "accuracy_16class")["value"] == expected


def test_shape_equals_texture_images_are_never_scored():
    ids = ["airplane/airplane1-bear1.png", "bear/bear1-bicycle1.png",  # conflict: shape, then texture decision
           "cat/cat1-cat2.png", "dog/dog1-dog2.png"]  # no conflict: deciding cat / dog would count as "shape"
    rows = shape_bias_rows("m", "cue_conflict", ids, _logits_deciding(["airplane", "bicycle", "cat", "dog"]))
    bias = _metric(rows, "shape_bias")
    assert (bias["value"], bias["n"]) == (0.5, 2)  # 3/4 if the two equal pairs were counted
    assert _metric(rows, "shape_fraction")["value"] == 0.5
    assert not (rows["key"].isin(["cat", "dog"])).any()  # their folders hold no conflict image here
    accuracy = _metric(rows, "accuracy_16class")  # model-vs-human counts every image, equal pairs too
    assert (accuracy["value"], accuracy["n"]) == (0.75, 4)


def test_per_category_and_overall_by_hand():
    ids = ["airplane/airplane1-bear1.png", "airplane/airplane2-bird1.png", "airplane/airplane3-car1.png",
           "bear/bear1-clock1.png", "airplane/airplane4-airplane1.png"]
    decided = ["airplane", "bird", "knife", "clock", "oven"]  # shape, texture, other | texture | dropped
    rows = shape_bias_rows("m", "cc", ids, _logits_deciding(decided))
    assert set(rows["property"]) == {PROPERTY} and set(rows["dataset"]) == {"cc"} and set(rows["model"]) == {"m"}
    assert list(rows.columns) == list(METRIC_COLUMNS)
    expected = {
        (OVERALL_KEY, "shape_bias"): (1 / 3, 4), (OVERALL_KEY, "shape_decisions"): (1, 4),
        (OVERALL_KEY, "texture_decisions"): (2, 4), (OVERALL_KEY, "other_decisions"): (1, 4),
        (OVERALL_KEY, "shape_fraction"): (0.25, 4), (OVERALL_KEY, "texture_fraction"): (0.5, 4),
        (OVERALL_KEY, "other_fraction"): (0.25, 4), (OVERALL_KEY, "accuracy_16class"): (0.2, 5),
        ("airplane", "shape_bias"): (0.5, 3), ("airplane", "shape_decisions"): (1, 3),
        ("airplane", "texture_decisions"): (1, 3), ("airplane", "other_decisions"): (1, 3),
        ("bear", "shape_bias"): (0.0, 1), ("bear", "shape_decisions"): (0, 1),
        ("bear", "texture_decisions"): (1, 1), ("bear", "other_decisions"): (0, 1),
    }
    got = {(r.key, r.metric): (r.value, r.n) for r in rows.itertuples()}
    assert got.keys() == expected.keys()
    for cell, (value, n) in expected.items():
        assert got[cell][0] == pytest.approx(value) and got[cell][1] == n, cell


def test_no_cue_decision_gives_nan_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="beyond_imagenet.properties.shape_bias.compute"):
        rows = shape_bias_rows("m", "cc", CONFLICT_IDS, _logits_deciding(["oven"] * 3))
    assert np.isnan(_metric(rows, "shape_bias")["value"])
    assert _metric(rows, "other_fraction")["value"] == 1.0
    assert "m/cc/cue_conflict: no decision names the shape or the texture" in caplog.text


def test_row_errors():
    with pytest.raises(ValueError, match="3 image ids but 2 logit rows"):
        shape_bias_rows("m", "cc", CONFLICT_IDS, _logits_deciding(["oven"] * 2))
    with pytest.raises(ValueError, match="'cat/cat2-dog3.png' appears more than once"):
        shape_bias_rows("m", "cc", [*CONFLICT_IDS, CONFLICT_IDS[-1]], _logits_deciding(["oven"] * 4))


def test_metric_names_and_scale_match_the_paper():
    paper = paper_values()
    paper = paper[paper["property"] == PROPERTY]
    rows = shape_bias_rows("m", "cc", CONFLICT_IDS, _logits_deciding(["oven"] * 3))
    assert set(paper["key"]) == {OVERALL_KEY}
    assert set(paper["metric"]) <= set(rows.loc[rows["key"] == OVERALL_KEY, "metric"])
    assert paper["value"].between(0, 1).all()  # fractions, as ours are


def test_paper_16class_accuracy_counts_all_1280_images():
    """The evidence for the accuracy_16class definition: the paper's values are k/1280, not k/1200."""
    accuracy = paper_values().query("property == @PROPERTY and metric == 'accuracy_16class'")["value"]
    assert len(accuracy) == 4
    for value in accuracy:
        assert round(round(value * FULL_SET_IMAGES) / FULL_SET_IMAGES, 4) == round(value, 4)
    assert sum(round(round(v * 1200) / 1200, 4) == round(v, 4) for v in accuracy) < 2


# --- figure -------------------------------------------------------------------------------------------

def test_figure_smoke(tmp_path):
    specs = {m: ModelSpec(id=m, source="timm", name=m, weights="hub", display_name=m.upper(), family=family,
                          training=training)
             for m, family, training in (("vit_sup", "vit", "supervised"), ("convnext_sup", "convnext", "supervised"),
                                         ("vit_clip", "vit", "clip"), ("convnext_clip", "convnext", "clip"))}
    rng = np.random.default_rng(0)
    ids = [f"{s}/{s}{i}-{t}1.png" for s in CATEGORIES for i, t in enumerate(CATEGORIES[:5]) if s != t]
    frames = []
    shapes = [parse_cue_conflict_id(i)[0] for i in ids]
    for m in specs:
        logits = rng.normal(size=(len(ids), 1000)).astype(np.float32)
        logits += 3 * _logits_deciding(shapes) / 10 * rng.uniform(size=(len(ids), 1))  # some shape decisions
        frames.append(shape_bias_rows(m, "cue_conflict", ids, logits))
    paths = plot_shape_bias(pd.concat(frames, ignore_index=True), specs, tmp_path / "shape_bias")
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_figure_rejects_two_datasets_per_model(tmp_path):
    rows = shape_bias_rows("m", "a", CONFLICT_IDS, _logits_deciding(["airplane", "bear", "cat"]))
    both = pd.concat([rows, rows.assign(dataset="b")], ignore_index=True)
    spec = {"m": ModelSpec(id="m", source="timm", name="m", weights="hub")}
    with pytest.raises(ValueError, match="several shape_bias rows"):
        plot_shape_bias(both, spec, tmp_path / "x")
