"""Compute a property that compares models from every model's caches (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline.cpu import run_compare_models
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]

run_logged(snakemake.log[0], lambda: run_compare_models(snakemake.wildcards.property, snakemake.params.compare,
                                                        Path(snakemake.output.metrics)))
