"""The invariance figure: one line per (model, dataset), shared y along a row, a true-class-probability row."""

import numpy as np
import pandas as pd
import pytest

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.data.views import invariance_views
from beyond_imagenet.properties.invariance import plot as plot_module
from beyond_imagenet.store.rows import metric_frame, metric_row

MODELS = {m: ModelSpec(id=m, source="timm", name="x", weights="hub", family=f, training=t, display_name=m)
          for m, f, t in (("vit_sup", "vit", "supervised"), ("convnext_sup", "convnext", "supervised"),
                          ("vit_clip", "vit", "clip"), ("convnext_clip", "convnext", "clip"))}
SETTINGS = {"scales": [1, 1.5, 2], "shifts": [0, 5, 30], "resolutions": [112, 224, 336]}


def _metrics(datasets=("imagenet_val",)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [metric_row(model, "invariance", dataset, view, metric, value, 100)
            for model in MODELS for d, dataset in enumerate(datasets) for view in invariance_views(SETTINGS)
            for metric, value in (("top1_pct", 80 - 10 * d + rng.normal()), ("true_class_prob", 0.7 + 0.01 * rng.normal()))]
    return metric_frame(rows)


def test_series_keeps_datasets_apart_and_sorts_by_value():
    metrics = _metrics(("imagenet_val", "imagenet_v2"))
    xs, ys = plot_module.series(metrics, "vit_sup", "imagenet_v2", "scale", "top1_pct")
    assert xs == [1.0, 1.5, 2.0] and all(60 < y < 80 for y in ys)  # the second dataset's values only


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plot_module, "save_figure", lambda figure, out: figures.append(figure) or [out])
    return figures


def test_one_line_per_model_and_dataset_two_rows_per_pair_shared_y(drawn, tmp_path):
    plot_module.plot(_metrics(("imagenet_val", "imagenet_v2")), MODELS, tmp_path / "inv", {})
    axes = np.array(drawn[0].axes).reshape(4, 3)  # (supervised, CLIP) x (top-1, true-class prob), 3 kinds
    for row in axes:
        assert len({ax.get_ylim() for ax in row}) == 1  # one y range along a row
        for ax in row:
            labels = [line.get_label() for line in ax.get_lines()]
            assert len(labels) == 4 and len(set(labels)) == 4  # 2 models x 2 datasets, none merged
    assert axes[1][0].get_ylabel() == "true-class probability"


def test_a_one_point_drop_is_not_drawn_as_a_cliff():
    low, high = plot_module._row_limits([80.0, 79.0], "top1_pct")
    assert high - low >= 10.0 and low < 79.0 and high > 80.0
    low, high = plot_module._row_limits([0.2, 0.9], "true_class_prob")
    assert low <= 0.2 and high >= 0.9 and high <= 1.0
