# Data preparation: `snakemake prepare_data` downloads, verifies and unpacks every public dataset the
# config needs (and checks ImageNet val, which needs a login); `snakemake prepare_<dataset>` does one.
# Downloads run on the machine snakemake runs on (a login node has the network; compute nodes often not).

PREPARE_NAMES = prepare.preparable(config)
VTAB_PREPARE = prepare.vtab_preparable(config)


wildcard_constraints:
    name="|".join(PREPARE_NAMES) or "none",
    task="|".join(VTAB_PREPARE) or "none",


rule prepare_data:
    input:
        expand(targets.PREPARED, name=PREPARE_NAMES),
        expand(targets.PREPARED_VTAB, task=VTAB_PREPARE),
    localrule: True


rule prepare_dataset:
    output:
        manifest=targets.PREPARED,
    params:
        entry=lambda wildcards: targets.stable(config["datasets"].get(wildcards.name, {})),
    log:
        "logs/prepare_dataset/{name}.log",
    localrule: True
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        downloads=1,
    script:
        "../scripts/prepare_dataset.py"


# VTAB-1k through tensorflow-datasets, in its own environment (make venv-vtab, or envs/vtab.yaml).
rule prepare_vtab:
    output:
        manifest=targets.PREPARED_VTAB,
    params:
        job=lambda wildcards: prepare.vtab_settings(config, wildcards.task),
    log:
        "logs/prepare_vtab/{task}.log",
    localrule: True
    conda:
        "../../envs/vtab.yaml"
    shell:
        "{params.job[python]} -m beyond_imagenet.vtab_export --task {wildcards.task} --root {params.job[root]}"
        " --manifest {output.manifest} --data-dir {params.job[data_dir]} --manual-dir {params.job[manual_dir]}"
        " > {log} 2>&1"


for _target in [*PREPARE_NAMES, *(f"vtab_{task}" for task in VTAB_PREPARE)]:

    rule:
        name:
            f"prepare_{_target}"
        input:
            targets.PREPARED.format(name=_target),
        localrule: True
