# Data preparation: `snakemake prepare_data` downloads, verifies and unpacks every public dataset the
# config needs (and checks ImageNet val, which needs a login); `snakemake prepare_<dataset id>` does one.
# A dataset is prepared from the public source of its role (datasets.<id>.role), so any id works.
# Downloads run on the machine snakemake runs on (a login node has the network; compute nodes often not).

PREPARE_NAMES = prepare.preparable(config)
VTAB_PREPARE = prepare.vtab_preparable(config)


rule prepare_data:
    input:
        expand(targets.PREPARED, name=[*PREPARE_NAMES, *VTAB_PREPARE]),
    localrule: True


rule prepare_dataset:
    output:
        manifest=targets.PREPARED,
    params:
        entry=lambda wildcards: targets.stable(config["datasets"].get(wildcards.name, {})),
    log:
        "logs/prepare_dataset/{name}.log",
    wildcard_constraints:
        name="|".join(PREPARE_NAMES) or "none",
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
        manifest=targets.PREPARED,
    params:
        job=lambda wildcards: prepare.vtab_settings(config, wildcards.name),
    log:
        "logs/prepare_vtab/{name}.log",
    wildcard_constraints:
        name="|".join(VTAB_PREPARE) or "none",
    localrule: True
    conda:
        "../../envs/vtab.yaml"
    shell:
        "{params.job[python]} -m beyond_imagenet.data.vtab_export --task {params.job[task]} --root {params.job[root]}"
        " --manifest {output.manifest} --data-dir {params.job[data_dir]} --manual-dir {params.job[manual_dir]}"
        " > {log} 2>&1"


for _target in [*PREPARE_NAMES, *VTAB_PREPARE]:

    rule:
        name:
            f"prepare_{_target}"
        input:
            targets.PREPARED.format(name=_target),
        localrule: True
