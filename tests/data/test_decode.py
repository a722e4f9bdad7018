"""The faster JPEG decoder gives Pillow's pixels to the bit, on every kind of image the demo and the fault suite
make; what it does not handle goes to Pillow. A simplejpeg or Pillow release whose decoding drifts fails here."""

import io

import numpy as np
import pytest
from PIL import Image

from beyond_imagenet.data import samples
from beyond_imagenet.data.samples import DatasetFormatError, decode_jpeg_fast, load_rgb, open_rgb

pytestmark = pytest.mark.faults


def _photo_like(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise: every DCT coefficient and the chroma upsampling do work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    smooth = np.stack([np.sin(6 * x + y), np.cos(5 * y - 2 * x), x * y], axis=-1) * 90 + 128
    return np.clip(smooth + rng.normal(0, 25, smooth.shape), 0, 255).astype(np.uint8)


def _jpeg(pixels: np.ndarray, mode: str = "RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _pillow_rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


FAST = {
    "demo (quality 95)": dict(quality=95),
    "quality 75, 4:2:0": dict(quality=75),
    "4:4:4": dict(quality=90, subsampling=0),
    "4:2:2": dict(quality=90, subsampling=1),
    "progressive": dict(quality=85, progressive=True),
    "optimised Huffman": dict(quality=80, optimize=True),
    "with EXIF orientation": dict(quality=90, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03"
                                  b"\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"),  # neither decoder rotates
}


@pytest.mark.parametrize("size", [(224, 224), (223, 157), (17, 9), (1, 1), (500, 375)])
@pytest.mark.parametrize("kind", list(FAST))
def test_the_fast_decoder_equals_pillow_to_the_bit(kind, size):
    data = _jpeg(_photo_like(*size), **FAST[kind])
    fast = decode_jpeg_fast(data)
    assert fast is not None, f"{kind}: expected the fast path"
    assert fast.dtype == np.uint8 and np.array_equal(fast, _pillow_rgb(data))


def test_the_demo_worlds_images_decode_equally(tiny_world):
    jpegs = sorted(p for p in tiny_world.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg"))
    assert len(jpegs) > 20
    for path in jpegs:
        data = path.read_bytes()
        fast = decode_jpeg_fast(data)
        assert fast is not None and np.array_equal(fast, _pillow_rgb(data)), path


@pytest.mark.parametrize("kind", ["grey", "CMYK", "PNG", "trailing bytes", "not an image"])
def test_what_the_fast_decoder_does_not_take_goes_to_pillow_with_the_same_result(kind, tmp_path, monkeypatch):
    pixels = _photo_like(40, 30)
    data = {"grey": lambda: _jpeg(pixels, "L"), "CMYK": lambda: _jpeg(pixels, "CMYK"),
            "PNG": lambda: _png(pixels), "trailing bytes": lambda: _jpeg(pixels) + b"\0" * 7,
            "not an image": lambda: b"\xff\xd8 this is text \xff\xd9"}[kind]()
    assert decode_jpeg_fast(data) is None
    path = tmp_path / "x.img"
    path.write_bytes(data)
    if kind == "not an image":
        with pytest.raises(DatasetFormatError, match="x.img: not a readable image"):
            load_rgb(path)
        return
    assert np.array_equal(np.asarray(load_rgb(path)), _pillow_rgb(data))


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_truncated_or_corrupt_jpeg_never_takes_the_fast_path(tmp_path):
    data = _jpeg(_photo_like(64, 64))
    assert decode_jpeg_fast(data[: len(data) // 2]) is None  # no end marker: Pillow names it as truncated
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"cut\.jpg: not a readable image .*truncated"):
        load_rgb(cut)
    scan = data.index(b"\xff\xda")  # damage the entropy-coded data, keep the end marker: libjpeg warns
    damaged = data[: scan + 40] + b"\xff\xd0" * 8 + data[scan + 56:]
    assert decode_jpeg_fast(damaged) is None


def test_an_image_above_pillows_pixel_limit_is_left_to_pillow(monkeypatch, tmp_path):
    data = _jpeg(_photo_like(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses above twice its limit
    assert decode_jpeg_fast(data) is None
    path = tmp_path / "big.jpg"
    path.write_bytes(data)
    with pytest.raises(DatasetFormatError, match="big.jpg: .*MAX_IMAGE_PIXELS"):
        load_rgb(path)


def test_a_file_object_takes_the_same_path(monkeypatch):
    data = _jpeg(_photo_like(32, 32))
    calls = []
    monkeypatch.setattr(samples, "decode_jpeg_fast", lambda d: calls.append(len(d)) or decode_jpeg_fast(d))
    image = open_rgb(io.BytesIO(data), "parquet row 3")
    assert calls == [len(data)] and np.array_equal(np.asarray(image), _pillow_rgb(data))
