# Properties (CPU): one metrics file per (property, model) from the caches, then one table and one
# figure per property from all models' metrics. What each property computes lives in the package
# (beyond_imagenet.properties.registry); these two rules only wire files.


rule compute_property:
    input:
        caches=property_caches,
    output:
        metrics=targets.METRICS,
    params:
        settings=property_settings,
    log:
        "logs/compute_property/{property}/{model}.log",
    threads: 1
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    script:
        "../scripts/compute_property.py"


rule report_property:
    input:
        metrics=property_metrics,
    output:
        csv=report(
            targets.TABLE.format(property="{property}", ext="csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        md=targets.TABLE.format(property="{property}", ext="md"),
        pdf=targets.FIGURE.format(property="{property}", ext="pdf"),
        png=report(
            targets.FIGURE.format(property="{property}", ext="png"),
            caption="../report/figure.rst",
            category="Figures",
        ),
    params:
        settings=property_settings,
    log:
        "logs/report_property/{property}.log",
    threads: 1
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/report_property.py"
