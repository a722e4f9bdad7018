"""The torchvision, transformers and module sources: cached logits equal a direct run of each library, and the
output order is mapped from what the model declares (a shuffled id2label, a background class, a 21k head)."""

import random

import numpy as np
import pytest
import torch

from beyond_imagenet.catalog.labels import LabelMapError, imagenet_wnids, output_columns, timm_info_file
from beyond_imagenet.data.formats import list_samples, load_rgb
from beyond_imagenet.extract.run import extract_outputs
from beyond_imagenet.models.build import ModelLoadError, load_model
from beyond_imagenet.store.cache import read_outputs

from ..conftest import save_tiny_transformers_vit


def _cached(spec, val_dataset, tmp_path, head=None) -> tuple[np.ndarray, list]:
    """The logits (features for a backbone) the extraction caches, and the images they were computed on."""
    loaded = load_model(spec, head)
    samples = list_samples(val_dataset)
    path = extract_outputs(loaded, val_dataset, samples, tmp_path / "c.h5", batch_size=7,
                           logit_scale=100.0 if head is not None else None)
    cached = read_outputs(path, features=spec.headless, logits=not spec.headless)
    return cached.features if spec.headless else cached.logits, [load_rgb(samples.root / i) for i in samples.ids]


def test_torchvision_logits_equal_the_libraries_own_transform_and_model(torchvision_spec, val_dataset, tmp_path):
    from torchvision.models import get_model, get_weight

    cached, images = _cached(torchvision_spec, val_dataset, tmp_path)
    weights = get_weight(torchvision_spec.pretrained)
    model = get_model("mobilenet_v3_small", weights=None)
    model.load_state_dict(torch.load(torchvision_spec.weights, weights_only=True))
    with torch.inference_mode():
        direct = model.eval()(torch.stack([weights.transforms()(image) for image in images])).numpy()
    np.testing.assert_allclose(cached, direct, atol=1e-6, rtol=0)


