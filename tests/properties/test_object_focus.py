"""Object focus on ImageNet-9: decisions through in_to_in9 (a class outside IN-9 is wrong), BG-gap = mixed-same -
mixed-rand, and QUBA's object focus 1 - gap / ImageNet top-1."""

import numpy as np
import pytest

from beyond_imagenet.properties.object_focus.compute import (
    compute,
    headlines,
    in9_correct,
)
from beyond_imagenet.stats.resampling import bootstrap_interval
from beyond_imagenet.store.cache import CachedOutputs

DOG, BIRD, CAT = 207, 11, 281  # golden retriever (IN-9 0), goldfinch (1), tabby (outside IN-9)


def test_decisions_by_hand():
    assert in9_correct(np.array([DOG, DOG, BIRD, CAT]), np.array([0, 1, 1, 4])).tolist() == [True, False, True, False]


def _cache(dataset, ids, labels, argmax, label_space="none"):
    logits = np.zeros((len(ids), 1000), np.float32)
    logits[np.arange(len(ids)), argmax] = 1.0
    return CachedOutputs(logits, np.asarray(labels), np.asarray(ids, object), None,
                         {"dataset": dataset, "view": "standard", "part": None, "label_space": label_space})


def test_gap_and_object_focus_by_hand():
    ids, argmax = [], []
    # 4 dog images per variant; right: original 4, only_fg 3, mixed_same 4, mixed_rand 1
    for variant, right in (("original", 4), ("only_fg", 3), ("mixed_same", 4), ("mixed_rand", 1)):
        ids += [f"{variant}/val/00_dog/{k}.JPEG" for k in range(4)]
        argmax += [DOG] * right + [CAT] * (4 - right)
    in9 = _cache("in9", ids, [0] * 16, argmax)
    val = _cache("val", [f"v{k}" for k in range(5)], [DOG] * 5, [DOG] * 4 + [CAT], "imagenet1k")
    datasets = {"in9": {"role": "imagenet_9"}, "val": {"role": "imagenet_val"}}
    rows, outcomes = compute("m", [in9, val], {}, datasets)
    value = dict(zip(rows["key"], rows["value"]))
    assert [value[v] for v in ("original", "only_fg", "mixed_same", "mixed_rand")] == [100.0, 75.0, 100.0, 25.0]
    assert value["bg_gap"] == pytest.approx(75.0)  # mixed-same - mixed-rand, not the reverse
    assert value["object_focus"] == pytest.approx(1 - 0.75 / 0.8)  # QUBA: 1 - gap / ImageNet top-1 (fractions)
    low, high = bootstrap_interval(outcomes[("in9", "bg_gap", "gap_pct")], draws=200)
    assert low <= 75.0 <= high
    without_val, _ = compute("m", [in9], {}, {"in9": {"role": "imagenet_9"}})
    assert "object_focus" not in set(without_val["key"])
    (headline,) = headlines({}, datasets)
    assert (headline.key, headline.metric, headline.better, headline.dataset) == ("bg_gap", "gap_pct", "lower", "in9")


def test_object_focus_is_undefined_not_an_error_when_nothing_on_imagenet_is_right():
    from beyond_imagenet.stats.statistics import object_focus

    columns = {"correct": np.array([1.0, 0.0, 0.0]), "first": np.array([1.0, 0.0, 0.0]),
               "second": np.array([0.0, 1.0, 0.0]), "reference": np.array([0.0, 0.0, 1.0])}
    assert np.isnan(object_focus(columns))  # a bootstrap draw of a barely trained model can be like this


def test_a_variant_without_images_has_no_row_and_no_gap():
    from beyond_imagenet.stats.outcomes import with_intervals

    ids = [f"original/val/00_dog/{k}.JPEG" for k in range(3)] + [f"mixed_same/val/00_dog/{k}.JPEG" for k in range(2)]
    cache = _cache("in9", ids, [0] * 5, [DOG] * 5)
    rows, outcomes = compute("m", [cache], {}, {"in9": {"role": "imagenet_9"}})
    assert set(rows.loc[rows["metric"] == "top1_pct", "key"]) == {"original", "mixed_same"}
    assert "bg_gap" not in set(rows["key"])  # no mixed-rand image to compare with: no gap, no object focus
    with_intervals(rows, "object_focus", outcomes, draws=20)  # every row that is there gets its interval
