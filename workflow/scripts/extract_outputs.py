"""Run one model over the datasets of one extraction job into its HDF5 cache (snakemake script)."""

from pathlib import Path

from beyond_imagenet.config.specs import ModelSpec, ZeroShotSpec
from beyond_imagenet.pipeline.gpu import run_extract_job
from beyond_imagenet.pipeline.logs import run_logged
from beyond_imagenet.pipeline.team import made_from_digest, model_inputs, params_digest, team_candidates

snakemake = globals()["snakemake"]


def main() -> None:
    job = snakemake.params.job
    knobs = snakemake.config.get("extraction", {})  # runtime knobs: they change speed, not numbers
    run_extract_job(
        ModelSpec.from_config(snakemake.wildcards.model, job["model"]), snakemake.wildcards.job, job["datasets"],
        job["views"], job["dataset_keys"], Path(snakemake.output.cache), layers=job["layers"],
        head_path=Path(snakemake.input.head[0]) if snakemake.input.head else None,
        zero_shot=ZeroShotSpec(**(job["zero_shot"] or {})), precision=job["precision"],
        batch_size=knobs.get("batch_size", 64), device=knobs.get("device", "auto"), threads=snakemake.threads,
        jobs_per_gpu=knobs.get("jobs_per_gpu", 1),
        digests=(params_digest(job), made_from_digest(job, model_inputs(snakemake.config, snakemake.wildcards.model))),
        team=team_candidates(snakemake.config, snakemake.wildcards.job) if knobs.get("share_decoding") else None)


run_logged(snakemake.log[0], main)
