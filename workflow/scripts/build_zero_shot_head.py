"""Build the zero-shot ImageNet head of one CLIP model (snakemake script)."""

from pathlib import Path

import torch

from beyond_imagenet.pipeline import run_build_head
from beyond_imagenet.targets import run_logged

snakemake = globals()["snakemake"]


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    run_build_head(snakemake.config, snakemake.wildcards.model, Path(snakemake.output.head))


run_logged(snakemake.log[0], main)
