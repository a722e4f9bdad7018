"""Model zoo: preprocessing equals the libraries' own, strict loading, logits equal the plain model."""

import dataclasses

import pytest
import torch
from PIL import Image

from beyond_imagenet.catalog.model_sources import MODEL_SOURCES, model_source
from beyond_imagenet.config.schema import load_schema
from beyond_imagenet.models.build import ModelLoadError, load_backbone, load_model

# A tiny checkpoint per model source (conftest fixtures): a new source gets one, or this file fails.
TINY_SPECS = {"timm": "timm_spec", "open_clip": "clip_spec", "torchvision": "torchvision_spec",
              "transformers": "transformers_spec", "transformers_clip": "transformers_clip_spec",
              "module": "module_spec"}


def test_every_source_has_a_tiny_test_model_and_is_in_the_schema():
    assert set(TINY_SPECS) == set(MODEL_SOURCES)
    assert set(load_schema()["$defs"]["model"]["properties"]["source"]["enum"]) == set(MODEL_SOURCES)
    with pytest.raises(KeyError, match="unknown model source 'keras'"):
        model_source("keras")


@pytest.mark.parametrize("source", sorted(MODEL_SOURCES))
def test_each_source_builds_untrained_and_classifies_into_1000(source, request):
    spec = request.getfixturevalue(TINY_SPECS[source])
    entry = MODEL_SOURCES[source]
    untrained = entry.resolve("build_untrained")(spec)
    loaded_state = load_backbone(spec)[0].state_dict()
    assert set(untrained.state_dict()) == set(loaded_state)  # the same architecture the weights load into
    head = torch.nn.functional.normalize(torch.randn(1000, 64), dim=-1) if entry.zero_shot else None
    loaded = load_model(spec, head)
    size = loaded.preprocess.crop
    with torch.inference_mode():
        logits, features = loaded.network(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 1000) and features.shape[0] == 2


@pytest.fixture(scope="module")
def odd_image():
    """A non-square image with detail, so resize/crop/interpolation differences show up."""
    torch.manual_seed(0)
    pixels = (torch.rand(3, 75, 97) * 255).to(torch.uint8)
    return Image.fromarray(pixels.permute(1, 2, 0).numpy())


def test_timm_default_preprocessing_equals_timm_transform(timm_spec, odd_image):
    from timm.data import create_transform, resolve_data_config

    from beyond_imagenet.models.build import library_preprocess
    from beyond_imagenet.models.timm_models import untrained

    spec = dataclasses.replace(timm_spec, preprocess=None, model_kwargs={"patch_size": 8})  # the tag's 160 px
    model = untrained(spec)
    preprocess = library_preprocess(spec, model)
    assert preprocess.crop == 160 and preprocess.resize == int(160 / 0.95)  # the tag's own crop_pct
    expected = create_transform(**resolve_data_config({}, model=model))(odd_image)
    assert torch.equal(preprocess.to_transform()(odd_image), expected)


@pytest.mark.faults
def test_a_timm_model_built_for_another_size_needs_its_preprocess_said(timm_spec):
    """timm keeps the tag's eval transform (160 px) for a model built with img_size 32: refused, not fed 160 px."""
    spec = dataclasses.replace(timm_spec, preprocess=None)
    with pytest.raises(ModelLoadError, match=r"model_kwargs.img_size' builds it for 32 px but its library's eval "
                                             r"transform crops 160 px; set 'models.tiny_vit.preprocess'"):
        load_backbone(spec)


def test_open_clip_default_preprocessing_equals_open_clip_transform(clip_spec, odd_image):
    import open_clip

    spec = dataclasses.replace(clip_spec, preprocess=None)
    _, preprocess = load_backbone(spec)
    _, _, expected_transform = open_clip.create_model_and_transforms(spec.name, pretrained=spec.weights)
    assert preprocess.interpolation == "bicubic" and preprocess.mean[0] == pytest.approx(0.48145466)
    assert torch.equal(preprocess.to_transform()(odd_image), expected_transform(odd_image))


