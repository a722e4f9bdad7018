"""The published class maps as shipped: ObjectNet's 113 classes (equal to its challenge starter's own id table),
ImageNet-9's in_to_in9, and ImageNet-O's 200 classes (not ImageNet-A's)."""

import json
from pathlib import Path

import numpy as np
import pytest

from beyond_imagenet.catalog.class_maps import (
    in_to_in9,
    objectnet_class_of_folder,
    objectnet_decision_map,
    objectnet_folder_labels,
    objectnet_imagenet_classes,
    objectnet_labels,
)
from beyond_imagenet.catalog.labels import (
    LABEL_SPACES,
    class_subset,
    imagenet_subset,
    index_of_wnid,
)

# abarbu/objectnet-template-pytorch @50cc886, mapping_files/imagenet_pytorch_id_to_objectnet_id.json: canonical
# (torchvision) index -> ObjectNet id, the position of the label among all 313 sorted labels
TEMPLATE = Path(__file__).with_name("objectnet_template_pytorch_id_to_objectnet_id.json")


def test_objectnet_map_equals_the_challenge_starters_table():
    template = {int(k): int(v) for k, v in json.loads(TEMPLATE.read_text()).items()}
    columns, classes = objectnet_decision_map()
    all_labels = sorted(objectnet_folder_labels().values())
    assert sorted(template) == columns.tolist()  # the same 125 ImageNet classes
    assert [all_labels.index(objectnet_labels()[c]) for c in classes] == [template[i] for i in columns]


def test_objectnet_counts_and_hand_entries():
    assert len(objectnet_labels()) == 113 and len(objectnet_folder_labels()) == 313
    assert sum(len(c) for c in objectnet_imagenet_classes()) == 125
    alarm_clock = objectnet_labels().index("Alarm clock")
    assert objectnet_imagenet_classes()[alarm_clock] == (409, 530)  # analog clock, digital clock
    assert objectnet_labels()[objectnet_class_of_folder("wine_bottle")] == "Wine bottle"
    assert objectnet_imagenet_classes()[objectnet_class_of_folder("wine_bottle")] == (907,)
    assert objectnet_class_of_folder("squeegee") is None  # a class without ImageNet counterpart
    with pytest.raises(KeyError, match="not an ObjectNet image folder"):
        objectnet_class_of_folder("wine bottle")


def test_in_to_in9_counts_and_hand_entries():
    table = in_to_in9()
    assert np.bincount(table[table >= 0]).tolist() == [116, 52, 42, 36, 35, 27, 26, 20, 16]
    assert (table == -1).sum() == 630
    assert table[[151, 171, 11, 555, 0, 389, 281]].tolist() == [0, -1, 1, 2, 8, 8, -1]  # dog, -, bird, vehicle, fish


def test_imagenet_o_label_space_is_its_own_200_classes():
    o, a = imagenet_subset("imagenet_o"), imagenet_subset("imagenet_a")
    assert len(set(o.tolist())) == 200 and o.tolist() == sorted(o.tolist())
    assert len(set(o.tolist()) & set(a.tolist())) == 59  # not ImageNet-A's list
    assert o[0] == index_of_wnid("n01443537") == 1  # goldfish, the first of its authors' list
    assert "imagenet_o" in LABEL_SPACES and class_subset("imagenet_o").tolist() == o.tolist()
