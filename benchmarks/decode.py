"""JPEG decoding on ImageNet-C-like images: Pillow vs the decoder the extraction uses where it is identical.

Generates 224 x 224 JPEGs like ImageNet-C's (a photo-like image with noise, quality 85, 4:2:0), reads each file's
bytes, and decodes them (1) with Pillow as before (`Image.open` + `convert("RGB")`) and (2) with
`data.samples.open_rgb`, which sends complete YCbCr JPEGs to simplejpeg and everything else to Pillow. Asserts every
image equal to the bit, then prints images per CPU second of each (decode alone, and decode + the supervised
Resize(256) + CenterCrop(224) the extraction's workers apply next) and their ratios.

    .venv/bin/python benchmarks/decode.py [--images 2000]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _bench import benchmark_logging
from PIL import Image
from torchvision import transforms

from beyond_imagenet.data.samples import open_rgb

log = logging.getLogger("benchmark")


def write_images(folder: Path, count: int) -> list[Path]:
    """ImageNet-C-like JPEGs: smooth structure plus noise, 224 px, quality 85."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:224, 0:224] / 224
    paths = []
    for k in range(count):
        phase = rng.uniform(0, 6, 3)
        base = np.stack([np.sin(7 * x + phase[0]), np.cos(5 * y + phase[1]), np.sin(3 * (x + y) + phase[2])], -1)
        pixels = np.clip(base * 90 + 128 + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"c_{k:05d}.JPEG"
        Image.fromarray(pixels).save(path, quality=85)
        paths.append(path)
    return paths


def pillow_rgb(path: Path) -> Image.Image:
    """How every image was decoded before: Pillow alone."""
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        return image.convert("RGB")


def cpu_rate(decode: Callable[[Path], Image.Image], paths: list[Path], then: Callable | None = None) -> float:
    """Images per CPU second of this process."""
    began = time.process_time()
    for path in paths:
        image = decode(path)
        if then is not None:
            then(image)
    return len(paths) / (time.process_time() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    benchmark_logging()
    supervised = transforms.Compose([transforms.Resize(256, interpolation=transforms.InterpolationMode.BILINEAR),
                                     transforms.CenterCrop(224)])
    with tempfile.TemporaryDirectory() as temp:
        paths = write_images(Path(temp), args.images)
        for path in paths:  # bit-identity first: a decoder that differs makes every number below meaningless
            if not np.array_equal(np.asarray(open_rgb(path, str(path))), np.asarray(pillow_rgb(path))):
                raise SystemExit(f"{path}: the decoders differ; the fast path must not be used")
        fast = lambda path: open_rgb(path, str(path))  # noqa: E731
        rates = {"Pillow": cpu_rate(pillow_rgb, paths), "open_rgb": cpu_rate(fast, paths),
                 "Pillow + resize/crop": cpu_rate(pillow_rgb, paths, supervised),
                 "open_rgb + resize/crop": cpu_rate(fast, paths, supervised)}
    log.info("machine: %s, %d CPUs; %d ImageNet-C-like 224 px JPEGs (quality 85), every one equal to the bit",
             platform.machine(), os.cpu_count(), args.images)
    for name, rate in rates.items():
        log.info("  %-24s %7.0f images per CPU second", name, rate)
    log.info("decode: %.2fx; decode + supervised transform: %.2fx", rates["open_rgb"] / rates["Pillow"],
             rates["open_rgb + resize/crop"] / rates["Pillow + resize/crop"])


if __name__ == "__main__":
    main()
