"""Compute one property for one model from its cached outputs (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline import run_compute_property
from beyond_imagenet.targets import run_logged

snakemake = globals()["snakemake"]

run_logged(snakemake.log[0], lambda: run_compute_property(
    snakemake.config, snakemake.wildcards.property, snakemake.wildcards.model,
    [Path(p) for p in snakemake.input.caches], Path(snakemake.output.metrics)))
