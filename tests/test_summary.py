"""Table 1 counts, the summary's orientation and ranks, the paper comparison and the consistency checks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from beyond_imagenet.config import ModelSpec
from beyond_imagenet.model_card import count_flops, count_parameters, describe_model
from beyond_imagenet.rows import metric_frame, metric_row
from beyond_imagenet.summary import (
    consistency,
    headline_rows,
    paper_comparison,
    precision_tolerance,
    ranks,
)


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


def test_headlines_rank_by_their_orientation():
    metrics = _metrics([("a", "calibration", "imagenet_val", "imagenet_val", "ece_15bin", 0.02, 10),
                        ("b", "calibration", "imagenet_val", "imagenet_val", "ece_15bin", 0.05, 10),
                        ("a", "accuracy", "imagenet_val", "imagenet_val", "top1_pct", 70.0, 10),
                        ("b", "accuracy", "imagenet_val", "imagenet_val", "top1_pct", 80.0, 10)])
    headlines = headline_rows(metrics)
    placed = headlines.assign(rank=ranks(headlines)).set_index(["label", "model"])["rank"]
    assert placed[("ECE (val)", "a")] == 1 and placed[("ECE (val)", "b")] == 2  # lower ECE is better
    assert placed[("ImageNet top-1 (%)", "b")] == 1
    only_one = headline_rows(metrics[metrics["property"] == "accuracy"])  # a config with one headline metric
    assert list(ranks(only_one).loc[only_one.index]) == [2.0, 1.0]


def test_paper_comparison_marks_values_inside_the_stated_precision():
    spec = ModelSpec(id="mine", source="timm", name="deit3_base_patch16_224.fb_in22k_ft_in1k", weights="hub")
    metrics = _metrics([("mine", "accuracy", "imagenet_val", "imagenet_val", "top1_pct", 85.53, 50000),
                        ("mine", "accuracy", "imagenet_val", "imagenet_val", "top5_pct", 97.0, 50000)])
    table = paper_comparison(metrics, {"mine": spec})
    (row,) = table.itertuples()  # the paper reports top-1 only
    assert row.paper == 85.5 and row.diff == pytest.approx(0.03) and row.within_precision
    assert precision_tolerance("figure_measured_0.5") == pytest.approx(0.5)
    assert math.isnan(precision_tolerance(float("nan")))
    other = ModelSpec(id="x", source="timm", name="resnet50", weights="hub")
    assert paper_comparison(metrics.assign(model="x"), {"x": other}).empty


def test_consistency_flags_a_property_that_scores_val_differently():
    metrics = _metrics([("m", "accuracy", "imagenet_val", "imagenet_val", "top1_pct", 80.0, 100),
                        ("m", "robustness", "imagenet_val", "imagenet_val", "top1_pct", 79.0, 100),
                        ("m", "imagenet_x", "imagenet_val", "all", "factor_top1_pct", 81.0, 90)])
    table = consistency(metrics).set_index("source")["status"]
    assert table["robustness (imagenet_val)"] == "MISMATCH"
    assert table["imagenet_x (all)"] == "differs (other images)"  # ImageNet-X scores its annotated subset
    assert table["accuracy (imagenet_val)"] == "agrees"
