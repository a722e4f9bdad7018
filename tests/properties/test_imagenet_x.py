"""ImageNet-X error ratios: by hand, against the imagenet-x package's own pipeline, the file round trip, the figure."""

import json
import logging
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.catalog.labels import imagenet_wnids
from beyond_imagenet.catalog.paper import paper_values
from beyond_imagenet.demo.render import Factors, imagenet_x_factors
from beyond_imagenet.properties.imagenet_x.compute import (
    FACTORS,
    FILE_FACTOR_ORDER,
    TOP_FACTOR_PRIORITY,
    annotations_from_flags,
    error_ratios,
    imagenet_x_rows,
    join_predictions,
    load_factor_annotations,
    package_annotation_dir,
    write_factor_annotations,
)
from beyond_imagenet.properties.imagenet_x.plot import FACTOR_ORDER, plot_imagenet_x

from ..conftest import four_paper_like_specs

imagenet_x = pytest.importorskip("imagenet_x", reason="the imagenet-x package (requirements.txt) is not installed")
from imagenet_x.aggregate import compute_factor_accuracies, error_ratio  # noqa: E402
from imagenet_x.utils import augment_model_predictions, load_annotations  # noqa: E402

ANNOTATED_VAL = 48_868  # images in the package's val files
ANNOTATED_PROTOTYPES = 2_758  # of the 3,000 prototypical images, those that are annotated


def _table(names: list[str], factor_lists: list[list[str]]) -> pd.DataFrame:
    """Annotations with the given factors set per image."""
    rows = [{"file_name": n, **{f: int(f in fs) for f in FACTORS}} for n, fs in zip(names, factor_lists)]
    return pd.DataFrame(rows, columns=["file_name", *FACTORS])


def _flags(*on: str) -> dict[str, bool]:
    return {f: f in on for f in FACTORS}


# --- constants and the package's files ---------------------------------------------------------------

def test_factor_names_match_package_and_demo():
    assert FACTORS == tuple(imagenet_x.FACTORS)
    assert tuple(imagenet_x_factors(Factors())) == FACTORS  # the demo renderer's flags, same keys and order
    assert sorted(TOP_FACTOR_PRIORITY) == sorted(FACTORS)
    assert set(FACTOR_ORDER) == {*FACTORS, "average"}
    with (package_annotation_dir() / "imagenet_x_val_top_factor.jsonl").open() as handle:
        keys = list(json.loads(handle.readline()))
    assert tuple(k for k in keys if k in FACTORS) == FILE_FACTOR_ORDER


@pytest.mark.parametrize("kind", ["top", "multi"])
def test_package_annotations_drop_prototypes_like_the_package(kind):
    ours = load_factor_annotations(kind, "package")
    assert list(ours.columns) == ["file_name", *FACTORS]
    assert len(ours) == ANNOTATED_VAL - ANNOTATED_PROTOTYPES == 46_110
    prototypes = pd.read_csv(package_annotation_dir() / "prototypical_paths.csv")["file_name"]
    assert not ours["file_name"].isin(prototypes).any()
    theirs = load_annotations(which_factor=kind, filter_prototypes=True)[["file_name", *FACTORS]]
    pd.testing.assert_frame_equal(ours, theirs.reset_index(drop=True), check_dtype=False)
    per_image = ours[list(FACTORS)].sum(axis=1)
    assert per_image.max() == 1 if kind == "top" else per_image.max() > 1


def test_top_kind_rejects_a_multi_factor_file(tmp_path):
    path = tmp_path / "multi.jsonl"
    write_factor_annotations(_table(["a.JPEG"], [["pose", "color"]]), path)
    assert len(load_factor_annotations("multi", path)) == 1
    with pytest.raises(ValueError, match="'a.JPEG' has several factors"):
        load_factor_annotations("top", path)


