"""Table 1, the summary table and board, a card per model, the paper comparison and consistency (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline.cpu import run_report_summary
from beyond_imagenet.pipeline.logs import run_logged
from beyond_imagenet.pipeline.targets import SUMMARY_FILES

snakemake = globals()["snakemake"]
outputs = {name: Path(getattr(snakemake.output, name)) for name in SUMMARY_FILES}

run_logged(snakemake.log[0], lambda: run_report_summary(
    [Path(p) for p in snakemake.input.metrics], [Path(p) for p in snakemake.input.descriptions],
    snakemake.params.models, outputs, Path(snakemake.output.cards[0]).parent,
    snakemake.params.properties, snakemake.params.val_dataset))
