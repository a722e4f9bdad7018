"""Config validation: wrong keys and types fail naming the key; missing data is reported usefully."""

import copy

import pytest
import yaml

from beyond_imagenet.catalog.paper import PAPER_MODELS, paper_model_id
from beyond_imagenet.config.needs import missing_inputs
from beyond_imagenet.config.schema import ConfigError, load_config, validate_config
from beyond_imagenet.config.specs import model_specs

from ..conftest import REPO


@pytest.fixture
def paper_config():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_shipped_configs_validate():
    load_config(REPO / "config/config.yaml")
    load_config(REPO / "config/demo.yaml")


def test_paper_config_names_the_four_paper_models(paper_config):
    specs = model_specs(paper_config)
    assert {mid: paper_model_id(spec) for mid, spec in specs.items()} == {m: m for m in PAPER_MODELS}
    for model in ("vit_sup", "convnext_sup"):
        pre = specs[model].preprocess
        assert (pre["resize"], pre["crop"], pre["interpolation"]) == (256, 224, "bilinear")
    assert specs["vit_clip"].preprocess is None  # CLIP models keep open_clip's own preprocessing


def test_unknown_key_fails_naming_it(paper_config):
    paper_config["models"]["vit_sup"]["weigths"] = "hub"
    with pytest.raises(ConfigError, match=r"'models\.vit_sup'.*'weigths' was unexpected"):
        validate_config(paper_config)


def test_unknown_top_level_key_fails(paper_config):
    paper_config["extraktion"] = {}
    with pytest.raises(ConfigError, match=r"'<top level>'.*'extraktion' was unexpected"):
        validate_config(paper_config)


def test_wrong_type_fails_naming_the_key(paper_config):
    paper_config["extraction"]["batch_size"] = "64"
    with pytest.raises(ConfigError, match=r"'extraction\.batch_size'.*is not of type 'integer'"):
        validate_config(paper_config)


def test_jobs_per_gpu_is_a_positive_whole_number(paper_config):
    paper_config["extraction"]["jobs_per_gpu"] = 2
    validate_config(paper_config)
    paper_config["extraction"]["jobs_per_gpu"] = 0
    with pytest.raises(ConfigError, match=r"'extraction\.jobs_per_gpu'.*minimum of 1"):
        validate_config(paper_config)


def test_property_on_unknown_dataset_fails(paper_config):
    paper_config["properties"]["accuracy"]["datasets"] = ["imagenet_vall"]
    with pytest.raises(ConfigError, match=r"'properties\.accuracy\.datasets'.*'imagenet_vall'"):
        validate_config(paper_config)


def test_open_clip_hub_model_needs_a_tag(paper_config):
    del paper_config["models"]["vit_clip"]["pretrained"]
    with pytest.raises(ConfigError, match=r"'models\.vit_clip\.pretrained' is required"):
        validate_config(paper_config)


def test_load_config_names_the_file(tmp_path, paper_config):
    paper_config["models"]["vit_sup"]["source"] = "keras"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(paper_config))
    with pytest.raises(ConfigError, match=r"(?s)bad\.yaml.*'models\.vit_sup\.source'.*'keras'"):
        load_config(path)


def test_missing_inputs_lists_roots_and_weights_with_their_keys(paper_config, tmp_path):
    config = copy.deepcopy(paper_config)
    config["datasets"]["imagenet_val"]["root"] = str(tmp_path / "nowhere")
    config["models"]["vit_sup"]["weights"] = str(tmp_path / "missing.pth")
    problems = missing_inputs(config)
    val = [p for p in problems if "datasets.imagenet_val.root" in p]
    weights = [p for p in problems if "models.vit_sup.weights" in p]
    assert len(val) == 1 and "image-net.org" in val[0] and "enabled: false" in val[0]
    assert "'accuracy'" in val[0] and "'invariance'" in val[0]  # every property that needs it is named
    assert len(weights) == 1 and "'hub'" in weights[0]
    assert len(problems) == len(config["datasets"]) + 1  # no data on this machine: every root, plus the file


def test_disabled_properties_need_no_data(paper_config):
    for prop in paper_config["properties"].values():
        prop["enabled"] = False
    assert missing_inputs(paper_config) == []
    paper_config["properties"]["calibration"]["enabled"] = True
    needed = {p.split("'")[1] for p in missing_inputs(paper_config)}
    assert needed == {"imagenet_val", "imagenet_r"}


def test_demo_paths_are_not_missing():
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    assert missing_inputs(config) == []  # produced by the workflow's demo rules


def test_missing_property_file_is_named(paper_config, tmp_path):
    paper_config["properties"]["robustness"]["real_labels"] = str(tmp_path / "real.json")
    problems = [p for p in missing_inputs(paper_config) if p.startswith("property")]
    assert problems == [f"property 'robustness': real_labels '{tmp_path / 'real.json'}' does not exist; set "
                        "'properties.robustness.real_labels' (or 'package' where the package ships it), or "
                        "'properties.robustness.enabled: false'"]


def test_the_across_models_id_is_not_a_model_id(paper_config):
    paper_config["models"]["all_models"] = paper_config["models"].pop("vit_sup")
    with pytest.raises(ConfigError, match=r"'models\.all_models'.*compare models"):
        validate_config(paper_config)


