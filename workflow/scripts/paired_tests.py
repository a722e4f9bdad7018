"""Paired tests between the paper's pairs of models (and the config's) on the same images (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline.cpu import run_paired_tests
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]

run_logged(snakemake.log[0], lambda: run_paired_tests([Path(p) for p in snakemake.input.outcomes],
                                                      snakemake.params.models, snakemake.params.pairs,
                                                      Path(snakemake.output.csv), Path(snakemake.output.md),
                                                      Path(snakemake.output.html)))
