"""Contract tests of the dataset adapters on a generated world: label order, ids, formats, errors."""

from pathlib import Path

import pytest
from PIL import Image

from beyond_imagenet.config import DatasetSpec
from beyond_imagenet.datasets import DatasetFormatError, list_flat_labels, list_imagefolder_wnid, list_samples, load_rgb
from beyond_imagenet.labels import imagenet_wnids

from .conftest import TINY_CLASSES


def test_wnid_folders_map_to_sorted_wnid_index(tiny_world):
    samples = list_imagefolder_wnid(tiny_world / "val")
    assert len(samples) == 5 * len(TINY_CLASSES)
    assert sorted(set(samples.labels)) == sorted(TINY_CLASSES)
    for image_id, label in zip(samples.ids, samples.labels):
        assert image_id.split("/")[0] == imagenet_wnids()[label]
    assert list(samples.ids) == sorted(samples.ids)  # ids are root-relative, in a stable order


def test_flat_set_gives_the_same_pairs_as_wnid_folders(tiny_world):
    folders = list_imagefolder_wnid(tiny_world / "val")
    flat = list_flat_labels(tiny_world / "val_flat", tiny_world / "val_flat_labels.csv")
    by_name = {Path(i).name: label for i, label in zip(folders.ids, folders.labels)}
    assert dict(zip(flat.ids, flat.labels)) == by_name
    # The generator shuffles classes over file numbers, so sorting by file name is not by class:
    # a label taken from row order instead of the label file would fail the assert above.
    assert list(flat.labels) != sorted(flat.labels)


def test_label_file_by_wnid_column(tmp_path, tiny_world):
    flat = list_flat_labels(tiny_world / "val_flat", tiny_world / "val_flat_labels.csv")
    wnid_file = tmp_path / "labels.csv"
    wnid_file.write_text("file_name,wnid\n" + "".join(f"{i},{imagenet_wnids()[l]}\n" for i, l in zip(flat.ids, flat.labels)))
    again = list_flat_labels(tiny_world / "val_flat", wnid_file)
    assert again.labels == flat.labels and again.fingerprint() == flat.fingerprint()


def test_fingerprint_changes_with_a_label(tiny_world):
    samples = list_imagefolder_wnid(tiny_world / "val")
    changed = type(samples)(samples.root, samples.ids, (samples.labels[0] + 1,) + samples.labels[1:])
    assert changed.fingerprint() != samples.fingerprint()


def test_folder_that_is_not_a_wnid_is_an_error(tmp_path):
    (tmp_path / "cats").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "cats" / "a.png")
    with pytest.raises(DatasetFormatError, match=r"cats.*not one of the 1000"):
        list_imagefolder_wnid(tmp_path)


def test_label_file_problems_are_named(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.JPEG")
    bad = tmp_path / "labels.csv"
    bad.write_text("name,label\na.JPEG,3\n")
    with pytest.raises(DatasetFormatError, match="needs a 'file_name' column"):
        list_flat_labels(tmp_path, bad)
    bad.write_text("file_name,label\na.JPEG,3\na.JPEG,4\n")
    with pytest.raises(DatasetFormatError, match=r"labels\.csv:3: file 'a\.JPEG' is listed twice"):
        list_flat_labels(tmp_path, bad)
    bad.write_text("file_name,label\nb.JPEG,3\n")
    with pytest.raises(DatasetFormatError, match=r"1 listed files are not in"):
        list_flat_labels(tmp_path, bad)
    bad.write_text("file_name,label\na.JPEG,1000\n")
    with pytest.raises(DatasetFormatError, match="outside 0..999"):
        list_flat_labels(tmp_path, bad)


def test_missing_root_is_named(tmp_path):
    spec = DatasetSpec(id="x", format="imagefolder_wnid", root=str(tmp_path / "absent"))
    with pytest.raises(DatasetFormatError, match="absent.*not a directory"):
        list_samples(spec)


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "RGBA"])
def test_images_are_converted_to_rgb(tmp_path, mode):
    path = tmp_path / "x.png" if mode != "CMYK" else tmp_path / "x.jpg"
    Image.new(mode, (5, 4)).save(path)
    image = load_rgb(path)
    assert image.mode == "RGB" and image.size == (5, 4)
