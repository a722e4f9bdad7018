"""The images of a dataset as one interface: root-relative ids, canonical labels, and opening row i.

Every on-disk format (beyond_imagenet.datasets) lists into a SampleList; where its images are
not files under the root (parquet), the list carries the source that opens them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import simplejpeg
from PIL import Image

log = logging.getLogger(__name__)

NO_LABEL = -1  # sets whose classes are not ImageNet's (cue-conflict, PUG): the property reads the id


class DatasetFormatError(ValueError):
    """A dataset on disk does not match the layout its config entry declares."""


class ImageSource(Protocol):
    """Opens row r of a dataset whose images are not files under its root (e.g. parquet cells)."""

    def load(self, row: int) -> Image.Image: ...


SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})  # "I": a 16-bit PNG in newer Pillow


def leave_out_unlabelled(message: str, policy: str) -> None:
    """Images without a label are left out with a warning, or refused (datasets.<id>.unlabelled_images: error)."""
    if policy == "error":
        raise DatasetFormatError(message + " (datasets.<id>.unlabelled_images: error)")
    log.warning("%s; set datasets.<id>.unlabelled_images: error to refuse this", message)


def to_rgb(image: Image.Image, where: str) -> Image.Image:
    """RGB of any image (grayscale, CMYK and palette images exist in ImageNet); 16-bit grey scaled to 8 bits.

    Pillow's convert("RGB") clips 16-bit values at 255, which turns such an image pure white.
    """
    if image.mode in SIXTEEN_BIT_MODES:
        pixels = np.asarray(image)
        if pixels.min() < 0 or pixels.max() > 65535:
            raise DatasetFormatError(f"{where}: {image.mode} image with values outside 0..65535; convert it to "
                                     "8-bit RGB")
        return Image.fromarray((pixels.astype(np.uint32) >> 8).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        raise DatasetFormatError(f"{where}: floating-point image; convert it to 8-bit RGB")
    return image.convert("RGB")


def load_rgb(path: Path) -> Image.Image:
    """Open an image as RGB; an unreadable, truncated or oversized file is an error naming it."""
    return open_rgb(path, str(path))


JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


def decode_jpeg_fast(data: bytes) -> np.ndarray | None:
    """RGB pixels of a complete YCbCr JPEG decoded by simplejpeg (libjpeg-turbo, accurate DCT, fancy upsampling:
    Pillow's settings, equal to Pillow's pixels and ~1.3x faster), or None where Pillow decodes it: not a JPEG, grey,
    CMYK or RGB-coded, truncated (no end marker), corrupt (a libjpeg warning), or above Pillow's pixel limit."""
    if not (data.startswith(JPEG_START) and data.endswith(JPEG_END)):
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace != "YCbCr" or (Image.MAX_IMAGE_PIXELS and height * width > Image.MAX_IMAGE_PIXELS):
            return None
        return simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, strict=True)
    except ValueError:  # strict: what libjpeg would only warn about goes to Pillow, which has the final word
        return None


def open_rgb(source, where: str) -> Image.Image:
    """Open a path or file object as RGB, naming `where` in every error (complete YCbCr JPEGs through the faster
    decoder of identical pixels, everything else through Pillow)."""
    try:
        data = source.read() if hasattr(source, "read") else Path(source).read_bytes()
        pixels = decode_jpeg_fast(data)
        if pixels is not None:
            return Image.fromarray(pixels, "RGB")
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return to_rgb(image, where)
    except Image.DecompressionBombError as error:
        raise DatasetFormatError(f"{where}: {error} Check the file; Pillow's limit is Image.MAX_IMAGE_PIXELS") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DatasetFormatError(f"{where}: not a readable image ({error}); re-download it or remove it from the "
                                 "dataset") from None


@dataclass(frozen=True)
class SampleList:
    """The images of a dataset: ids relative to its root, and canonical ImageNet-1k labels.

    Multi-label sets (ImageNet-Hard) also carry `label_sets`; `labels` then holds the first label.
    Images are files under `root`, or rows of `source` (from row `offset` on, for a shard).
    """

    root: Path
    ids: tuple[str, ...]
    labels: tuple[int, ...]
    label_sets: tuple[tuple[int, ...], ...] | None = None
    source: ImageSource | None = None
    offset: int = 0
    source_rows: tuple[int, ...] | None = None  # the source's row of each image, where rows were left out

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        """sha256 over (id, label[s]) pairs: two lists with the same images and labels agree."""
        digest = hashlib.sha256()
        sets = self.label_sets or [()] * len(self.ids)
        for image_id, label, label_set in zip(self.ids, self.labels, sets):
            digest.update(f"{image_id}\t{label}\t{','.join(map(str, label_set))}\n".encode())
        return digest.hexdigest()

    def shard(self, k: int, n: int) -> SampleList:
        """The k-th (1-based) of n contiguous, near-equal slices; the shards concatenate to the whole list."""
        if not 1 <= k <= n:
            raise ValueError(f"shard {k} of {n} does not exist")
        start, stop = (k - 1) * len(self) // n, k * len(self) // n
        sets = self.label_sets[start:stop] if self.label_sets is not None else None
        rows = self.source_rows[start:stop] if self.source_rows is not None else None
        return SampleList(self.root, self.ids[start:stop], self.labels[start:stop], sets, self.source,
                          self.offset + start, rows)

    def load(self, row: int) -> Image.Image:
        """The RGB image of one row."""
        if self.source is not None:
            return self.source.load(self.source_rows[row] if self.source_rows is not None else self.offset + row)
        return load_rgb(self.root / self.ids[row])


# --- split lists (`relative/path label` per line): VTAB-1k tasks ----------------------------------

def _parse_split_line(path: Path, number: int, line: str) -> tuple[str, int]:
    """One `relative/path label` line; anything else is an error naming file:line."""
    fields = line.split()
    if len(fields) != 2:
        raise DatasetFormatError(f"{path}:{number}: expected 'relative/path label' (2 fields, no spaces in the "
                                 f"path), got {len(fields)} fields: {line.strip()!r}")
    name, label = fields
    try:
        value = int(label)
    except ValueError:
        raise DatasetFormatError(f"{path}:{number}: label {label!r} is not an integer class index") from None
    if value < 0:
        raise DatasetFormatError(f"{path}:{number}: label {value} is negative; labels must be class indices 0..C-1")
    normal = posixpath.normpath(name)
    if normal.startswith("/") or normal == ".." or normal.startswith("../"):
        raise DatasetFormatError(f"{path}:{number}: path {name!r} leaves the task folder; list paths relative to "
                                 f"{path.parent} without '..'")
    return normal, value


def read_split_list(path: Path) -> list[tuple[str, int]]:
    """Entries of a split file (`relative/path label` per line; blank lines skipped; a path twice is an error)."""
    return [(name, label) for name, label, _ in split_list_lines(path)]


def split_list_lines(path: Path) -> list[tuple[str, int, int]]:
    """(path, label, line number) of each entry of a split file, checked as read_split_list says."""
    path = Path(path)
    entries: list[tuple[str, int, int]] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        name, label = _parse_split_line(path, number, line)
        if name in first_line:
            raise DatasetFormatError(f"{path}:{number}: path {name!r} is listed again (first on line "
                                     f"{first_line[name]})")
        first_line[name] = number
        entries.append((name, label, number))
    return entries
