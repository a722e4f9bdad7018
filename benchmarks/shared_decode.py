"""The data side of extraction for the paper's four models: one decode per model vs one decode shared by all.

On generated ImageNet-C-like 224 px JPEGs (quality 85), for the four models of config/config.yaml (their
preprocessing as a run resolves it: the config's `preprocess`, else the library's own for the architecture, built
without weights), times in CPU seconds of this process:

- one decode per model (the job shape without `extraction.share_decoding`): every model's job decodes each image
  with Pillow and applies its own resize/crop (to uint8, as the extraction's DataLoader workers do);
- shared (`share_decoding: true`): one decode per image through `data.samples.open_rgb` (simplejpeg where it equals
  Pillow) and each distinct geometry applied once (`extract.run.geometry_key`), as `extract.run.extract_team` does.

Asserts every model's uint8 tensor of every image equal to the bit between the two, then prints images per CPU
second and the ratio (target >= 2.5x), and the decoder's ratio alone.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/shared_decode.py [--images 1000]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
import yaml
from _bench import benchmark_logging
from decode import pillow_rgb, write_images  # benchmarks/ is sys.path[0] when run as a script

from beyond_imagenet.data.samples import open_rgb
from beyond_imagenet.extract.run import geometry_key
from beyond_imagenet.models.preprocess import Preprocess

log = logging.getLogger("benchmark")
REPO = Path(__file__).resolve().parent.parent


def paper_preprocessings() -> dict[str, Preprocess]:
    """Each paper model's eval preprocessing, from its library's config (weights not needed for it)."""
    import open_clip
    import timm

    from beyond_imagenet.models import open_clip_models, timm_models

    models = yaml.safe_load((REPO / "config/config.yaml").read_text())["models"]
    found = {}
    for model, entry in models.items():
        if entry.get("preprocess"):  # the config's override (the paper's supervised protocol) wins, as in a run
            found[model] = Preprocess.from_dict(entry["preprocess"])
        elif entry["source"] == "timm":
            found[model] = timm_models.preprocess(timm.create_model(entry["name"], pretrained=False))
        else:
            found[model] = open_clip_models.preprocess(open_clip.create_model(entry["name"], pretrained=None))
    return found


def per_model(paths: list[Path], transforms: dict[str, object]) -> tuple[float, dict]:
    """CPU seconds when each model decodes every image itself, and the tensors of the first image."""
    first = {}
    began = time.process_time()
    for transform_name, transform in transforms.items():
        for index, path in enumerate(paths):
            tensor = transform(pillow_rgb(path))
            if index == 0:
                first[transform_name] = tensor
    return time.process_time() - began, first


def shared(paths: list[Path], preprocessings: dict[str, Preprocess]) -> tuple[float, dict, int]:
    """CPU seconds when each image is decoded once and each distinct geometry applied once, and the tensors of the
    first image per model."""
    keys = {model: geometry_key(p) for model, p in preprocessings.items()}
    distinct = {key: key.to_uint8_transform() for key in dict.fromkeys(keys.values())}
    first = {}
    began = time.process_time()
    for index, path in enumerate(paths):
        image = open_rgb(path, str(path))
        made = {key: transform(image) for key, transform in distinct.items()}
        if index == 0:
            first = {model: made[key] for model, key in keys.items()}
    return time.process_time() - began, first, len(distinct)


def cpu_seconds(decode, paths: list[Path]) -> float:
    """CPU seconds of this process to decode every image."""
    began = time.process_time()
    for path in paths:
        decode(path)
    return time.process_time() - began


def check_equal(paths: list[Path], preprocessings: dict[str, Preprocess]) -> None:
    """Every model's tensor of every image, shared vs its own decode: equal to the bit, or the script stops."""
    transforms = {model: p.to_uint8_transform() for model, p in preprocessings.items()}
    distinct = {geometry_key(p): geometry_key(p).to_uint8_transform() for p in preprocessings.values()}
    for path in paths:
        image = open_rgb(path, str(path))
        made = {key: transform(image) for key, transform in distinct.items()}
        for model, p in preprocessings.items():
            if not torch.equal(made[geometry_key(p)], transforms[model](pillow_rgb(path))):
                raise SystemExit(f"{path}: {model}'s shared tensor differs from its own decode")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    benchmark_logging()
    torch.set_num_threads(1)
    preprocessings = paper_preprocessings()
    with tempfile.TemporaryDirectory() as temp:
        paths = write_images(Path(temp), args.images)
        check_equal(paths, preprocessings)
        transforms = {m: p.to_uint8_transform() for m, p in preprocessings.items()}
        # best of 3 runs each, interleaved: this machine's load varies from second to second
        alone = min(per_model(paths, transforms)[0] for _ in range(3))
        together, distinct = min(shared(paths, preprocessings)[0] for _ in range(3)), \
            len({geometry_key(p) for p in preprocessings.values()})
        pillow = min(cpu_seconds(pillow_rgb, paths) for _ in range(3))
        fast = min(cpu_seconds(lambda path: open_rgb(path, str(path)), paths) for _ in range(3))
    log.info("machine: %s, %d CPUs; %d ImageNet-C-like 224 px JPEGs; 4 models, %d distinct geometries: %s",
             platform.machine(), os.cpu_count(), args.images, distinct,
             "; ".join(f"{m} {p.resize}->{p.crop} {p.interpolation}" for m, p in preprocessings.items()))
    log.info("every model's tensor of every image equal to the bit (shared vs its own decode)")
    log.info("one decode per model: %6.0f images per CPU second (all four models' tensors of an image)",
             args.images / alone)
    log.info("shared decoding:      %6.0f images per CPU second", args.images / together)
    log.info("shared / per model: %.2fx less CPU per image on the data side (target >= 2.5x; best of 3 each)",
             alone / together)
    log.info("decoder alone: Pillow %.0f, open_rgb %.0f images per CPU second (%.2fx)", args.images / pillow,
             args.images / fast, pillow / fast)


if __name__ == "__main__":
    main()
