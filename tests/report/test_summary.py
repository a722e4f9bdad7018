"""Table 1 counts, the summary's orientation and ranks, the paper comparison and the consistency checks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.models.complexity import count_flops, count_parameters, describe_model
from beyond_imagenet.report.summary import (
    consistency,
    declared_headlines,
    headline_rows,
    paper_comparison,
    ranks,
    table1,
    unformed,
)
from beyond_imagenet.store.rows import metric_frame, metric_row


def test_flops_equal_a_hand_count():
    tiny = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    conv_macs = 8 * 8 * 4 * (3 * 3 * 3)  # output positions x output channels x (kernel x input channels)
    linear_macs = 256 * 10
    assert count_flops(tiny, torch.zeros(1, 3, 8, 8)) == 2 * (conv_macs + linear_macs)
    assert count_parameters(tiny) == sum(p.numel() for p in tiny.parameters()) == (4 * 27 + 4) + (2560 + 10)


def test_a_vit_counts_the_same_on_the_meta_device_and_on_the_cpu():
    """The fused CPU attention kernels are invisible to the counter: counting must use the math kernel."""
    import timm

    spec = ModelSpec(id="v", source="timm", name="test_vit.r160_in1k", weights="hub",
                     model_kwargs={"img_size": 32, "patch_size": 8},
                     preprocess={"resize": 32, "crop": 32, "interpolation": "bilinear", "mean": [0.5] * 3,
                                 "std": [0.5] * 3})
    described = describe_model(spec)
    model = timm.create_model("test_vit.r160_in1k", pretrained=False, img_size=32, patch_size=8)
    assert described["parameters"] == sum(p.numel() for p in model.parameters())
    assert described["gflops"] * 1e9 == count_flops(model.eval(), torch.zeros(1, 3, 32, 32))
    tokens, dim, depth = 16 + 1, model.embed_dim, len(model.blocks)
    attention_macs = depth * 2 * tokens * tokens * dim  # q @ k^T and attn @ v, per block
    assert described["gflops"] * 1e9 > 2 * attention_macs  # the attention products are in the count


def _metrics(rows):
    return metric_frame(metric_row(*row) for row in rows)


VAL = {"my_val": {"format": "imagefolder_wnid", "root": "x", "role": "imagenet_val"}}
SETTINGS = {"accuracy": {"settings": {}, "datasets": VAL}, "calibration": {"settings": {}, "datasets": VAL}}


def test_headlines_rank_by_their_orientation():
    metrics = _metrics([("a", "calibration", "my_val", "imagenet_val", "ece_15bin", 0.02, 10),
                        ("b", "calibration", "my_val", "imagenet_val", "ece_15bin", 0.05, 10),
                        ("a", "accuracy", "my_val", "imagenet_val", "top1_pct", 70.0, 10),
                        ("b", "accuracy", "my_val", "imagenet_val", "top1_pct", 80.0, 10)])
    declared = declared_headlines(SETTINGS)
    headlines = headline_rows(metrics, declared)
    placed = headlines.assign(rank=ranks(headlines)).set_index(["label", "model"])["rank"]
    assert placed[("ECE (val)", "a")] == 1 and placed[("ECE (val)", "b")] == 2  # lower ECE is better
    assert placed[("ImageNet top-1 (%)", "b")] == 1
    only_one = headline_rows(metrics, declared_headlines({"accuracy": SETTINGS["accuracy"]}))  # one headline
    assert list(ranks(only_one).loc[only_one.index]) == [2.0, 1.0]


def test_a_headline_that_cannot_be_formed_says_which_and_why():
    """A dataset that is ImageNet but declares no role (the user's `imagenet_sample`): no silent empty column."""
    sample = {"imagenet_sample": {"format": "imagefolder_wnid", "root": "x"}}
    declared = declared_headlines({"accuracy": {"settings": {}, "datasets": sample},
                                   "invariance": {"settings": {"scales": [2]}, "datasets": sample},
                                   "shape_bias": {"settings": {}, "datasets": {}}})
    lines = unformed(declared)
    assert len(lines) == 2 and "role: imagenet_val" in lines[0] and "shape_bias.datasets is empty" in lines[1]
    invariance, = [h for h in declared if h.property == "invariance"]
    assert invariance.key == "scale=2" and not invariance.missing  # the largest scale asked for, not a fixed 3
    metrics = _metrics([("m", "accuracy", "imagenet_sample", "imagenet_sample", "top1_pct", 70.0, 10)])
    assert headline_rows(metrics, declared).empty
    spec = ModelSpec(id="m", source="timm", name="resnet50", weights="hub")
    first = table1({"m": spec}, {}, metrics, declared[0])
    assert math.isnan(first["imagenet_top1"].iloc[0]) and first["imagenet_top1_ci"].iloc[0] == "n/a"


def test_table1_takes_the_val_top1_of_whichever_dataset_has_the_role():
    declared = declared_headlines({"accuracy": SETTINGS["accuracy"]})
    metrics = _metrics([("m", "accuracy", "my_val", "imagenet_val", "top1_pct", 71.5, 10),
                        ("m", "accuracy", "other", "other", "top1_pct", 10.0, 10)])
    spec = ModelSpec(id="m", source="timm", name="resnet50", weights="hub")
    assert table1({"m": spec}, {}, metrics, declared[0])["imagenet_top1"].iloc[0] == 71.5


def test_paper_comparison_marks_values_inside_the_stated_precision():
    spec = ModelSpec(id="mine", source="timm", name="deit3_base_patch16_224.fb_in22k_ft_in1k", weights="hub")
    metrics = _metrics([("mine", "accuracy", "imagenet_val", "imagenet_val", "top1_pct", 85.53, 50000),
                        ("mine", "accuracy", "imagenet_val", "imagenet_val", "top5_pct", 97.0, 50000)])
    table = paper_comparison(metrics, {"mine": spec})
    (row,) = table.itertuples()  # the paper reports top-1 only
    assert row.paper == 85.5 and row.diff == pytest.approx(0.03) and row.within_precision
    assert row.paper_tolerance == pytest.approx(0.05)
    other = ModelSpec(id="x", source="timm", name="resnet50", weights="hub")
    assert paper_comparison(metrics.assign(model="x"), {"x": other}).empty


def test_consistency_flags_a_property_that_scores_val_differently():
    metrics = _metrics([("m", "accuracy", "my_val", "imagenet_val", "top1_pct", 80.0, 100),
                        ("m", "robustness", "my_val", "imagenet_val", "top1_pct", 79.0, 100),
                        ("m", "imagenet_x", "my_val", "all", "factor_top1_pct", 81.0, 90),
                        ("m", "imagenet_x", "elsewhere", "all", "factor_top1_pct", 20.0, 90)])
    table = consistency(metrics, "my_val").set_index("source")["status"]
    assert table["robustness (imagenet_val)"] == "MISMATCH"
    assert table["imagenet_x (all)"] == "differs (other images)"  # ImageNet-X scores its annotated subset
    assert table["accuracy (imagenet_val)"] == "agrees"
    assert len(table) == 3  # the other dataset is not val
    assert consistency(metrics, None).empty


@pytest.mark.faults
def test_the_verdict_uses_each_paper_values_own_tolerance():
    """An ECE printed as 0.0415 is known to +/- 0.00005, not +/- 0.05: 0.0865 is far outside it."""
    spec = ModelSpec(id="mine", source="open_clip", name="ViT-B-16", pretrained="laion400m_e31", weights="hub")
    metrics = _metrics([("mine", "calibration", "imagenet_val", "imagenet_val", "ece_15bin", 0.0865, 50000)])
    (row,) = paper_comparison(metrics, {"mine": spec}).itertuples()
    assert row.paper_tolerance == pytest.approx(0.00005) and not row.within_precision
    close = paper_comparison(metrics.assign(value=row.paper + 0.00004), {"mine": spec})
    assert close["within_precision"].all()


@pytest.mark.faults
def test_the_shipped_tolerances_are_half_a_unit_of_each_printed_values_last_digit():
    """Read as text: the digits printed are what set the tolerance (85.5 -> 0.05, ECE 0.0415 -> 0.00005)."""
    from importlib import resources

    from beyond_imagenet.catalog.paper import paper_values

    text = resources.files("beyond_imagenet.catalog.files").joinpath("paper_values.csv").read_text()
    raw = [line.split(",") for line in text.splitlines()[1:]]
    assert len(raw) == len(paper_values())
    for _, _, _, _, value, precision, tolerance in raw:
        if precision == "printed":
            assert float(tolerance) == pytest.approx(0.5 * 10 ** -len(value.partition(".")[2])), value
        elif precision == "authors_raw_csv":  # recomputed to 4 decimals (a trailing 0 is not written)
            assert float(tolerance) == pytest.approx(0.00005), value
        elif precision.endswith("winner_minus_diff"):  # the winner's printed value minus a printed difference
            assert float(tolerance) == pytest.approx(0.1), value
        elif precision.startswith("figure_measured_"):
            assert float(tolerance) == pytest.approx(float(precision.removeprefix("figure_measured_"))), value
        else:
            raise AssertionError(f"no rule for precision {precision!r}")
