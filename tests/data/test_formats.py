"""Contract tests of the dataset adapters on a generated world: label order, ids, formats, errors."""

from pathlib import Path

import pytest
from PIL import Image

from beyond_imagenet.catalog.labels import imagenet_wnids
from beyond_imagenet.config.specs import DatasetSpec
from beyond_imagenet.data.formats import (
    DatasetFormatError,
    list_flat_labels,
    list_imagefolder_wnid,
    list_samples,
    load_rgb,
)

from ..conftest import TINY_CLASSES


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


def test_v2_numeric_folders_are_labelled_by_value_not_sort_rank(tmp_path):
    # As strings these sort 0, 1, 10, 100, 2: ImageFolder would label them 0, 1, 2, 3, 4.
    for name in ("0", "1", "10", "100", "2"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (4, 4)).save(tmp_path / name / "x.jpeg")
    samples = list_samples(DatasetSpec(id="v2", format="numeric_folders", root=str(tmp_path)))
    assert dict(zip(samples.ids, samples.labels)) == {"0/x.jpeg": 0, "1/x.jpeg": 1, "10/x.jpeg": 10,
                                                       "100/x.jpeg": 100, "2/x.jpeg": 2}
    (tmp_path / "n01440764").mkdir()
    with pytest.raises(DatasetFormatError, match="must be named 0..999"):
        list_samples(DatasetSpec(id="v2", format="numeric_folders", root=str(tmp_path)))


def test_imagenet_c_whole_and_parts_agree(tiny_world):
    from beyond_imagenet.config.specs import dataset_keys, split_dataset_key

    split_spec = DatasetSpec(id="imagenet_c", format="imagenet_c", root=str(tiny_world / "c"))
    whole = list_samples(split_spec)  # no part: every cell
    keys = dataset_keys(split_spec)
    assert len(keys) == 75 and keys[0] == "imagenet_c.gaussian_noise.1"
    parts = [list_samples(split_spec, split_dataset_key(k)[1]) for k in keys]
    assert [i for p in parts for i in p.ids] == list(whole.ids)
    assert [l for p in parts for l in p.labels] == list(whole.labels)
    assert whole.ids[0].startswith("gaussian_noise/1/n") and len(whole) == 75 * 4


def test_parquet_multilabel_reads_label_lists_and_images(tiny_world):
    samples = list_samples(DatasetSpec(id="hard", format="parquet_multilabel", root=str(tiny_world / "hard/data")))
    assert samples.label_sets is not None and len(samples.label_sets) == len(samples)
    assert all(label == s[0] for label, s in zip(samples.labels, samples.label_sets))
    assert samples.ids[1].endswith(".parquet/000001")
    assert samples.load(len(samples) - 1).mode == "RGB" and samples.load(0).size == (32, 32)


def test_parquet_label_errors_are_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"image": [b"x"], "label": [[1000]]}), tmp_path / "bad.parquet")
    with pytest.raises(DatasetFormatError, match=r"bad\.parquet: row 0 has label \[1000\]"):
        list_samples(DatasetSpec(id="hard", format="parquet_multilabel", root=str(tmp_path)))
    pq.write_table(pa.table({"img": [b"x"], "label": [[1]]}), tmp_path / "bad.parquet")
    with pytest.raises(DatasetFormatError, match="needs columns 'image' and 'label'"):
        list_samples(DatasetSpec(id="hard", format="parquet_multilabel", root=str(tmp_path)))


def test_a_and_r_sets_hold_only_their_200_classes(tiny_world):
    from beyond_imagenet.catalog.labels import imagenet_subset

    for name in ("a", "r"):
        samples = list_samples(DatasetSpec(id=name, format="imagefolder_wnid", root=str(tiny_world / name)))
        assert set(samples.labels) <= set(imagenet_subset(f"imagenet_{name}").tolist())


def test_cue_conflict_and_pug_layouts(tiny_world):
    cue = list_samples(DatasetSpec(id="cue", format="cue_conflict", root=str(tiny_world / "cue_conflict")))
    assert len(cue) == 4 * 4 * 2 and set(cue.labels) == {-1}
    assert cue.ids[0].split("/")[0] == "airplane" and cue.ids[0].endswith(".png")
    pug = list_samples(DatasetSpec(id="pug", format="pug", root=str(tiny_world / "pug")))
    factors = {i.split("/")[0] for i in pug.ids}
    assert len(factors) == 10 and "Object_Texture" in factors