def test_open_clip_hub_weights_need_a_tag_and_timm_takes_no_arch_config(paper_config):
    broken = copy.deepcopy(paper_config)
    del broken["models"]["vit_clip"]["pretrained"]
    with pytest.raises(ConfigError, match=r"'models\.vit_clip\.pretrained' is required"):
        validate_config(broken)
    paper_config["models"]["vit_sup"]["arch_config"] = "x.json"
    with pytest.raises(ConfigError, match=r"'models\.vit_sup\.arch_config' is not used by source 'timm'"):
        validate_config(paper_config)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("native_resolution", True, r"'datasets\.cue_conflict\.native_resolution'"),  # the old boolean: say who
    ("root", "", r"'datasets\.cue_conflict\.root'"),  # an empty root would scan the working directory
])
@pytest.mark.faults
def test_dataset_values_that_would_mislead_are_refused(paper_config, key, value, message):
    paper_config["datasets"]["cue_conflict"][key] = value
    with pytest.raises(ConfigError, match=message):
        validate_config(paper_config)


@pytest.mark.faults
def test_hub_parquet_keys_on_another_format_are_refused(paper_config):
    paper_config["datasets"]["imagenet_a"]["label_encoding"] = "imagenet_a"  # would silently do nothing
    with pytest.raises(ConfigError, match=r"'datasets\.imagenet_a\.label_encoding' is read only by format hf_parquet"):
        validate_config(paper_config)


def test_a_role_names_one_dataset_of_a_format_that_fills_it(paper_config):
    twice = copy.deepcopy(paper_config)
    twice["datasets"]["val_again"] = dict(twice["datasets"]["imagenet_val"])
    with pytest.raises(ConfigError, match=r"'datasets.val_again.role': 'imagenet_val' is also the role of "
                                          r"'datasets.imagenet_val'"):
        validate_config(twice)
    wrong_format = copy.deepcopy(paper_config)
    wrong_format["datasets"]["imagenet_c"]["format"] = "imagefolder_wnid"
    with pytest.raises(ConfigError, match=r"'datasets.imagenet_c.role': 'imagenet_c' needs format 'imagenet_c'"):
        validate_config(wrong_format)
    unknown = copy.deepcopy(paper_config)
    unknown["datasets"]["imagenet_a"]["role"] = "imagenet_x"
    with pytest.raises(ConfigError, match=r"'datasets.imagenet_a.role'"):
        validate_config(unknown)


def test_a_renamed_dataset_is_prepared_from_the_source_of_its_role(paper_config, tmp_path):
    from beyond_imagenet.data.prepare import preparable, vtab_preparable, vtab_settings

    config = copy.deepcopy(paper_config)
    config["datasets"]["my_adversarial"] = config["datasets"].pop("imagenet_a")
    config["datasets"]["my_dtd"] = config["datasets"].pop("vtab_dtd")
    for entry in config["properties"].values():
        entry["datasets"] = [{"imagenet_a": "my_adversarial", "vtab_dtd": "my_dtd"}.get(d, d)
                             for d in entry.get("datasets", [])]
    validate_config(config)
    assert "my_adversarial" in preparable(config) and "imagenet_a" not in preparable(config)
    assert "my_dtd" in vtab_preparable(config) and vtab_settings(config, "my_dtd")["task"] == "dtd"
    lines = [line for line in missing_inputs(config) if "my_adversarial" in line]
    assert lines and "`snakemake prepare_my_adversarial`" in lines[0]


MODULE_ENTRY = {"source": "module", "name": "mine", "weights": "mine.pt", "factory": "my_models:build",
                "labels": "imagenet1k",
                "preprocess": {"resize": 256, "crop": 224, "interpolation": "bicubic", "mean": [0.5] * 3,
                               "std": [0.5] * 3}}


@pytest.mark.parametrize(("drop", "change", "message"), [
    ("factory", {}, r"'models\.mine\.factory' is required for source module"),
    ("preprocess", {}, r"'models\.mine\.preprocess' is required for source module"),
    ("labels", {}, r"'models\.mine\.labels' is required for a module with an ImageNet head"),
    (None, {"pretrained": "x"}, r"'models\.mine\.pretrained' is not used by source 'module'"),
    (None, {"factory": "my_models.build"}, r"models\.mine\.factory"),  # "module:function", not a dotted path
    (None, {"source": "torchvision", "weights": "hub"}, r"'models\.mine\.pretrained' is required for torchvision"),
    (None, {"source": "timm", "factory_path": "."}, r"'models\.mine\.factory_path' is not used by source 'timm'"),
    (None, {"head": "dino"}, r"models\.mine\.head"),
])
def test_a_model_entry_says_what_its_source_needs(paper_config, drop, change, message):
    entry = {key: value for key, value in {**MODULE_ENTRY, **change}.items() if key != drop}
    if entry["source"] != "module":
        entry = {k: v for k, v in entry.items() if k not in ("factory", "labels", "preprocess")} | (
            {"factory_path": "."} if "factory_path" in change else {})
    paper_config["models"]["mine"] = entry
    with pytest.raises(ConfigError, match=message):
        validate_config(paper_config)


def test_a_headless_module_needs_no_labels(paper_config):
    paper_config["models"]["mine"] = {k: v for k, v in MODULE_ENTRY.items() if k != "labels"} | {"head": "none"}
    validate_config(paper_config)
    assert model_specs(paper_config)["mine"].headless
