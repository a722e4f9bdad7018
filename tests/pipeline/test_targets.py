"""Params that decide reruns: a demo config that names a generated set its world lacks regenerates the world."""

import yaml

from beyond_imagenet.pipeline.targets import generated_dataset_roots

from ..conftest import REPO


def test_the_demo_worlds_rule_changes_with_the_generated_sets_the_config_names():
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    roots = generated_dataset_roots(config)
    assert "resources/demo/bg_challenge" in roots and "resources/demo/val" in roots
    config["datasets"]["mine"] = {"format": "imagefolder_wnid", "root": "elsewhere/mine"}  # not generated
    assert generated_dataset_roots(config) == roots
    del config["datasets"]["imagenet_9"]  # an older config without the set: another param, another world
    assert generated_dataset_roots(config) != roots