def test_vtab_task_lists_every_image_once_with_its_label(tiny_world):
    root = tiny_world / "vtab" / "counting"
    samples = list_samples(DatasetSpec(id="vtab_counting", format="vtab", root=str(root)))
    listed = {}
    for name in ("train800val200.txt", "test.txt"):
        for line in (root / name).read_text().split("\n"):
            if line:
                path, label = line.split()
                listed[path] = int(label)
    assert dict(zip(samples.ids, samples.labels)) == listed
    assert len(samples) == len(set(samples.ids))


def test_vtab_conflicting_labels_are_named(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    (tmp_path / "train800val200.txt").write_text("a.png 1\n")
    (tmp_path / "test.txt").write_text("a.png 2\n")
    with pytest.raises(DatasetFormatError, match=r"test\.txt:1: a\.png has label 2 here and 1 in another list"):
        list_samples(DatasetSpec(id="t", format="vtab", root=str(tmp_path)))
    (tmp_path / "test.txt").write_text("a.png\n")
    with pytest.raises(DatasetFormatError, match=r"test\.txt:1: expected 'relative/path label'"):
        list_samples(DatasetSpec(id="t", format="vtab", root=str(tmp_path)))


# --- the format table: one contract test per format, on the tiny generated world ------------------

TINY_SETS = {  # format -> (folder under the tiny world, extra config fields)
    "imagefolder_wnid": ("val", {}),
    "flat_labels": ("val_flat", {"label_file": "val_flat_labels.csv"}),
    "numeric_folders": ("v2", {}),
    "imagenet_c": ("c", {}),
    "parquet_multilabel": ("hard/data", {}),
    "hf_parquet": ("hard", {}),
    "cue_conflict": ("cue_conflict", {}),
    "pug": ("pug", {}),
    "vtab": ("vtab/counting", {}),
    "objectnet": ("objectnet", {}),
    "imagenet_9": ("bg_challenge", {}),
}


def test_every_format_is_in_the_table_the_schema_and_this_test():
    from beyond_imagenet.config.schema import load_schema
    from beyond_imagenet.data.formats import DATASET_FORMATS

    assert set(TINY_SETS) == set(DATASET_FORMATS)
    assert set(load_schema()["$defs"]["dataset"]["properties"]["format"]["enum"]) == set(DATASET_FORMATS)


@pytest.mark.parametrize("name", sorted(TINY_SETS))
def test_format_contract(name, tiny_world):
    folder, extra = TINY_SETS[name]
    fields = {k: str(tiny_world / v) for k, v in extra.items()}
    samples = list_samples(DatasetSpec(id="d", format=name, root=str(tiny_world / folder), **fields))
    assert len(samples) > 0 and len(set(samples.ids)) == len(samples)
    assert all(label == -1 or 0 <= label < 1000 for label in samples.labels)
    first, last = samples.load(0), samples.load(len(samples) - 1)
    assert first.mode == "RGB" and last.mode == "RGB"
    assert list(samples.shard(1, 2).ids) + list(samples.shard(2, 2).ids) == list(samples.ids)
    assert samples.shard(2, 2).load(0).tobytes() == samples.load(len(samples) // 2).tobytes()


@pytest.mark.parametrize("path", ["../outside.png", "/etc/passwd", "a/../../b.png"])
@pytest.mark.faults
def test_split_list_paths_must_stay_inside_the_task_folder(tmp_path, path):
    (tmp_path / "train800val200.txt").write_text(f"{path} 0\n")
    (tmp_path / "test.txt").write_text("")
    with pytest.raises(DatasetFormatError, match=r"train800val200\.txt:1: path .* leaves the task folder"):
        list_samples(DatasetSpec(id="t", format="vtab", root=str(tmp_path)))


# --- images that would load wrong or fail without naming the file (issue 9, cases 7 and the unclear errors) ---

@pytest.mark.faults
def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped_white(tmp_path):
    import numpy as np

    pixels = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    loaded = np.asarray(load_rgb(tmp_path / "deep.png"))
    assert loaded.shape == (64, 64, 3) and (loaded[..., 0] == pixels >> 8).all()
    assert loaded.mean() < 200  # Pillow's own convert("RGB") gives ~254 (nearly all white)


@pytest.mark.faults
def test_a_truncated_jpeg_is_an_error_naming_the_file(tmp_path):
    Image.new("RGB", (64, 64), "red").save(tmp_path / "cut.jpg", quality=90)
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"(?i)cut\.jpg: not a readable image .*truncated"):
        load_rgb(tmp_path / "cut.jpg")


@pytest.mark.faults
def test_a_decompression_bomb_is_an_error_naming_the_file(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels > 2 x the limit: a "bomb"
    with pytest.raises(DatasetFormatError, match=r"big\.png: Image size .* exceeds limit"):
        load_rgb(tmp_path / "big.png")


@pytest.mark.faults
def test_images_the_label_file_does_not_list_are_counted_or_refused(tmp_path, caplog):
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("file_name,label\na.png,1\n")
    with caplog.at_level("WARNING"):
        samples = list_flat_labels(tmp_path, tmp_path / "labels.csv")
    assert list(samples.ids) == ["a.png"] and "2 of 3 images have no label" in caplog.text
    with pytest.raises(DatasetFormatError, match="2 of 3 images have no label"):
        list_flat_labels(tmp_path, tmp_path / "labels.csv", "error")


@pytest.mark.faults
def test_a_label_that_is_no_number_names_file_and_line(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("file_name,label\na.png,abc\n")
    with pytest.raises(DatasetFormatError, match=r"labels\.csv:2: label 'abc' is not a class index"):
        list_flat_labels(tmp_path, tmp_path / "labels.csv")


def _hub_shard(path, labels, names=None, image_paths=None):
    """A parquet shard as the `datasets` library writes it: an image struct, a label, ClassLabel names in metadata."""
    import io as _io
    import json as _json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image as _Image

    images = []
    for i, _ in enumerate(labels):
        buffer = _io.BytesIO()
        _Image.new("RGB", (6, 4), (i * 40 % 256, 0, 0)).save(buffer, format="PNG")
        images.append({"bytes": buffer.getvalue(), "path": image_paths[i] if image_paths else None})
    table = pa.table({"image": images, "label": labels})
    if names is not None:
        features = {"label": {"names": names, "_type": "ClassLabel"}, "image": {"_type": "Image"}}
        table = table.replace_schema_metadata({"huggingface": _json.dumps({"info": {"features": features}})})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _hub_spec(root, **keys):
    return DatasetSpec(id="hub", format="hf_parquet", root=str(root), **keys)


def test_hf_parquet_reads_a_split_of_a_snapshot_with_canonical_indices(tmp_path):
    _hub_shard(tmp_path / "data/test-00000-of-00002.parquet", [5, 999])
    _hub_shard(tmp_path / "data/test-00001-of-00002.parquet", [0])
    _hub_shard(tmp_path / "data/train-00000-of-00001.parquet", [1, 2, 3])  # another split: not read
    samples = list_samples(_hub_spec(tmp_path, split="test"))
    assert samples.labels == (5, 999, 0)
    # no stored file names: ids are shard path + row, stable for one revision
    assert samples.ids == ("data/test-00000-of-00002.parquet/000000", "data/test-00000-of-00002.parquet/000001",
                           "data/test-00001-of-00002.parquet/000000")
    assert samples.load(2).size == (6, 4)
    with pytest.raises(DatasetFormatError, match="no parquet shards of split 'validation'"):
        list_samples(_hub_spec(tmp_path))


def test_hf_parquet_maps_wnid_class_names_and_200_class_sets(tmp_path):
    from beyond_imagenet.catalog.labels import imagenet_subset, imagenet_wnids

    wnids = list(imagenet_wnids())
    # ClassLabel names in an order of their own: value 0 is wnid 10, value 1 wnid 3
    _hub_shard(tmp_path / "w/data/validation-00000-of-00001.parquet", [0, 1, 1], names=[wnids[10], wnids[3]],
               image_paths=["n1/a.JPEG", "n1/b.JPEG", "n2/c.JPEG"])
    samples = list_samples(_hub_spec(tmp_path / "w", label_encoding="wnid_names"))
    assert samples.labels == (10, 3, 3)
    assert samples.ids == ("n1/a.JPEG", "n1/b.JPEG", "n2/c.JPEG")  # the stored file names, when all distinct
    _hub_shard(tmp_path / "a/validation/0000.parquet", [0, 199])  # the refs/convert/parquet layout
    samples = list_samples(_hub_spec(tmp_path / "a", label_encoding="imagenet_a"))
    subset = imagenet_subset("imagenet_a")
    assert samples.labels == (int(subset[0]), int(subset[199]))
    assert samples.labels != (0, 199)  # reading the values as canonical indices would be wrong
    with pytest.raises(DatasetFormatError, match="row 0 has label 200"):
        _hub_shard(tmp_path / "b/validation/0000.parquet", [200])
        list_samples(_hub_spec(tmp_path / "b", label_encoding="imagenet_r"))
    with pytest.raises(DatasetFormatError, match="no ClassLabel names for column 'label'"):
        list_samples(_hub_spec(tmp_path / "a", label_encoding="wnid_names"))


def test_hf_parquet_multilabel_lists_as_imagenet_hard(tmp_path):
    _hub_shard(tmp_path / "data/validation-00000-of-00001.parquet", [[3, 7], [9]])
    samples = list_samples(_hub_spec(tmp_path))
    assert samples.label_sets == ((3, 7), (9,)) and samples.labels == (3, 9)


# --- labels and files that are not what they seem (issue 19) --------------------------------------------------

@pytest.mark.faults
@pytest.mark.parametrize("encoding", ["index", "wnid_names", "imagenet_a"])
def test_an_hf_parquet_no_label_is_left_out_never_the_last_class(tmp_path, encoding, caplog):
    """The hub's -1 ("no label") indexed the ClassLabel names from the end: the last class."""
    from beyond_imagenet.catalog.labels import imagenet_wnids

    wnids = list(imagenet_wnids())
    names = [wnids[10], wnids[3]] if encoding == "wnid_names" else None
    _hub_shard(tmp_path / "data/validation-00000-of-00001.parquet", [0, -1, 1, None], names=names,
               image_paths=["a.JPEG", "b.JPEG", "c.JPEG", "d.JPEG"])
    with caplog.at_level("WARNING"):
        samples = list_samples(_hub_spec(tmp_path, label_encoding=encoding))
    assert samples.ids == ("a.JPEG", "c.JPEG") and "2 of 4 rows have no label" in caplog.text
    assert samples.load(1).getpixel((0, 0)) == (80, 0, 0)  # row 2 of the file: the image follows its label
    assert samples.shard(2, 2).load(0).getpixel((0, 0)) == (80, 0, 0)
    with pytest.raises(DatasetFormatError, match="2 of 4 rows have no label"):
        list_samples(_hub_spec(tmp_path, label_encoding=encoding, unlabelled_images="error"))


@pytest.mark.faults
def test_a_flat_label_of_minus_one_is_an_unlabelled_image(tmp_path, caplog):
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("file_name,label\na.png,1\nb.png,-1\n")
    with caplog.at_level("WARNING"):
        samples = list_flat_labels(tmp_path, tmp_path / "labels.csv")
    assert samples.ids == ("a.png",) and "1 of 2 images have no label" in caplog.text


@pytest.mark.faults
def test_a_truncated_parquet_file_is_named(tmp_path):
    _hub_shard(tmp_path / "data/validation-00000-of-00001.parquet", [1, 2])
    shard = tmp_path / "data/validation-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DatasetFormatError, match=r"validation-00000-of-00001\.parquet: not a readable parquet file"):
        list_samples(_hub_spec(tmp_path))


def _vtab_task(root, labels, classes=None):
    root.mkdir(parents=True)
    lines = []
    for k, label in enumerate(labels):
        Image.new("RGB", (4, 4)).save(root / f"{k}.png")
        lines.append(f"{k}.png {label}")
    (root / "train800val200.txt").write_text("\n".join(lines[:-1]) + "\n")
    (root / "test.txt").write_text(lines[-1] + "\n")
    return DatasetSpec(id="task", format="vtab", root=str(root), classes=classes)


@pytest.mark.faults
def test_a_vtab_label_outside_the_tasks_classes_is_refused(tmp_path):
    """A label 57 in a 2-class task trained a 58-class probe."""
    spec = _vtab_task(tmp_path / "t", [0, 1, 57], classes=2)
    with pytest.raises(DatasetFormatError, match=r"test\.txt:1: label 57 of 2\.png is outside the task's 2 classes"):
        list_samples(spec)
    camelyon = DatasetSpec(id="c", format="vtab", root=spec.root, role="vtab_camelyon")
    assert camelyon.class_count == 2  # a VTAB-1k role brings its task's count
    with pytest.raises(DatasetFormatError, match="outside the task's 2 classes"):
        list_samples(camelyon)


@pytest.mark.faults
def test_a_listed_image_that_links_out_of_the_task_folder_is_refused(tmp_path):
    spec = _vtab_task(tmp_path / "t", [0, 1, 1], classes=2)
    Image.new("RGB", (4, 4)).save(tmp_path / "elsewhere.png")
    (tmp_path / "t/1.png").unlink()
    (tmp_path / "t/1.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(DatasetFormatError, match=r"1\.png: a link to .*elsewhere\.png, outside the dataset root"):
        list_samples(spec)
    (tmp_path / "t/1.png").unlink()
    (tmp_path / "t/1.png").symlink_to(tmp_path / "t/0.png")  # a link that stays inside is read
    assert len(list_samples(spec)) == 3


@pytest.mark.faults
def test_a_fifo_named_like_an_image_and_a_linked_folder_outside_are_refused(tmp_path):
    import os

    root = tmp_path / "val"
    (root / "n01440764").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "n01440764/a.JPEG")
    os.mkfifo(root / "n01440764/b.JPEG")
    with pytest.raises(DatasetFormatError, match=r"b\.JPEG: not a regular file"):
        list_samples(DatasetSpec(id="v", format="imagefolder_wnid", root=str(root)))
    (root / "n01440764/b.JPEG").unlink()
    (tmp_path / "outside/n01443537").mkdir(parents=True)
    (root / "n01443537").symlink_to(tmp_path / "outside/n01443537")
    with pytest.raises(DatasetFormatError, match=r"n01443537: a link to .*outside"):
        list_samples(DatasetSpec(id="v", format="imagefolder_wnid", root=str(root)))


# --- ObjectNet and ImageNet-9: the layouts of their releases ------------------------------------------------------

def test_objectnet_lists_the_overlapping_classes_and_cuts_the_red_border(tiny_world):
    from beyond_imagenet.catalog.class_maps import objectnet_class_of_folder

    root = tiny_world / "objectnet"
    samples = list_samples(DatasetSpec(id="o", format="objectnet", root=str(root)))
    assert {i.split("/")[1] for i in samples.ids} == {"bicycle"}  # the other folders' classes have no ImageNet twin
    assert set(samples.labels) == {objectnet_class_of_folder("bicycle")}
    stored = Image.open(root / samples.ids[0]).convert("RGB")
    assert stored.getpixel((0, 0)) == (255, 0, 0) and stored.getpixel((1, 1)) == (255, 0, 0)
    opened = samples.load(0)
    assert opened.size == (stored.width - 4, stored.height - 4)
    assert opened.tobytes() == stored.crop((2, 2, stored.width - 2, stored.height - 2)).tobytes()


def test_objectnet_refuses_other_mapping_files_and_unknown_folders(tmp_path, tiny_world):
    import json
    import shutil

    root = tmp_path / "objectnet"
    shutil.copytree(tiny_world / "objectnet", root)
    mapping = root / "mappings" / "objectnet_to_imagenet_1k.json"
    mapping.write_text(json.dumps(json.loads(mapping.read_text())) + "\r\n")  # the same mapping, other bytes
    list_samples(DatasetSpec(id="o", format="objectnet", root=str(root)))
    mapping.write_text(mapping.read_text().replace("bicycle-built-for-two", "tandem"))
    with pytest.raises(DatasetFormatError, match="objectnet_to_imagenet_1k.json: says something else"):
        list_samples(DatasetSpec(id="o", format="objectnet", root=str(root)))
    shutil.rmtree(root / "mappings")  # a copy without its mappings folder is read with the package's
    (root / "images" / "bicycles").mkdir()
    with pytest.raises(DatasetFormatError, match="bicycles.*not an ObjectNet image folder"):
        list_samples(DatasetSpec(id="o", format="objectnet", root=str(root)))


def test_imagenet_9_labels_are_the_folder_prefix_and_a_missing_variant_is_named(tmp_path, tiny_world):
    import shutil

    samples = list_samples(DatasetSpec(id="n", format="imagenet_9", root=str(tiny_world / "bg_challenge")))
    for image_id, label in zip(samples.ids, samples.labels):
        assert int(image_id.split("/")[2][:2]) == label
    variants = [i.split("/")[0] for i in samples.ids]
    assert sorted(set(variants)) == ["mixed_rand", "mixed_same", "only_fg", "original"]
    assert len({variants.count(v) for v in set(variants)}) == 1  # every image in each variant
    root = tmp_path / "bg"
    shutil.copytree(tiny_world / "bg_challenge", root)
    (root / "only_fg" / "val" / "09_cat").mkdir()
    with pytest.raises(DatasetFormatError, match="09_cat: not an ImageNet-9 class folder"):
        list_samples(DatasetSpec(id="n", format="imagenet_9", root=str(root)))
    (root / "only_fg" / "val" / "09_cat").rmdir()
    shutil.rmtree(root / "mixed_rand")
    with pytest.raises(DatasetFormatError, match="mixed_rand/val is missing"):
        list_samples(DatasetSpec(id="n", format="imagenet_9", root=str(root)))
