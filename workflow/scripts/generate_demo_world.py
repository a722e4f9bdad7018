"""Generate the demo world's data sets (snakemake script)."""

from beyond_imagenet.demo.settings import WorldSettings
from beyond_imagenet.demo.world import generate_world
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]  # injected by snakemake's script directive

run_logged(snakemake.log[0], lambda: generate_world(WorldSettings.from_config(snakemake.params.settings)))
