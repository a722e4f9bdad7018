# The GPU stage: a zero-shot head per CLIP model, and one cache file per (model, extraction job).
# A job runs one model over one dataset (or ImageNet-C group, shard, or pack of small sets) and
# computes every view the properties need from one decode of each image.


rule build_zero_shot_head:
    input:
        weights=weights_of,
    output:
        head=targets.HEAD,
    params:
        model=model_params,
        zero_shot=zero_shot_params,
    log:
        "logs/build_zero_shot_head/{model}.log",
    # heads first: with extraction.share_decoding a job extracts the CLIP models too once their heads exist
    priority: 10
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
        cache=plan.JOB_CACHE,
    params:
        job=extraction_params,
    log:
        "logs/extract_outputs/{model}/{job}.log",
    threads: EXTRACTION_THREADS
    conda:
        "../../envs/beyond_imagenet.yaml"
    resources:
        gpu=EXTRACTION_GPUS,
        mem_mb=extraction_mem_mb,
        runtime=extraction_runtime,
    script:
        "../scripts/extract_outputs.py"
