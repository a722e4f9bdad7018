"""The canonical ImageNet-1k label order."""

import pytest

from beyond_imagenet.labels import imagenet_classnames, imagenet_wnids, index_of_wnid


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
