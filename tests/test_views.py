"""Invariance views: names, the paper's transforms, and equality with the standard view at the identity."""

import pytest
import torch
from PIL import Image

from beyond_imagenet.models import Preprocess, ShiftedCrop
from beyond_imagenet.views import View, parse_view, view_image_size, view_preprocess

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


@pytest.mark.parametrize("view", ["standard", "scale=1", "shift=0", "resolution=224"])
def test_identity_views_equal_the_standard_transform(view):
    assert view_preprocess(SUPERVISED, view) == SUPERVISED


def test_shift_window_by_hand():
    crop = ShiftedCrop(resize=256, crop=224, shift=30, interpolation="bilinear")
    # 500x375 landscape: side = 224*375/256 = 328.125, centred at x 85.94, moved right by 30
    assert crop.window(500, 375) == (round(85.9375 + 30), round(23.4375), round(85.9375 + 30 + 328.125),
                                     round(23.4375 + 328.125))
    # portrait: the shift goes along y
    left, top, right, bottom = crop.window(375, 500)
    assert (left, top) == (round(23.4375), round(85.9375 + 30))


def test_shifted_transform_moves_content():
    image = Image.new("RGB", (400, 300), "black")
    image.paste((255, 255, 255), (200, 0, 400, 300))  # right half white
    plain = Preprocess(256, 224, "bilinear", (0, 0, 0), (1, 1, 1))
    shifted = view_preprocess(plain, "shift=60")
    assert shifted.to_transform()(image).mean() > plain.to_transform()(image).mean()  # window moved right, into white


def test_shift_zero_is_pixel_identical_to_standard():
    torch.manual_seed(0)
    image = Image.fromarray((torch.rand(90, 120, 3) * 255).to(torch.uint8).numpy())
    assert torch.equal(view_preprocess(SUPERVISED, "shift=0").to_transform()(image), SUPERVISED.to_transform()(image))


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
