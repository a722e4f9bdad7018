"""Accuracy table of all models, with the paper's values beside (snakemake script)."""

from pathlib import Path

from beyond_imagenet.config import model_specs
from beyond_imagenet.tables import read_metrics, with_paper_values, write_table
from beyond_imagenet.targets import run_logged

snakemake = globals()["snakemake"]


def main() -> None:
    table = with_paper_values(read_metrics(map(Path, snakemake.input.metrics)), model_specs(snakemake.config))
    write_table(table, Path(snakemake.output.csv), Path(snakemake.output.md))


run_logged(snakemake.log[0], main)
