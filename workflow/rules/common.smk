# Shared wiring: wildcard constraints, the start-up check for missing data, input functions.

wildcard_constraints:
    model="[a-z0-9_]+",
    dataset="[a-z0-9_]+(\.[a-z0-9_]+)*",  # id, or id.part for a split dataset (imagenet_c.snow.3)
    view="standard|(scale|shift|resolution)=[0-9.]+",
    property="|".join(cfg.enabled_properties(config)) or "none",


MODELS = list(config["models"])
# DataLoader workers and torch threads of a GPU job (snakemake caps it at --cores).
EXTRACTION_THREADS = config.get("extraction", {}).get("threads", 4)
# A run pinned to the CPU (the demo) claims no GPU, so --resources gpu=1 does not serialise it.
EXTRACTION_GPUS = 0 if config.get("extraction", {}).get("device") == "cpu" else 1
MISSING_INPUTS = cfg.missing_inputs(config)
MISSING_MESSAGE = (
    "This run needs data that is not on this machine:\n- "
    + "\n- ".join(MISSING_INPUTS)
    + "\nSee config/README.md for each dataset and model."
)
if MISSING_INPUTS:
    # Visible in a dry run; a real run stops in onstart, before any job.
    logger.warning(MISSING_MESSAGE)


onstart:
    if MISSING_INPUTS:
        raise WorkflowError(MISSING_MESSAGE)


def model_entry(wildcards):
    """The model's config entry: a param, so editing it reruns that model's jobs."""
    return config["models"][wildcards.model]


def dataset_entry(wildcards):
    """The dataset's config entry: a param, so editing it reruns its extractions."""
    return config["datasets"][cfg.split_dataset_key(wildcards.dataset)[0]]


def weights_of(wildcards):
    return targets.weights_input(config, wildcards.model)


def head_of(wildcards):
    return targets.head_input(config, wildcards.model)


def property_caches(wildcards):
    return targets.property_inputs(config, wildcards.property, wildcards.model)


def property_metrics(wildcards):
    return [targets.METRICS.format(property=wildcards.property, model=m) for m in MODELS]


def property_settings(wildcards):
    """The property's config section: a param, so editing it reruns the property."""
    return config["properties"][wildcards.property]


def extraction_mem_mb(wildcards, attempt):
    """Host memory of a GPU job; grows on each retry (an out-of-memory kill is the usual failure)."""
    return 8000 * attempt


def extraction_runtime(wildcards, attempt):
    """Minutes for one extraction job: start-up plus ~20,000 images per 10 minutes, more on each retry."""
    images = cfg.images_per_job(config, wildcards.dataset)
    return int(attempt * (15 + 10 * images / 20000))