def test_config_override_wins(timm_spec):
    _, preprocess = load_backbone(timm_spec)
    assert (preprocess.resize, preprocess.crop, preprocess.interpolation) == (36, 32, "bilinear")


def test_timm_logits_and_features_equal_the_plain_model(timm_spec):
    loaded = load_model(timm_spec)
    images = torch.randn(3, 3, 32, 32)
    with torch.inference_mode():
        logits, features = loaded.network(images)
        backbone = loaded.network.model
        assert torch.allclose(logits, backbone(images), atol=1e-5)
        assert features.shape == (3, backbone.num_features)
    assert loaded.weights_sha256 is not None and len(loaded.weights_sha256) == 64


def test_clip_logits_are_scaled_cosine_to_the_head(clip_spec):
    head = torch.nn.functional.normalize(torch.randn(1000, 64), dim=-1)
    loaded = load_model(clip_spec, head, logit_scale=100.0)
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        logits, features = loaded.network(images)
        embedding = loaded.network.model.encode_image(images)
    assert torch.allclose(features, embedding)
    expected = 100.0 * torch.nn.functional.normalize(embedding, dim=-1) @ head.T
    assert torch.allclose(logits, expected, atol=1e-4)


def _edited(spec, tmp_path, edit):
    """A copy of the spec's weights with `edit(state)` applied: a checkpoint file, or a save_pretrained folder."""
    from pathlib import Path

    source = Path(spec.weights)
    if source.is_dir():  # transformers: the folder's safetensors
        import shutil

        from safetensors.torch import load_file, save_file

        folder = shutil.copytree(source, tmp_path / "edited")
        state = load_file(folder / "model.safetensors")
        edit(state)
        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
        return dataclasses.replace(spec, weights=str(folder))
    state = torch.load(source, weights_only=True)
    edit(state)
    torch.save(state, tmp_path / "edited.pt")
    return dataclasses.replace(spec, weights=str(tmp_path / "edited.pt"))


@pytest.mark.parametrize("source", sorted(MODEL_SOURCES))
def test_unexpected_checkpoint_key_fails_loading(source, request, tmp_path):
    spec = _edited(request.getfixturevalue(TINY_SPECS[source]), tmp_path,
                   lambda state: state.__setitem__("surprise.weight", torch.zeros(1)))
    with pytest.raises(ModelLoadError, match=r"(?s)failed strictly.*surprise\.weight"):
        load_backbone(spec)


@pytest.mark.parametrize("source", sorted(MODEL_SOURCES))
def test_missing_checkpoint_key_fails_loading(source, request, tmp_path):
    dropped = []
    spec = _edited(request.getfixturevalue(TINY_SPECS[source]), tmp_path,
                   lambda state: dropped.append(sorted(state)[-1]) or state.pop(sorted(state)[-1]))
    with pytest.raises(ModelLoadError, match=f"(?s)failed strictly.*{dropped[0]}"):
        load_backbone(spec)


def test_missing_weights_file_names_the_config_key(timm_spec, tmp_path):
    with pytest.raises(ModelLoadError, match=r"models\.tiny_vit\.weights"):
        load_backbone(dataclasses.replace(timm_spec, weights=str(tmp_path / "nope.pt")))


def test_clip_model_without_head_is_refused(clip_spec):
    with pytest.raises(ModelLoadError, match="needs its zero-shot head"):
        load_model(clip_spec)


# --- strict in the sense a user means: no silent resample, no silent non-strict load -----------------

def _with_tensor(spec, tmp_path, key, shape=None, drop=False):
    state = torch.load(spec.weights, weights_only=True)
    if drop:
        del state[key]
    else:
        state[key] = torch.zeros(shape)
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    return dataclasses.replace(spec, weights=str(path))


