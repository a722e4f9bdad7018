# Properties (CPU): one job per model computes every per-model property from its caches (one metrics
# file each); then one table and one figure per property from all models' metrics. What each property
# computes lives in the package (beyond_imagenet.properties); these rules only wire files.

localrules:
    report_property,
    compare_pairs,
    report_summary,


rule compute_properties:
    input:
        caches=compute_caches,
    output:
        metrics=targets.per_model_metrics(config),
        outcomes=targets.OUTCOMES,
    params:
        properties=compute_params,
    log:
        "logs/compute_properties/{model}.log",
    threads: 1
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../scripts/compute_properties.py"


rule report_property:
    input:
        metrics=property_metrics,
    output:
        csv=targets.TABLE.format(property="{property}", ext="csv"),
        md=targets.TABLE.format(property="{property}", ext="md"),
        html=report(
            targets.TABLE.format(property="{property}", ext="html"),
            caption="../report/table.rst",
            category="Tables",
            labels={"property": "{property}", "what": "paper-style and tidy table"},
        ),
        wide_csv=targets.PAPER_STYLE.format(property="{property}", ext="csv"),
        wide_md=targets.PAPER_STYLE.format(property="{property}", ext="md"),
        wide_tex=targets.PAPER_STYLE.format(property="{property}", ext="tex"),
        pdf=targets.FIGURE.format(property="{property}", ext="pdf"),
        png=report(
            targets.FIGURE.format(property="{property}", ext="png"),
            caption="../report/figure.rst",
            category="Figures",
            labels={"property": "{property}", "what": "figure"},
        ),
    params:
        settings=property_settings,
        models=targets.report_models(config),
        caption=lambda wildcards: targets.property_caption(wildcards.property),
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


rule compare_pairs:
    input:
        outcomes=targets.outcome_files(config),
    output:
        csv=targets.PAIRED_TESTS.format(ext="csv"),
        md=targets.PAIRED_TESTS.format(ext="md"),
        html=report(
            targets.PAIRED_TESTS.format(ext="html"),
            caption="../report/paired_tests.rst",
            category="Paired tests",
        ),
    params:
        models=targets.pair_models(config),
        pairs=targets.declared_pairs(config),
    log:
        "logs/compare_pairs.log",
    threads: 1
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/paired_tests.py"


rule describe_model:
    output:
        description=targets.MODEL_DESCRIPTION,
    params:
        model=model_params,
    log:
        "logs/describe_model/{model}.log",
    threads: 1
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/describe_model.py"


rule report_summary:
    input:
        metrics=targets.summary_inputs(config),
        descriptions=targets.model_descriptions(config),
    output:
        **{name: path for name, path in targets.SUMMARY_FILES.items() if name not in targets.SUMMARY_IN_REPORT},
        overview_html=report(targets.SUMMARY_FILES["overview_html"], caption="../report/overview.rst",
                             category="Summary"),
        table1_csv=report(targets.SUMMARY_FILES["table1_csv"], caption="../report/table1.rst", category="Summary"),
        summary_csv=report(targets.SUMMARY_FILES["summary_csv"], caption="../report/summary.rst", category="Summary"),
        summary_png=report(targets.SUMMARY_FILES["summary_png"], caption="../report/summary.rst", category="Summary"),
        paper_csv=report(targets.SUMMARY_FILES["paper_csv"], caption="../report/paper_comparison.rst",
                         category="Summary"),
        consistency_csv=report(targets.SUMMARY_FILES["consistency_csv"], caption="../report/consistency.rst",
                               category="Summary"),
        cards=[targets.CARD.format(model=m) for m in MODELS],
        card_pages=report([targets.CARD_HTML.format(model=m) for m in MODELS], caption="../report/card.rst",
                          category="Cards"),
    params:
        models=targets.report_models(config),
        properties=targets.summary_params(config),
        val_dataset=targets.val_dataset(config),
    log:
        "logs/report_summary.log",
    threads: 1
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/report_summary.py"


ACROSS_MODELS = targets.properties_of_scope(config, "models")

if ACROSS_MODELS:

    rule compare_models:
        input:
            caches=compare_caches,
        output:
            metrics=targets.METRICS.format(property="{property}", model=targets.ACROSS_MODELS_ID),
        params:
            compare=compare_params,
        log:
            "logs/compare_models/{property}.log",
        wildcard_constraints:
            property="|".join(ACROSS_MODELS),
        threads: 1
        conda:
            "../../envs/beyond_imagenet.yaml"
        resources:
            mem_mb=16000,
            runtime=60,
        script:
            "../scripts/compare_models.py"
