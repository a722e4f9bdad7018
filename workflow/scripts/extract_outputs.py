"""Run one model over one dataset view into its HDF5 cache (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline import run_extract
from beyond_imagenet.targets import run_logged

snakemake = globals()["snakemake"]


def main() -> None:
    head = Path(snakemake.input.head[0]) if snakemake.input.head else None
    run_extract(snakemake.config, snakemake.wildcards.model, snakemake.wildcards.dataset,
                snakemake.wildcards.view, Path(snakemake.output.outputs), head_path=head,
                threads=snakemake.threads)


run_logged(snakemake.log[0], main)
