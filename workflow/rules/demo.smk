# The demo world: generated data sets and tiny trained models (only with config/demo.yaml).

if "demo" in config:

    DEMO_ROOT = config["demo"]["root"]

    rule generate_demo_world:
        output:
            manifest=targets.DEMO_MANIFEST.format(root=DEMO_ROOT),
        params:
            settings=targets.stable(config["demo"]),
            datasets=targets.generated_dataset_roots(config),
        log:
            "logs/generate_demo_world.log",
        threads: 1
        conda:
            "../../envs/beyond_imagenet.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        script:
            "../scripts/generate_demo_world.py"

    rule train_demo_model:
        input:
            manifest=rules.generate_demo_world.output.manifest,
        output:
            weights=targets.DEMO_WEIGHTS.format(root=DEMO_ROOT, model="{model}"),
        params:
            model=model_params,
            settings=targets.stable(config["demo"]),
        log:
            "logs/train_demo_model/{model}.log",
        threads: 1
        conda:
            "../../envs/beyond_imagenet.yaml"
        resources:
            mem_mb=3000,
            runtime=30,
        script:
            "../scripts/train_demo_model.py"
