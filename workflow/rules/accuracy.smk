# Top-1 / top-5 accuracy per model and dataset: the first property through the whole flow.


rule compute_accuracy:
    input:
        caches=accuracy_caches,
    output:
        metrics=targets.METRICS.format(property="accuracy", model="{model}"),
    log:
        "logs/compute_accuracy/{model}.log",
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/compute_accuracy.py"


rule tabulate_accuracy:
    input:
        metrics=expand(rules.compute_accuracy.output.metrics, model=MODELS),
    output:
        csv=report(
            targets.TABLE.format(property="accuracy", ext="csv"),
            caption="../report/accuracy.rst",
            category="Accuracy",
        ),
        md=targets.TABLE.format(property="accuracy", ext="md"),
    log:
        "logs/tabulate_accuracy.log",
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/tabulate_accuracy.py"