def test_bad_kind_and_missing_columns(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        load_factor_annotations("both", "package")
    path = tmp_path / "bad.jsonl"
    path.write_text('{"file_name":"a.JPEG","pose":1}\n')
    with pytest.raises(ValueError, match="a record lacks ImageNet-X key 'background'"):
        load_factor_annotations("multi", path)
    path.write_text(json.dumps({"file_name": "a.JPEG", **{f: 0.5 for f in FACTORS}}) + "\n")
    with pytest.raises(ValueError, match="hold values other than 0/1"):
        load_factor_annotations("multi", path)


# --- against the package's pipeline on the real 50,000 val file names ---------------------------------

@pytest.fixture(scope="module")
def synthetic_predictions() -> pd.DataFrame:
    """file_name, label, predicted_class for all 50,000 val images; errors more likely on texture/style images."""
    val = pd.read_csv(package_annotation_dir() / "filename_label.csv")
    multi = load_annotations(which_factor="multi", filter_prototypes=False).set_index("file_name")
    hard = multi.reindex(val["file_name"])[["texture", "style"]].fillna(0).sum(axis=1).to_numpy() > 0
    rng = np.random.default_rng(0)
    correct = rng.random(len(val)) < np.where(hard, 0.45, 0.8)
    return val.assign(predicted_class=np.where(correct, val["label"], (val["label"] + 1) % 1000))


@pytest.mark.filterwarnings("ignore:Constructing a DataFrame from a list of sequences:DeprecationWarning")
@pytest.mark.parametrize("kind", ["top", "multi"])
def test_error_ratios_equal_the_packages(kind, synthetic_predictions):
    predictions = synthetic_predictions.sample(frac=1.0, random_state=1)  # our cache order is not the CSV's
    theirs_acc = compute_factor_accuracies(augment_model_predictions(
        load_annotations(which_factor=kind), {"m": predictions[["file_name", "predicted_class"]]}), list(FACTORS))
    theirs = error_ratio(theirs_acc).loc["m"]

    wnids = imagenet_wnids()
    ids = [f"{wnids[label]}/{name}" for label, name in zip(predictions["label"], predictions["file_name"])]
    correct = (predictions["predicted_class"] == predictions["label"]).to_numpy()
    joined = join_predictions(ids, correct, load_factor_annotations(kind, "package"))
    ours = error_ratios(joined)

    assert len(joined) == 46_110
    np.testing.assert_allclose(ours[list(FACTORS)].to_numpy(), theirs[list(FACTORS)].to_numpy(), rtol=0, atol=1e-9)
    assert joined["correct"].mean() == pytest.approx(theirs_acc.loc["m", "average"], abs=1e-12)
    # Definitional difference, on purpose: the package's "average" column is acc_all (an accuracy); the
    # paper's "average" bar is the mean of the 16 error ratios, which error_ratios reports.
    assert ours["average"] == pytest.approx(theirs[list(FACTORS)].mean(), abs=1e-12)
    assert ours["texture"] > 1.3 and ours["style"] > 1.3  # the planted weakness shows


# --- by hand -------------------------------------------------------------------------------------------

def test_top_factor_ratio_by_hand(caplog):
    # 10 images: 4 pose, 3 color, 2 texture, 1 without factor; wrong on 2 of the 4 pose images only.
    names = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 11)]
    annotations = _table(names, [["pose"]] * 4 + [["color"]] * 3 + [["texture"]] * 2 + [[]])
    correct = np.array([False, False, True, True] + [True] * 6)
    with caplog.at_level(logging.WARNING):
        ratios = error_ratios(join_predictions(names, correct, annotations))
    # acc_all = 8/10, acc_pose = 2/4: (1 - 0.5) / (1 - 0.8) = 2.5
    assert ratios["pose"] == pytest.approx(2.5)
    assert ratios["color"] == 0.0 and ratios["texture"] == 0.0
    assert ratios.drop(["pose", "color", "texture", "average"]).isna().all()  # no images → NaN, warned
    assert "no scored image has factor" in caplog.text
    assert ratios["average"] == pytest.approx(2.5 / 3)  # mean over the 3 defined factors


