"""Table 1 facts of one model: parameters and FLOPs counted from its architecture (snakemake script)."""

from pathlib import Path

from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.pipeline.gpu import run_describe_model
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]

run_logged(snakemake.log[0], lambda: run_describe_model(
    ModelSpec.from_config(snakemake.wildcards.model, snakemake.params.model), Path(snakemake.output.description)))
