"""Build the zero-shot ImageNet head of one CLIP model (snakemake script)."""

from pathlib import Path

import torch

from beyond_imagenet.config.specs import ModelSpec, ZeroShotSpec
from beyond_imagenet.pipeline.gpu import run_build_head
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    knobs = snakemake.config.get("extraction", {})
    run_build_head(ModelSpec.from_config(snakemake.wildcards.model, snakemake.params.model),
                   ZeroShotSpec(**snakemake.params.zero_shot), knobs.get("device", "auto"), Path(snakemake.output.head),
                   knobs.get("jobs_per_gpu", 1))


run_logged(snakemake.log[0], main)
