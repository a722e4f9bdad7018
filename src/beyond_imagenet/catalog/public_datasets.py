"""Where each public dataset comes from: pinned URLs, published checksums (and where they are published), counts.

A table, like DATASET_FORMATS, MODEL_SOURCES and PROPERTIES: another downloadable dataset is one entry here, keyed by
the role a config dataset declares (`datasets.<id>.role`). `data/prepare.py` downloads,
verifies and unpacks an entry; nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from .roles import IMAGENET_C_BENCHMARK

PUG_FACTORS = ("Camera_Pitch", "Camera_Roll", "Camera_Yaw", "Object_Pitch", "Object_Roll", "Object_Scale",
               "Object_Texture", "Object_Yaw", "Scene_Light", "Worlds")
TFDS_CHECKSUMS = "tensorflow-datasets {}/checksums.tsv (URL, size, sha256)"
# ReaL's real.json (google-research/reassessed-imagenet); timm's imagenet_real_labels.json is a byte copy
REAL_SHA256 = "d83e9bff374c631aae8439eb064c7019acc56e1b3bc3f56b8380c2a710b0220b"


@dataclass(frozen=True)
class Download:
    """One file at a pinned URL, with the checksum its publisher (or a builder that pins it) lists."""

    url: str
    file_name: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    checksum_source: str = "none published: verified by counts only"


@dataclass(frozen=True)
class Expected:
    """What a complete copy holds: image count, leaf folders (classes), images per leaf folder, top folders."""

    images: int | None = None
    groups: int | None = None  # leaf folders holding images (wnid / class folders; ImageNet-C: cell x wnid)
    per_group: int | None = None
    top_level: tuple[str, ...] = ()  # folder names that must all be present at the top of the root
    archive_files: int | None = None  # files the archive holds where it has more than the images listed (IN-9's
    # other variants and masks): bounds what unpacking may write


@dataclass(frozen=True)
class DatasetSource:
    """How one config dataset (or a property's file) is obtained and checked.

    kind: `archive` (tar/zip files unpacked into the dataset root), `file` (one file copied to its place),
    `hub` (a Hugging Face dataset snapshot at a revision), `manual` (no public download: verified only).
    """

    name: str
    kind: str
    downloads: tuple[Download, ...] = ()
    expected: Expected = Expected()
    homepage: str = ""
    repo_id: str = ""  # hub only
    how_to_get: str = ""  # manual only: what to download and where to put it


IMAGENET_C_ARCHIVES = (  # Zenodo record 2235448; the 15 benchmark corruptions ("extra.tar" holds the 4 others)
    ("blur", "2d8e81fdd8e07fef67b9334fa635e45c"),
    ("digital", "89157860d7b10d5797849337ca2e5c03"),
    ("noise", "e80562d7f6c3f8834afb1ecf27252745"),
    ("weather", "33ffea4db4d93fe4a428c40a6ce0c25d"),
)

DATASET_SOURCES: dict[str, DatasetSource] = {s.name: s for s in (
    DatasetSource(
        "imagenet_val", "manual",
        expected=Expected(images=50_000, groups=1000, per_group=50),
        homepage="https://image-net.org/download-images.php",
        how_to_get="ILSVRC2012_img_val.tar (6.3 GB) from image-net.org (registration needed); unpack it into the "
                   "dataset root and sort the 50,000 images into wnid folders (e.g. the usual valprep.sh), or keep "
                   "them flat and set format: flat_labels with label_file: the imagenet-x package's "
                   "filename_label.csv",
    ),
    DatasetSource(
        "imagenet_a", "archive",
        (Download("https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar", "imagenet-a.tar", 687_552_512,
                  sha256="3bb3632277e6ba6392ea64c02ddbf4dd2266c9caffd6bc09c9656d28f012589e",
                  checksum_source=TFDS_CHECKSUMS.format("datasets/imagenet_a")),),
        Expected(images=7_500, groups=200),
        "https://github.com/hendrycks/natural-adv-examples",
    ),
    DatasetSource(
        "imagenet_r", "archive",
        (Download("https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar", "imagenet-r.tar", 2_191_079_936,
                  sha256="18c6bf493b39a0d975d48e587437f562caab9c52ae6327dcfa9dd8eb54aa1b52",
                  checksum_source=TFDS_CHECKSUMS.format("datasets/imagenet_r")),),
        Expected(images=30_000, groups=200),
        "https://github.com/hendrycks/imagenet-r",
    ),
    DatasetSource(
        "imagenet_v2", "archive",
        (Download("https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/"
                  "imagenetv2-matched-frequency.tar.gz", "imagenetv2-matched-frequency.tar.gz", 1_264_079_360,
                  sha256="f0c37fdf925916b19ea1323cd9a2208cdb6959ba2c32eef2a7fc393835c9ca7c",
                  checksum_source=TFDS_CHECKSUMS.format("datasets/imagenet_v2")),),
        Expected(images=10_000, groups=1000, per_group=10),
        "https://github.com/modestyachts/ImageNetV2",
    ),
    DatasetSource(
        "imagenet_sketch", "archive",
        (Download("https://drive.google.com/u/0/uc?id=1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA&export=download",
                  "ImageNet-Sketch.zip", 7_593_573_012,
                  sha256="4d3ce6b82a7c48aabf14aeac105eb533e75707f152cc858f55bfc022031a72ed",
                  checksum_source=TFDS_CHECKSUMS.format("datasets/imagenet_sketch")),),
        Expected(images=50_889, groups=1000),
        "https://github.com/HaohanWang/ImageNet-Sketch",
    ),
    DatasetSource(
        "imagenet_c", "archive",
        tuple(Download(f"https://zenodo.org/record/2235448/files/{name}.tar", f"{name}.tar", md5=md5,
                       checksum_source="Zenodo record 2235448 (md5 listed per file)")
              for name, md5 in IMAGENET_C_ARCHIVES),
        # every (corruption, severity) cell is the whole val set: 75 x 50,000 images, 50 per wnid folder
        Expected(images=15 * 5 * 50_000, groups=15 * 5 * 1000, per_group=50, top_level=IMAGENET_C_BENCHMARK),
        "https://github.com/hendrycks/robustness",
    ),
    DatasetSource(
        "imagenet_hard", "hub", repo_id="taesiri/imagenet-hard",
        homepage="https://huggingface.co/datasets/taesiri/imagenet-hard",
        # its row count changes between revisions: the prepared manifest records the revision's commit and count
    ),
    DatasetSource(
        "cue_conflict", "archive",
        (Download("https://github.com/bethgelab/model-vs-human/releases/download/v0.1/cue-conflict.tar.gz",
                  "cue-conflict.tar.gz"),),
        Expected(images=1_280, groups=16, per_group=80),
        "https://github.com/bethgelab/model-vs-human",
    ),
    DatasetSource(
        "pug_imagenet", "archive",
        (Download("https://dl.fbaipublicfiles.com/large_objects/pug/PUG_IMAGENET.tar.gz", "PUG_IMAGENET.tar.gz"),),
        Expected(images=88_328, top_level=PUG_FACTORS),
        "https://github.com/facebookresearch/PUG",
    ),
    DatasetSource(
        "imagenet_o", "archive",
        (Download("https://people.eecs.berkeley.edu/~hendrycks/imagenet-o.tar", "imagenet-o.tar",
                  md5="86bd7a50c1c4074fb18fc5f219d6d50b",
                  checksum_source="md5 pinned by the loaders of pytorch-ood (src/pytorch_ood/dataset/img/imagenet.py "
                                  "@53c9937) and torch-uncertainty; the authors publish none"),),
        Expected(images=2_000, groups=200),
        "https://github.com/hendrycks/natural-adv-examples",
    ),
    DatasetSource(
        "objectnet", "manual",
        expected=Expected(groups=113),  # the 113 overlapping classes' folders; the image count is recorded
        homepage="https://objectnet.dev",
        how_to_get="objectnet-1.0.zip (objectnet.dev; accept its licence: test only, never for training; md5 "
                   "522aa986a604c41ea641411c1d0a292e as pinned by the shift-happens benchmark) unpacked with the "
                   "password its page gives, so that the root holds images/ and mappings/",
    ),
    DatasetSource(
        "imagenet_9", "archive",
        (Download("https://github.com/MadryLab/backgrounds_challenge/releases/download/data/"
                  "backgrounds_challenge_data.tar.gz", "backgrounds_challenge_data.tar.gz"),),
        # 4 variants x 9 classes x 450 test images (Xiao et al. 2021, section 2); the archive holds 8 variants and
        # the foreground masks
        Expected(images=4 * 4_050, groups=4 * 9, top_level=("original", "only_fg", "mixed_same", "mixed_rand"),
                 archive_files=9 * 4_050),
        "https://github.com/MadryLab/backgrounds_challenge",
    ),
    DatasetSource(
        "real_labels", "file",
        (Download("https://raw.githubusercontent.com/google-research/reassessed-imagenet/"
                  "25ae4854f875bbae6782fd9ea4a18654f6c89c6c/real.json", "real.json", 388_478,
                  sha256=REAL_SHA256,
                  checksum_source="sha256 of real.json at that commit of google-research/reassessed-imagenet; "
                                  "timm's byte copy (timm/data/_info/imagenet_real_labels.json) has the same"),),
        Expected(images=50_000),
        "https://github.com/google-research/reassessed-imagenet",
    ),
)}

REAL_LABELS = "real_labels"  # not a dataset: the file properties.robustness.real_labels points at
REAL_LABELS_PATH = "resources/data/real.json"
REAL_EMPTY_LISTS = 3_163  # images ReaL left without a label (Beyer et al. 2020): excluded from scoring
