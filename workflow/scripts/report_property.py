"""Table and figure of one property over all models (snakemake script)."""

from pathlib import Path

from beyond_imagenet.pipeline.cpu import run_report_property
from beyond_imagenet.pipeline.logs import run_logged

snakemake = globals()["snakemake"]

run_logged(snakemake.log[0], lambda: run_report_property(
    snakemake.wildcards.property, snakemake.params.settings, snakemake.params.models,
    [Path(p) for p in snakemake.input.metrics], Path(snakemake.output.csv), Path(snakemake.output.md),
    Path(snakemake.output.pdf).with_suffix(""),
    {ext: Path(getattr(snakemake.output, f"wide_{ext}")) for ext in ("csv", "md", "tex")},
    Path(snakemake.output.html)))
