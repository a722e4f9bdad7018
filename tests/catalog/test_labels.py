"""The canonical ImageNet-1k label order and the label spaces (subsets) decisions are taken over."""

import numpy as np
import pytest

from beyond_imagenet.catalog.labels import (
    LABEL_SPACES,
    class_subset,
    imagenet_classnames,
    imagenet_wnids,
    index_of_wnid,
    restrict,
)


def test_wnids_are_the_sorted_ilsvrc_list():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and len(set(wnids)) == 1000
    assert list(wnids) == sorted(wnids)
    assert wnids[0] == "n01440764" and wnids[999] == "n15075141"


def test_known_indices():
    # tench 0, goldfish 1, airliner 404, tabby 281, toilet tissue 999 (ILSVRC-2012 sorted-wnid order)
    assert index_of_wnid("n01440764") == 0
    assert index_of_wnid("n01443537") == 1
    assert index_of_wnid("n02690373") == 404
    assert index_of_wnid("n02123045") == 281
    assert index_of_wnid("n15075141") == 999


def test_classnames_align_with_wnids():
    names = imagenet_classnames()
    assert len(names) == 1000
    assert (names[0], names[1], names[404], names[281]) == ("tench", "goldfish", "airliner", "tabby cat")


def test_unknown_wnid_is_a_clear_error():
    with pytest.raises(KeyError, match="n99999999.*not one of the 1000"):
        index_of_wnid("n99999999")


# --- label spaces: the one owner of "1000 outputs become this dataset's decision" -----------------

def test_restrict_by_hand_slices_columns_and_maps_labels():
    logits = np.zeros((2, 10))
    logits[:, [2, 5, 7]] = [[1.0, 3.0, 2.0], [4.0, 0.0, 1.0]]
    logits[:, 0] = 50.0  # would win the 1000-way argmax
    restricted = restrict(logits, np.array([5, 2]), np.array([2, 5, 7]))
    assert restricted.logits.shape == (2, 3) and restricted.labels.tolist() == [1, 0]
    assert restricted.logits.argmax(axis=1).tolist() == [1, 0]  # positions of classes 5 and 2
    assert restricted.classes[restricted.logits.argmax(axis=1)].tolist() == [5, 2]


def test_restrict_without_subset_is_the_identity():
    logits = np.arange(20.0).reshape(2, 10)
    restricted = restrict(logits, np.array([3, 4]), None)
    assert restricted.logits is logits and restricted.labels.tolist() == [3, 4]


@pytest.mark.parametrize(("labels", "classes", "message"), [
    ([5, 3], [2, 5, 7], r"labels \[3\] are not among the 3 classes scored"),
    ([2], [2, 12], "class subset index 12 is outside 0..9"),
    ([2], [2, 2], "distinct"),
    ([11], [2, 5], "label 11 is outside 0..9"),
])
def test_restrict_refuses_what_would_silently_miss(labels, classes, message):
    with pytest.raises(ValueError, match=message):
        restrict(np.zeros((len(labels), 10)), np.array(labels), np.array(classes))


@pytest.mark.parametrize("space", ["imagenet_a", "imagenet_r"])
def test_subsets_are_200_sorted_canonical_indices(space):
    subset = class_subset(space)
    assert subset.size == 200 and (np.diff(subset) > 0).all() and subset.min() >= 0 and subset.max() < 1000


def test_label_space_table():
    assert class_subset("imagenet1k") is None
    assert class_subset("imagenet_a")[:3].tolist() == [6, 11, 13]  # n01498041 stingray is 6
    assert class_subset("imagenet_r")[:3].tolist() == [1, 2, 4]  # goldfish, great white shark, hammerhead
    with pytest.raises(ValueError, match="no ImageNet labels"):
        class_subset("none")
    with pytest.raises(ValueError, match="unknown class subset 'imagenet_x'"):
        class_subset("imagenet_x")


def test_every_schema_label_space_is_owned_here():
    from beyond_imagenet.config.schema import load_schema

    schema = load_schema()
    assert set(schema["$defs"]["dataset"]["properties"]["label_space"]["enum"]) == set(LABEL_SPACES)