def test_multi_factor_ratio_by_hand():
    # Image 1 has pose+color and is the only error among 4: pose and color both get it.
    annotations = _table(["a", "b", "c", "d"], [["pose", "color"], ["pose"], ["color"], ["texture"]])
    ratios = error_ratios(join_predictions(["a", "b", "c", "d"], np.array([False, True, True, True]), annotations))
    # acc_all = 3/4; acc_pose = acc_color = 1/2: 0.5 / 0.25 = 2
    assert ratios["pose"] == pytest.approx(2.0) and ratios["color"] == pytest.approx(2.0)
    assert ratios["texture"] == 0.0


def test_no_errors_gives_nan_ratios():
    annotations = _table(["a", "b"], [["pose"], ["color"]])
    assert error_ratios(join_predictions(["a", "b"], np.array([True, True]), annotations)).isna().all()


def test_paper_average_is_the_mean_of_its_16_ratios():
    paper = paper_values().query("property == 'imagenet_x' and metric == 'error_ratio'")
    table = paper.pivot(index="key", columns="model", values="value")
    # Values read off the figure to ±0.02 each, so their mean is good to about that too.
    np.testing.assert_allclose(table.loc[list(FACTORS)].mean(), table.loc["average"], atol=0.02)


# --- the join ----------------------------------------------------------------------------------------

def test_join_uses_basenames_and_logs_unmatched(caplog):
    annotations = _table(["x.JPEG", "y.JPEG", "z.JPEG"], [["pose"], [], ["color"]])
    with caplog.at_level(logging.INFO):
        joined = join_predictions(["n01/x.JPEG", "n02/y.JPEG", "n03/w.JPEG"], np.array([True, False, True]),
                                  annotations)
    assert joined.set_index("file_name")["correct"].to_dict() == {"x.JPEG": True, "y.JPEG": False}
    assert "1 annotated images without a prediction; 1 predictions without an annotation" in caplog.text


def test_join_names_are_the_ids_file_names_in_every_listing_layout():
    ids = ["n01440764/ILSVRC2012_val_00000293.JPEG", "ILSVRC2012_val_00000001.JPEG", "fog/3/n01/x y.JPEG",
           "a/b/c/d.jpeg"]
    annotations = _table([PurePosixPath(i).name for i in ids], [["pose"], [], ["color"], []])
    joined = join_predictions(ids, np.array([True, False, True, False]), annotations)
    assert sorted(joined["file_name"]) == sorted(PurePosixPath(i).name for i in ids)


def test_join_rejects_duplicates_and_no_overlap():
    annotations = _table(["x.JPEG", "y.JPEG"], [["pose"], []])
    with pytest.raises(ValueError, match="predictions: file name 'x.JPEG' occurs more than once"):
        join_predictions(["a/x.JPEG", "b/x.JPEG"], np.array([True, True]), annotations)
    with pytest.raises(ValueError, match="annotations: file name 'x.JPEG' occurs more than once"):
        join_predictions(["a/x.JPEG"], np.array([True]), pd.concat([annotations, annotations.iloc[:1]]))
    with pytest.raises(ValueError, match="no prediction matches .* 'x.png' vs annotation 'x.JPEG'"):
        join_predictions(["a/x.png"], np.array([True]), annotations)


# --- rows ------------------------------------------------------------------------------------------