@pytest.mark.parametrize(("source", "key", "shape"), [
    ("timm", "pos_embed", (1, 26, 64)),  # the model has 16 patches + cls at 32 px; this one is for 40 px
    ("timm", "patch_embed.proj.weight", (64, 3, 4, 4)),  # timm would resample the patch kernel
    ("open_clip", "visual.positional_embedding", (50, 96)),  # a 7x7 grid; the model has 8x8 at 64 px
    ("open_clip", "positional_embedding", (20, 64)),  # the text tower: 24 tokens in the model
])
def test_a_wrongly_shaped_checkpoint_tensor_is_an_error_naming_key_and_shapes(source, key, shape, request, tmp_path):
    spec = _with_tensor(request.getfixturevalue(TINY_SPECS[source]), tmp_path, key, shape)
    with pytest.raises(ModelLoadError, match=rf"'{key}' has shape \[{', '.join(map(str, shape))}\] but the built model"):
        load_backbone(spec)


@pytest.mark.parametrize("source", sorted(MODEL_SOURCES))
def test_an_asked_for_input_size_resamples_only_position_embeddings_and_records_it(source, request):
    spec = request.getfixturevalue(TINY_SPECS[source])
    native = load_model(spec, torch.zeros(1000, 64) if MODEL_SOURCES[source].zero_shot else None)
    size = native.preprocess.crop * 2
    loaded = load_model(spec, torch.zeros(1000, 64) if MODEL_SOURCES[source].zero_shot else None, image_size=size)
    assert native.resampled == {} and set(loaded.resampled) == set(MODEL_SOURCES[source].resizable_keys)


def test_an_input_size_does_not_excuse_other_shape_changes(clip_spec, tmp_path):
    spec = _with_tensor(clip_spec, tmp_path, "positional_embedding", (20, 64))
    with pytest.raises(ModelLoadError, match="'positional_embedding' has shape"):
        load_backbone(spec, image_size=128)


def test_a_num_classes_override_never_turns_strictness_off(timm_spec):
    spec = dataclasses.replace(timm_spec, model_kwargs={**timm_spec.model_kwargs, "num_classes": 10})
    with pytest.raises(ModelLoadError, match=r"'head\.bias' has shape \[1000\] but the built model needs \[10\]"):
        load_backbone(spec)


@pytest.mark.faults
def test_a_prefixed_checkpoint_is_shape_checked_under_the_names_the_library_loads(timm_spec, tmp_path):
    """Keys saved as `visual.trunk.<key>` (an open_clip export of a timm tower) skipped the shape check while timm
    stripped the prefix and resampled the position embedding from (1, 37, 64) to the model's."""
    state = torch.load(timm_spec.weights, weights_only=True)
    prefixed = {f"visual.trunk.{key}": value for key, value in state.items()}
    path = tmp_path / "prefixed.pt"
    torch.save(prefixed, path)
    assert load_backbone(dataclasses.replace(timm_spec, weights=str(path)))[0] is not None  # the same tensors load
    prefixed["visual.trunk.pos_embed"] = torch.zeros(1, 37, 64)
    prefixed["text.token_embedding.weight"] = torch.zeros(3, 4)  # another tower: not part of this model
    torch.save(prefixed, path)
    with pytest.raises(ModelLoadError, match=r"'pos_embed' has shape \[1, 37, 64\] but the built model needs "
                                             r"\[1, 17, 64\]"):
        load_backbone(dataclasses.replace(timm_spec, weights=str(path)))


@pytest.mark.faults
def test_a_checkpoint_of_another_architecture_is_refused_by_name(timm_spec, tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"encoder.layer.0.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ModelLoadError, match=r"other\.pt"):  # the library's strict loader, or our check, by name
        load_backbone(dataclasses.replace(timm_spec, weights=str(path)))
    from beyond_imagenet.models.build import as_the_library_loads

    with pytest.raises(ModelLoadError, match=r"no tensor of other\.pt matches the built model's names"):
        as_the_library_loads({"encoder.layer.0.weight": torch.zeros(2)}, {"blocks.0.weight"}, timm_spec, path.name)
