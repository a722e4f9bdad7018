"""Compute every per-model property of one model from its cached outputs (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline.cpu import run_compute_properties
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]
properties = snakemake.params.properties
outputs = {Path(path).parent.name: Path(path) for path in snakemake.output.metrics}  # results/metrics/<property>/

run_logged(snakemake.log[0], lambda: run_compute_properties(snakemake.wildcards.model, properties, outputs,
                                                            Path(snakemake.output.outcomes)))
