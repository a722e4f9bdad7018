# The GPU stage: a zero-shot head per CLIP model, and one cache file per (model, dataset, view).


rule build_zero_shot_head:
    input:
        weights=weights_of,
    output:
        head=targets.HEAD,
    params:
        model=model_entry,
        zero_shot=config.get("zero_shot", {}),
    log:
        "logs/build_zero_shot_head/{model}.log",
    threads: EXTRACTION_THREADS
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        gpu=EXTRACTION_GPUS,
        mem_mb=extraction_mem_mb,
        runtime=90,
    script:
        "../scripts/build_zero_shot_head.py"


rule extract_outputs:
    input:
        weights=weights_of,
        head=head_of,
        demo=targets.demo_manifest(config),
    output:
        outputs=targets.OUTPUTS,
    params:
        model=model_entry,
        dataset=dataset_entry,
        extraction=config.get("extraction", {}),
    log:
        "logs/extract_outputs/{model}/{dataset}/{view}.log",
    threads: EXTRACTION_THREADS
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        gpu=EXTRACTION_GPUS,
        mem_mb=extraction_mem_mb,
        runtime=extraction_runtime,
    script:
        "../scripts/extract_outputs.py"