def test_rows_use_the_paper_keys():
    names = ["a", "b", "c", "d"]
    annotations = _table(names, [["pose"], ["pose"], ["color"], []])
    logits = np.eye(3)[[0, 1, 2, 0]].astype(np.float32)
    labels = np.array([0, 2, 2, 0])  # wrong on b (pose) only
    rows = imagenet_x_rows("m", "imagenet_val", names, logits, labels, annotations, "top")
    ratio = rows[rows["metric"] == "error_ratio"].set_index("key")["value"]
    paper_keys = paper_values().query("property == 'imagenet_x' and metric == 'error_ratio'")["key"]
    assert set(ratio.index) == set(paper_keys)
    assert ratio["pose"] == pytest.approx(0.5 / 0.25)
    top1 = rows[rows["metric"] == "factor_top1_pct"].set_index("key")["value"]
    count = rows[rows["metric"] == "factor_count"].set_index("key")["value"]
    assert top1["pose"] == 50.0 and top1["all"] == 75.0 and count["pose"] == 2 and count["all"] == 4
    assert (rows["n"] == 4).all() and (rows["property"] == "imagenet_x").all()
    multi = imagenet_x_rows("m", "imagenet_val", names, logits, labels, annotations, "multi")
    assert set(multi["metric"]) == {"error_ratio_multi", "factor_top1_pct_multi", "factor_count_multi"}


def test_top_variant_rejects_multi_annotations():
    annotations = _table(["a"], [["pose", "color"]])
    with pytest.raises(ValueError, match="variant='top' but some images carry several factors"):
        imagenet_x_rows("m", "d", ["a"], np.zeros((1, 2)), np.array([0]), annotations, "top")


# --- demo annotations and the file format ------------------------------------------------------------

def test_flags_to_tables_by_priority():
    tables = annotations_from_flags(["a", "b", "c"], [_flags("pose", "style"), _flags(), _flags("color")])
    top = tables["top"].set_index("file_name")
    assert top.loc["a", "style"] == 1 and top.loc["a"].sum() == 1  # style outranks pose in TOP_FACTOR_PRIORITY
    assert top.loc["b"].sum() == 0 and top.loc["c", "color"] == 1
    multi = tables["multi"].set_index("file_name")
    assert multi.loc["a", ["pose", "style"]].tolist() == [1, 1] and multi.loc["a"].sum() == 2
    with pytest.raises(ValueError, match="flags of 'a' must have exactly the 16 ImageNet-X keys; missing"):
        annotations_from_flags(["a"], [{"pose": True}])


@pytest.mark.parametrize("kind", ["top", "multi"])
def test_demo_tables_round_trip(kind, tmp_path):
    flags = [imagenet_x_factors(Factors(rotation_deg=90.0, style="sketch")), imagenet_x_factors(Factors())]
    table = annotations_from_flags(["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"], flags)[kind]
    path = tmp_path / f"imagenet_x_val_{kind}_factor.jsonl"
    write_factor_annotations(table, path)
    pd.testing.assert_frame_equal(load_factor_annotations(kind, path), table)


def test_written_line_matches_the_package_format(tmp_path):
    with (package_annotation_dir() / "imagenet_x_val_top_factor.jsonl").open() as handle:
        line = handle.readline()
    record = json.loads(line)
    path = tmp_path / "one.jsonl"
    write_factor_annotations(pd.DataFrame([record]), path)
    expected = {k: v for k, v in record.items() if k not in ("class", "justification", "one_word")}
    assert path.read_text() == json.dumps(expected, separators=(",", ":")) + "\n"
    assert line.startswith(path.read_text().split(',"multiple_objects"')[0])  # same compact style


# --- figure ------------------------------------------------------------------------------------------

def test_figure_smoke(tmp_path):
    models = four_paper_like_specs()
    rng = np.random.default_rng(0)
    metrics = pd.DataFrame([{"model": m, "property": "imagenet_x", "dataset": "imagenet_val", "key": k,
                             "metric": "error_ratio", "value": float(rng.uniform(0.5, 2.5)), "n": 100}
                            for m in models for k in FACTOR_ORDER])
    paths = plot_imagenet_x(metrics, models, tmp_path / "imagenet_x")
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="several error_ratio rows"):
        plot_imagenet_x(pd.concat([metrics, metrics.assign(dataset="other")]), models, tmp_path / "x")
