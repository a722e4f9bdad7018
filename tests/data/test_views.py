"""Invariance views: names, the paper's transforms, and equality with the standard view at the identity."""

import pytest
import torch
from PIL import Image
from torchvision import transforms

from beyond_imagenet.data.views import View, invariance_views, parse_view, view_image_size, view_preprocess
from beyond_imagenet.models.preprocess import Preprocess, ShiftedCrop

SUPERVISED = Preprocess(256, 224, "bilinear", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP = Preprocess(224, 224, "bicubic", (0.481, 0.458, 0.408), (0.269, 0.261, 0.276))


def test_view_names_match_paper_keys():
    assert View("scale", 1.0).name == "scale=1" and View("scale", 1.25).name == "scale=1.25"
    assert View("shift", 30.0).name == "shift=30" and View("resolution", 336.0).name == "resolution=336"
    assert parse_view("scale=1.5") == View("scale", 1.5)
    with pytest.raises(ValueError, match="unknown view 'zoom=2'"):
        parse_view("zoom=2")
    with pytest.raises(ValueError, match="whole number of pixels"):
        parse_view("shift=2.5")


def test_scale_resizes_the_paper_base_size():
    assert view_preprocess(SUPERVISED, "scale=1.5") == Preprocess(384, 224, *SUPERVISED_TAIL())
    assert view_preprocess(CLIP, "scale=2").resize == 448  # S = 224 for CLIP


def SUPERVISED_TAIL():  # noqa: N802 - the unchanged fields of SUPERVISED
    return ("bilinear", SUPERVISED.mean, SUPERVISED.std)


def test_resolution_keeps_the_crop_ratio_and_sets_the_model_size():
    assert view_preprocess(SUPERVISED, "resolution=336") == Preprocess(384, 336, *SUPERVISED_TAIL())  # int(336*256/224)
    assert view_preprocess(CLIP, "resolution=512").resize == 512
    assert view_image_size("resolution=512") == 512 and view_image_size("scale=2") is None


@pytest.mark.parametrize("view", ["standard", "scale=1", "resolution=224"])
def test_identity_views_of_a_bilinear_model_equal_the_standard_transform(view):
    assert view_preprocess(SUPERVISED, view) == SUPERVISED


def test_clip_scale_views_are_bilinear_as_the_authors_resize_even_at_one():
    # CropScale: Resize(int(s * 224)) with torchvision's default (bilinear), then CenterCrop(224)
    assert view_preprocess(CLIP, "scale=1") == Preprocess(224, 224, "bilinear", CLIP.mean, CLIP.std)
    assert view_preprocess(CLIP, "scale=1.25") == Preprocess(280, 224, "bilinear", CLIP.mean, CLIP.std)
    assert view_preprocess(CLIP, "native-scale=1") == CLIP  # the model's own interpolation: the standard view
    assert view_preprocess(CLIP, "native-scale=1.25").interpolation == "bicubic"


def _authors_box(w, h, size, shift, target=224):
    """The authors' CropShift window written out from their formulas (Beyond-INet utils/transforms.py)."""
    if w > h:
        top = ((size - target) / 2 * h) / size
        left = (((w / h * size) - target) / 2 * h) / size + shift
        side = target * h / size
    else:
        top = ((h / w * size - target) / 2 * w) / size + shift
        left = ((size - target) / 2 * w) / size
        side = target * w / size
    return int(left), int(top), int(left) + int(side), int(top) + int(side)


@pytest.mark.parametrize(("w", "h", "size", "shift", "expected"), [
    (500, 375, 256, 30, (115, 23, 443, 351)),   # landscape, supervised: 328 x 328 (round() gave 328 x 329)
    (375, 500, 256, 30, (23, 115, 351, 443)),   # portrait: moved down
    (400, 400, 256, 30, (25, 55, 375, 405)),    # square: moved down too (w > h is false)
    (500, 375, 224, 5, (67, 0, 442, 375)),      # CLIP: S = 224, the window is the full height
    (500, 375, 256, 0, (85, 23, 413, 351)),     # shift=0 is a window crop as well
])
def test_shift_windows_match_the_authors_formulas(w, h, size, shift, expected):
    assert _authors_box(w, h, size, shift) == expected
    assert ShiftedCrop(resize=size, crop=224, shift=shift, interpolation="bilinear").window(w, h) == expected


@pytest.mark.parametrize("size", [(500, 375), (375, 500), (333, 333), (640, 427), (97, 75)])
@pytest.mark.parametrize("shift", [0, 5, 30, 75, 100])
def test_shift_view_pixels_are_the_authors_crop_then_bilinear_resize(size, shift):
    torch.manual_seed(0)
    image = Image.fromarray((torch.rand(size[1], size[0], 3) * 255).to(torch.uint8).numpy())
    for base in (SUPERVISED, CLIP):
        preprocess = view_preprocess(base, f"shift={shift}")
        box = _authors_box(*size, base.resize, shift)
        expected = image.crop(box).resize((224, 224), Image.BILINEAR)
        expected_tensor = transforms.Normalize(base.mean, base.std)(transforms.ToTensor()(expected))
        assert torch.equal(preprocess.to_transform()(image), expected_tensor), (size, shift, base.interpolation)


def test_shift_zero_is_not_the_standard_view():
    assert view_preprocess(SUPERVISED, "shift=0") != SUPERVISED and view_preprocess(SUPERVISED, "shift=0").shift == 0


def test_scale_view_pixels_are_the_authors_resize_and_center_crop():
    torch.manual_seed(1)
    image = Image.fromarray((torch.rand(375, 500, 3) * 255).to(torch.uint8).numpy())
    for base, size in ((SUPERVISED, 256), (CLIP, 224)):
        for scale in (1, 1.25, 1.5, 2, 3):
            expected = transforms.CenterCrop(224)(transforms.Resize(int(scale * size))(image))  # torchvision default
            expected_tensor = transforms.Normalize(base.mean, base.std)(transforms.ToTensor()(expected))
            assert torch.equal(view_preprocess(base, f"scale={scale:g}").to_transform()(image), expected_tensor)


def test_native_protocol_views_are_named_apart():
    views = invariance_views({"scales": [1.5], "shifts": [5], "resolutions": [336], "protocol": "native"})
    assert views == ["native-scale=1.5", "native-shift=5", "native-resolution=336"]
    assert parse_view("native-shift=5") == View("shift", 5.0, "native")


def test_shifted_transform_moves_content():
    image = Image.new("RGB", (400, 300), "black")
    image.paste((255, 255, 255), (200, 0, 400, 300))  # right half white
    plain = Preprocess(256, 224, "bilinear", (0, 0, 0), (1, 1, 1))
    shifted = view_preprocess(plain, "shift=60")
    assert shifted.to_transform()(image).mean() > plain.to_transform()(image).mean()  # window moved right, into white


@pytest.mark.parametrize("view", ["standard", "scale=1.5", "shift=30", "resolution=336"])
@pytest.mark.parametrize("size", [(97, 75), (75, 97), (80, 80)])
def test_uint8_transform_then_normalise_equals_the_float_transform_bit_for_bit(view, size):
    """Workers ship uint8 and the extraction normalises on the device: the model must see the same floats."""
    torch.manual_seed(0)
    image = Image.fromarray((torch.rand(size[1], size[0], 3) * 255).to(torch.uint8).numpy())
    for base in (SUPERVISED, CLIP):
        preprocess = view_preprocess(base, view)
        shipped = preprocess.to_uint8_transform()(image)
        assert shipped.dtype == torch.uint8
        assert torch.equal(preprocess.normalise(shipped[None])[0], preprocess.to_transform()(image))
