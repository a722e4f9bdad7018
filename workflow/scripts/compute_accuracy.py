"""Top-1/top-5 accuracy of one model on every dataset of the accuracy property (snakemake script)."""

from pathlib import Path

import pandas as pd

from beyond_imagenet.cache import read_outputs
from beyond_imagenet.properties.accuracy import accuracy_rows
from beyond_imagenet.targets import run_logged

snakemake = globals()["snakemake"]


def main() -> None:
    model = snakemake.wildcards.model
    frames = []
    for path in snakemake.input.caches:
        outputs = read_outputs(Path(path), expect={"model": model})
        frames.append(accuracy_rows(model, outputs.identity["dataset"], outputs))
    pd.concat(frames, ignore_index=True).to_csv(snakemake.output.metrics, index=False)


run_logged(snakemake.log[0], main)
