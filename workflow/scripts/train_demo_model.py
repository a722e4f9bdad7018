"""Train one tiny demo model on the demo world's train split (snakemake script)."""

from pathlib import Path

import torch

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.demo.settings import WorldSettings
from beyond_imagenet.demo.train import train_demo_model
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    settings = WorldSettings.from_config(snakemake.params.settings)
    spec = ModelSpec.from_config(snakemake.wildcards.model, snakemake.params.model)
    train_demo_model(spec, Path(settings.root), Path(snakemake.output.weights), settings.train_epochs, settings.seed)


run_logged(snakemake.log[0], main)
