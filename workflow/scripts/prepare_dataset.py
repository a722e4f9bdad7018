"""Download, verify and unpack one dataset (or verify one that needs a login); write its manifest (snakemake script)."""

from pathlib import Path

from beyond_imagenet.data.prepare import run_prepare
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]

run_logged(snakemake.log[0],
           lambda: run_prepare(snakemake.wildcards.name, snakemake.config, Path(snakemake.output.manifest)))
