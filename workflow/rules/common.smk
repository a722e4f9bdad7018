# Shared wiring: wildcard constraints, the start-up check for missing data, input functions.

wildcard_constraints:
    model="[a-z0-9_]+",
    dataset="[a-z0-9_]+",
    view="[a-z0-9_.]+",
    property="[a-z0-9_]+",


MODELS = list(config["models"])
# DataLoader workers and torch threads of a GPU job (snakemake caps it at --cores).
EXTRACTION_THREADS = config.get("extraction", {}).get("threads", 4)
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
    return config["datasets"][wildcards.dataset]


def weights_of(wildcards):
    return targets.weights_input(config, wildcards.model)


def head_of(wildcards):
    return targets.head_input(config, wildcards.model)


def accuracy_caches(wildcards):
    return targets.property_inputs(config, "accuracy", wildcards.model)
