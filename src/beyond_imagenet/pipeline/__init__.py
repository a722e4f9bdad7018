"""Layer 11, pipeline: what the Snakemake rules and scripts call. `targets`: the files a run must produce and each
rule's params; `plan`: the extraction jobs; `gpu` and `cpu`: the job entry points; `logs`: a script's logging.

`targets`, `plan`, `cpu` and `logs` import no torch (the Snakefile imports them on every DAG build).
"""
