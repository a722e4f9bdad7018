"""ObjectNet scoring: the argmax over the mapped ImageNet classes only, right when it stands for the image's class."""

import numpy as np
import pytest

from beyond_imagenet.catalog.class_maps import (
    objectnet_class_of_folder,
    objectnet_labels,
)
from beyond_imagenet.properties.objectnet.compute import compute, objectnet_correct
from beyond_imagenet.store.cache import CachedOutputs

ALARM_CLOCK = objectnet_labels().index("Alarm clock")  # analog clock 409, digital clock 530
WINE_BOTTLE = objectnet_class_of_folder("wine_bottle")  # 907


def _logits(*peaks):
    logits = np.zeros((len(peaks), 1000), np.float32)
    for row, peak in enumerate(peaks):
        for index, value in peak.items():
            logits[row, index] = value
    return logits


def test_decisions_by_hand():
    logits = _logits({530: 3.0},  # digital clock: an alarm clock
                     {409: 2.0, 0: 9.0},  # tench is not an ObjectNet class: the mapped argmax is the analog clock
                     {907: 2.0, 530: 1.0},  # wine bottle
                     {409: 1.0, 907: 1.5})
    labels = np.array([ALARM_CLOCK, ALARM_CLOCK, ALARM_CLOCK, WINE_BOTTLE])
    assert objectnet_correct(logits, labels).tolist() == [True, True, False, True]
    # an off-by-one ObjectNet number would miss every one
    assert not objectnet_correct(logits[[0, 1]], labels[[0, 1]] + 1).any()


def test_compute_rows_and_outcome():
    logits = _logits({530: 3.0}, {907: 1.0}, {409: 1.0})
    cache = CachedOutputs(logits, np.array([ALARM_CLOCK, ALARM_CLOCK, WINE_BOTTLE]),
                          np.array(["a.png", "b.png", "c.png"], object), None,
                          {"dataset": "objectnet", "view": "standard", "part": None, "label_space": "none"})
    rows, outcomes = compute("m", [cache], {}, {"objectnet": {"role": "objectnet"}})
    assert rows.iloc[0][["key", "metric", "n"]].tolist() == ["objectnet", "top1_pct", 3]
    assert rows.iloc[0]["value"] == pytest.approx(100 / 3)
    assert outcomes[("objectnet", "objectnet", "top1_pct")].columns["correct"].tolist() == [1.0, 0.0, 0.0]


def test_a_label_outside_the_113_is_refused():
    with pytest.raises(ValueError, match="format objectnet"):
        objectnet_correct(_logits({530: 1.0}), np.array([113]))