def test_transformers_logits_equal_the_processor_and_model(transformers_spec, val_dataset, tmp_path):
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    cached, images = _cached(transformers_spec, val_dataset, tmp_path)
    processor = AutoImageProcessor.from_pretrained(transformers_spec.weights, backend="pil")
    model = AutoModelForImageClassification.from_pretrained(transformers_spec.weights).eval()
    with torch.inference_mode():
        direct = model(**processor(images, return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(cached, direct, atol=1e-6, rtol=0)


def test_a_module_runs_with_its_declared_preprocessing(module_spec, val_dataset, tmp_path):
    import sys

    from beyond_imagenet.models.preprocess import Preprocess

    cached, images = _cached(module_spec, val_dataset, tmp_path)
    sys.path.insert(0, module_spec.factory_path)
    from tiny_factories import build

    model = build()
    model.load_state_dict(torch.load(module_spec.weights, weights_only=True))
    transform = Preprocess.from_dict(module_spec.preprocess).to_transform()
    with torch.inference_mode():
        direct = model.eval()(torch.stack([transform(image) for image in images])).numpy()
    np.testing.assert_allclose(cached, direct, atol=1e-6, rtol=0)


def _lemmas() -> list[str]:
    table = dict(line.split("\t") for line in timm_info_file("imagenet_synset_to_lemma.txt").read_text().splitlines())
    return [table[w] for w in imagenet_wnids()]


@pytest.mark.faults
def test_a_shuffled_id2label_is_put_back_into_the_canonical_order(tmp_path, val_dataset):
    """A head whose classes (wnids) are in another order: the cache holds them in the canonical order."""
    order = list(range(1000))
    random.Random(0).shuffle(order)
    wnids = imagenet_wnids()
    folder = save_tiny_transformers_vit(tmp_path / "shuffled", {k: wnids[order[k]] for k in range(1000)})
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from beyond_imagenet.config.specs import ModelSpec

    spec = ModelSpec(id="shuffled", source="transformers", name="shuffled", weights=str(folder))
    cached, images = _cached(spec, val_dataset, tmp_path)
    model = AutoModelForImageClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        raw = model(**AutoImageProcessor.from_pretrained(folder, backend="pil")(images, return_tensors="pt")).logits.numpy()
    canonical = np.empty_like(raw)
    canonical[:, order] = raw  # output k is class order[k]
    np.testing.assert_allclose(cached, canonical, atol=1e-6, rtol=0)
    assert not np.allclose(cached, raw)  # read as is, every class would be another's
    # shuffled class names, where two classes share the name 'crane': refused, never assumed to be in order
    with pytest.raises(LabelMapError, match="not in the canonical order"):
        output_columns([_lemmas()[i] for i in order])


@pytest.mark.faults
def test_a_background_class_first_is_dropped_not_shifted_into_the_classes():
    names = ["background", *_lemmas()]
    columns = output_columns(names)
    assert columns[0] == 1 and columns[-1] == 1000  # class 0 (tench) is output 1, not the background
    with pytest.raises(LabelMapError, match="1001 outputs"):
        output_columns(["not a background", *_lemmas()])


@pytest.mark.faults
def test_a_22k_head_is_cut_to_the_1000_by_wnid_and_never_read_as_1k():
    wnids_22k = timm_info_file("imagenet22k_ms_synsets.txt").read_text().split()  # holds all 1000
    columns = output_columns(wnids_22k)
    assert [wnids_22k[c] for c in columns] == list(imagenet_wnids())
    with pytest.raises(LabelMapError, match="not the 1000 ImageNet classes"):
        output_columns([f"class {k}" for k in range(len(wnids_22k))])
    google_21k = timm_info_file("imagenet21k_goog_synsets.txt").read_text().split()  # lacks n04399382 (teddy)
    with pytest.raises(LabelMapError, match=r"lack 1 of the 1000 ImageNet classes, e.g. \['n04399382'\]"):
        output_columns(google_21k)


def test_a_model_that_says_nothing_of_its_outputs_is_refused(module_spec):
    import dataclasses

    with pytest.raises(ModelLoadError, match="models.mine.labels"):
        load_model(dataclasses.replace(module_spec, labels=None))


def test_transformers_clip_logits_equal_its_own_towers_and_tokenizer(transformers_clip_spec, val_dataset, tmp_path):
    """The head is built by the same builder as open_clip's (class names, templates, normalisation); checked here
    against the model's own get_text_features / get_image_features and processor, written out independently."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    from beyond_imagenet.catalog.labels import imagenet_classnames
    from beyond_imagenet.config.specs import ZeroShotSpec
    from beyond_imagenet.models.zero_shot import template_set
    from beyond_imagenet.pipeline.gpu import run_build_head
    from beyond_imagenet.store.cache import read_head

    run_build_head(transformers_clip_spec, ZeroShotSpec(templates="simple"), "cpu", tmp_path / "head.h5")
    head, _ = read_head(tmp_path / "head.h5")
    cached, images = _cached(transformers_clip_spec, val_dataset, tmp_path, torch.from_numpy(head))
    folder = transformers_clip_spec.weights
    model, tokenizer = AutoModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    templates = template_set("simple")
    with torch.inference_mode():
        rows = []
        for name in imagenet_classnames():
            tokens = tokenizer([t(name) for t in templates], padding="max_length", truncation=True,
                               return_tensors="pt")
            text = torch.nn.functional.normalize(model.get_text_features(**tokens).pooler_output, dim=-1)
            rows.append(torch.nn.functional.normalize(text.mean(dim=0), dim=-1))
        pixels = AutoImageProcessor.from_pretrained(folder, backend="pil")(images, return_tensors="pt")["pixel_values"]
        image = torch.nn.functional.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
        direct = (100.0 * image @ torch.stack(rows).T).numpy()
    np.testing.assert_allclose(head, torch.stack(rows).numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(cached, direct, atol=1e-4, rtol=0)  # logits scaled by 100: 1e-6 on the cosines


def _headless(spec):
    import dataclasses

    return dataclasses.replace(spec, head="none", labels=None if spec.source != "timm" else spec.labels)


def _direct_features(source: str, spec, images) -> np.ndarray:
    """Each library's own features of a model without its ImageNet head, computed outside the workflow."""
    from beyond_imagenet.models.preprocess import Preprocess

    with torch.inference_mode():
        if source == "timm":
            import timm
            from timm.data import create_transform, resolve_data_config

            model = timm.create_model(spec.name, pretrained=False, **spec.model_kwargs)
            model.load_state_dict(torch.load(spec.weights, weights_only=True))
            transform = create_transform(**resolve_data_config({}, model=model)) if spec.preprocess is None else \
                Preprocess.from_dict(spec.preprocess).to_transform()
            batch = torch.stack([transform(image) for image in images])
            return model.eval().forward_head(model.forward_features(batch), pre_logits=True).numpy()
        if source == "torchvision":
            from torchvision.models import get_model, get_weight

            model = get_model(spec.name, weights=None)
            model.load_state_dict(torch.load(spec.weights, weights_only=True))
            batch = torch.stack([get_weight(spec.pretrained).transforms()(image) for image in images])
            model.eval()
            return model.classifier[:-1](model.avgpool(model.features(batch)).flatten(1)).numpy()
        if source == "transformers":
            from transformers import AutoImageProcessor, ViTModel

            model = ViTModel.from_pretrained(spec.weights, add_pooling_layer=False).eval()
            pixels = AutoImageProcessor.from_pretrained(spec.weights, backend="pil")(images, return_tensors="pt")[
                "pixel_values"]
            return model(pixel_values=pixels).last_hidden_state[:, 0].numpy()
    raise AssertionError(source)


@pytest.mark.parametrize("source", ["timm", "torchvision", "transformers"])
def test_a_backbone_without_its_head_caches_the_libraries_own_features(source, request, val_dataset, tmp_path):
    spec = _headless(request.getfixturevalue({"timm": "timm_spec", "torchvision": "torchvision_spec",
                                              "transformers": "transformers_spec"}[source]))
    cached, images = _cached(spec, val_dataset, tmp_path)
    np.testing.assert_allclose(cached, _direct_features(source, spec, images), atol=1e-5, rtol=0)
    with pytest.raises(Exception, match="no ImageNet head"):
        read_outputs(tmp_path / "c.h5")  # a reader of logits is told why there are none


def test_a_module_backbone_and_a_clip_image_tower_give_their_features(module_spec, clip_spec, val_dataset, tmp_path):
    import dataclasses

    import open_clip

    from beyond_imagenet.models.preprocess import Preprocess

    backbone = dataclasses.replace(module_spec, head="none", labels=None, factory="tiny_factories:build_backbone")
    import sys

    sys.path.insert(0, module_spec.factory_path)
    from tiny_factories import build_backbone

    torch.save(build_backbone().state_dict(), tmp_path / "backbone.pt")
    backbone = dataclasses.replace(backbone, weights=str(tmp_path / "backbone.pt"))
    cached, images = _cached(backbone, val_dataset, tmp_path / "m")
    model = build_backbone()
    model.load_state_dict(torch.load(tmp_path / "backbone.pt", weights_only=True))
    transform = Preprocess.from_dict(backbone.preprocess).to_transform()
    with torch.inference_mode():
        np.testing.assert_allclose(cached, model.eval()(torch.stack([transform(i) for i in images])).numpy(),
                                   atol=1e-6, rtol=0)
    tower = dataclasses.replace(clip_spec, head="none")
    cached, images = _cached(tower, val_dataset, tmp_path / "c")  # no zero-shot head needed
    clip = open_clip.create_model(clip_spec.name, pretrained=clip_spec.weights).eval()
    transform = Preprocess.from_dict(clip_spec.preprocess).to_transform() if clip_spec.preprocess else \
        open_clip.image_transform(clip.visual.image_size, is_train=False)
    with torch.inference_mode():
        np.testing.assert_allclose(cached, clip.encode_image(torch.stack([transform(i) for i in images])).numpy(),
                                   atol=1e-5, rtol=0)


@pytest.mark.faults
def test_timm_heads_are_mapped_from_the_subset_timm_says_they_are(timm_spec, tmp_path):
    """A 22k head (21842 outputs, Microsoft's list) is cut to the 1000 by wnid; in another order (a labels file) it
    is not read as its first 1000 outputs; the fall-2011 22k (21841, no teddy bear) and 12k heads (7 classes absent)
    are refused; a 1001-way head with label_offset 1 drops its background output; an unknown class count is refused."""
    import dataclasses

    import timm

    from beyond_imagenet.models.timm_models import TimmClassifier

    wnids_22k = timm_info_file("imagenet22k_ms_synsets.txt").read_text().split()
    model = timm.create_model("resnet18", pretrained=False, num_classes=len(wnids_22k))
    columns = TimmClassifier(model, timm_spec).columns
    assert [wnids_22k[c] for c in columns.tolist()] == list(imagenet_wnids())
    (tmp_path / "reversed.txt").write_text("\n".join(reversed(wnids_22k)))
    columns = TimmClassifier(model, dataclasses.replace(timm_spec, labels=str(tmp_path / "reversed.txt"))).columns
    assert columns.tolist() == [len(wnids_22k) - 1 - k for k in range(1000)]
    with pytest.raises(LabelMapError, match="11821 wnid outputs lack 7"):
        TimmClassifier(timm.create_model("resnet18", pretrained=False, num_classes=11821), timm_spec)
    with pytest.raises(LabelMapError, match=r"21841 wnid outputs lack 1 .*n04399382"):
        TimmClassifier(timm.create_model("resnet18", pretrained=False, num_classes=21841), timm_spec)
    offset = timm.create_model("resnet18", pretrained=False, num_classes=1001,
                               pretrained_cfg_overlay={"label_offset": 1})
    assert TimmClassifier(offset, timm_spec).columns.tolist() == list(range(1, 1001))
    assert TimmClassifier(timm.create_model("resnet18", pretrained=False), timm_spec).columns is None
    with pytest.raises(ModelLoadError, match="no ImageNet subset timm knows"):
        TimmClassifier(timm.create_model("resnet18", pretrained=False, num_classes=10), timm_spec)
    declared = dataclasses.replace(timm_spec, labels="imagenet1k")
    assert TimmClassifier(timm.create_model("resnet18", pretrained=False), declared).columns is None


PROCESSORS = {  # the image processors of common checkpoints, as their preprocessor_config.json sets them
    "vit": ("ViTImageProcessor", {"size": {"height": 224, "width": 224}, "resample": 2}),
    "deit": ("DeiTImageProcessor", {"size": 256, "crop_size": 224, "resample": 3}),
    "dinov2 (bit)": ("BitImageProcessor", {"size": {"shortest_edge": 256}, "crop_size": 224, "resample": 3}),
    "convnext 224": ("ConvNextImageProcessor", {"size": {"shortest_edge": 224}, "crop_pct": 0.875, "resample": 3}),
    "convnext 384": ("ConvNextImageProcessor", {"size": {"shortest_edge": 384}, "resample": 3}),
}


@pytest.mark.parametrize("name", sorted(PROCESSORS))
def test_an_image_processor_is_resolved_to_the_same_pixels(name, tmp_path):
    """On images whose margins are odd (where a rounded and a floored centre crop are a pixel apart) and of either
    orientation: the resolved transform gives the processor's pixels (its PIL backend, the one slow processors
    had; transformers 5's default torchvision backend resizes tensors and differs by about 2/255)."""
    import transformers
    from PIL import Image
    from transformers import AutoImageProcessor

    from beyond_imagenet.config.specs import ModelSpec
    from beyond_imagenet.models.transformers_models import preprocess

    kind, options = PROCESSORS[name]
    getattr(transformers, kind)(**options).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    resolved = preprocess(None, ModelSpec(id="m", source="transformers", name="m", weights=str(tmp_path)))
    processor = AutoImageProcessor.from_pretrained(tmp_path, backend="pil")
    rng = np.random.default_rng(0)
    for shape in [(75, 97), (97, 75), (451, 301), (300, 451)]:
        image = Image.fromarray(rng.integers(0, 255, (*shape, 3), dtype=np.uint8))
        expected = processor(image, return_tensors="pt")["pixel_values"][0]
        np.testing.assert_allclose(resolved.to_transform()(image).numpy(), expected.numpy(), atol=1e-6, rtol=0)


def test_openai_class_names_are_read_in_order_and_refused_shuffled():
    """Heads labelled with OpenAI's cleaned class names (CLIP-derived classifiers): in the canonical order they are
    read as is; shuffled they cannot be put back, since two pairs share a name ('missile': 657 and 744;
    'sunglasses': 836 and 837), and are refused rather than guessed."""
    from beyond_imagenet.catalog.labels import imagenet_classnames

    names = list(imagenet_classnames())
    assert output_columns(names).tolist() == list(range(1000))
    order = list(range(1000))
    random.Random(1).shuffle(order)
    with pytest.raises(LabelMapError, match="ambiguous|names ImageNet classes"):
        output_columns([names[i] for i in order])
