# Shared wiring: wildcard constraints, the start-up check for missing data, input and param functions.
# Every param function returns exactly what changes the rule's outputs (beyond_imagenet.pipeline.targets).

wildcard_constraints:
    model="[a-z0-9_]+",
    job="[a-z0-9_]+(\.[a-z0-9_]+)*",  # dataset id, id.part (imagenet_c.snow), or pack_<first dataset id>
    property="|".join(needs.enabled_properties(config)) or "none",


MODELS = list(config["models"])
# DataLoader workers and torch threads of a GPU job (snakemake caps it at --cores).
EXTRACTION_THREADS = config.get("extraction", {}).get("threads", 4)
# A run pinned to the CPU (the demo) claims no GPU, so --resources gpu=1 does not serialise it.
EXTRACTION_GPUS = 0 if config.get("extraction", {}).get("device") == "cpu" else 1
MISSING_INPUTS = needs.missing_inputs(config)
MISSING_MESSAGE = needs.missing_message(MISSING_INPUTS)


def preparing_only(requested):
    """Whether a run only prepares data: the one run that may start without it."""
    return bool(requested) and all(t.startswith(("prepare_", "resources/prepared/")) for t in requested)


# The targets are not known while the Snakefile is read: a command line that names only prepare targets fetches
# the missing data, so it is not warned about it (a real run is still checked in onstart, with its targets).
if MISSING_INPUTS and not preparing_only([w for w in sys.argv[1:] if w.startswith("prepare_") or w == "all"]):
    # Visible in a dry run; a real run stops in onstart, before any job.
    logger.warning(MISSING_MESSAGE)


onstart:
    if MISSING_INPUTS and not preparing_only(workflow.dag_settings.targets):
        raise WorkflowError(MISSING_MESSAGE)
    if targets.another_run_writing():
        raise WorkflowError(targets.another_run_writing())


def weights_of(wildcards):
    return targets.weights_input(config, wildcards.model)


def head_of(wildcards):
    return targets.head_input(config, wildcards.model)


def model_params(wildcards):
    return targets.model_params(config, wildcards.model)


def zero_shot_params(wildcards):
    return targets.zero_shot_params(config, wildcards.model)


def extraction_params(wildcards):
    return targets.extraction_params(config, wildcards.model, wildcards.job)


def compute_caches(wildcards):
    return targets.compute_inputs(config, wildcards.model)


def compute_params(wildcards):
    return targets.compute_params(config, wildcards.model)


def compare_caches(wildcards):
    return targets.compare_inputs(config, wildcards.property)


def compare_params(wildcards):
    return targets.compare_params(config, wildcards.property)


def property_metrics(wildcards):
    return targets.metrics_inputs(config, wildcards.property)


def property_settings(wildcards):
    return targets.stable(config["properties"][wildcards.property])


def extraction_mem_mb(wildcards, attempt):
    """Host memory of a GPU job; grows on each retry (an out-of-memory kill is the usual failure)."""
    return 8000 * attempt


def extraction_runtime(wildcards, attempt):
    """Minutes for one extraction job: start-up plus ~20,000 image passes per 10 minutes, more on each retry."""
    passes = targets.job_passes(config, wildcards.job)
    # with shared decoding the first job of an extraction job to run may extract every model of the run
    models = len(MODELS) if config.get("extraction", {}).get("share_decoding") else 1
    return int(attempt * (15 + 10 * models * passes / 20000))
