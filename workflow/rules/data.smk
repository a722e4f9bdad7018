# Data preparation: `snakemake prepare_data` downloads, verifies and unpacks every public dataset the
# config needs (and checks ImageNet val, which needs a login); `snakemake prepare_<dataset>` does one.
# Downloads run on the machine snakemake runs on (a login node has the network; compute nodes often not).

PREPARE_NAMES = prepare.preparable(config)


wildcard_constraints:
    name="|".join(PREPARE_NAMES) or "none",


rule prepare_data:
    input:
        expand(targets.PREPARED, name=PREPARE_NAMES),
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


for _name in PREPARE_NAMES:

    rule:
        name:
            f"prepare_{_name}"
        input:
            targets.PREPARED.format(name=_name),
        localrule: True
