"""Tests for the procedural demo-world renderer."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from beyond_imagenet.demo.render import (
    SHAPES,
    STYLES,
    TEXTURES,
    ClassLook,
    Factors,
    assign_looks,
    class_look,
    imagenet_x_factors,
    render,
    sample_factors,
)

DEMO_INDICES = [1, 9, 31, 88, 130, 207, 279, 291, 340, 388, 409, 417, 430, 508, 717, 954]
BG = np.array(Factors().background_color, dtype=np.float32)


@pytest.fixture(scope="module")
def looks() -> dict[int, ClassLook]:
    """Looks for a 16-class demo set."""
    return assign_looks(DEMO_INDICES)


def _arr(img) -> np.ndarray:
    """Image as a float array."""
    return np.asarray(img, dtype=np.float32)


def _mask(img) -> np.ndarray:
    """Object footprint on the default plain background: pixels far from the background colour."""
    return np.abs(_arr(img) - BG).sum(axis=2) > 60


def _hist(img, mask: np.ndarray) -> np.ndarray:
    """Normalised coarse colour histogram (4 bins per channel) of the pixels inside mask."""
    px = (np.asarray(img)[mask] // 64).astype(int)
    h = np.bincount(px[:, 0] * 16 + px[:, 1] * 4 + px[:, 2], minlength=64).astype(float)
    return h / h.sum()


def test_module_constants() -> None:
    assert len(SHAPES) >= 12 and len(set(SHAPES)) == len(SHAPES)
    assert len(TEXTURES) >= 8 and len(set(TEXTURES)) == len(TEXTURES)
    assert STYLES == ("photo", "sketch", "rendition")


def test_class_look_deterministic_and_valid() -> None:
    assert class_look(207) == class_look(207)
    look = class_look(207)
    assert look.index == 207 and look.shape in SHAPES and look.texture in TEXTURES
    assert class_look(1) != class_look(2)
    with pytest.raises(ValueError):
        class_look(1000)


def test_render_deterministic(looks: dict[int, ClassLook]) -> None:
    a, b = looks[1], looks[9]
    f = Factors(rotation_deg=17, background="clutter", n_objects=3, occlusion=0.2)
    assert render(a, b, f, seed=3).tobytes() == render(a, b, f, seed=3).tobytes()
    assert render(a, b, f, seed=3).tobytes() != render(a, b, f, seed=4).tobytes()
    clutter = Factors(background="clutter")
    assert render(a, b, clutter, seed=0).tobytes() != render(a, b, clutter, seed=1).tobytes()


@pytest.mark.parametrize("size", [64, 224])
def test_size_and_mode(looks: dict[int, ClassLook], size: int) -> None:
    img = render(looks[1], looks[9], Factors(), size=size)
    assert img.mode == "RGB" and img.size == (size, size)


def test_shape_and_texture_are_separable(looks: dict[int, ClassLook]) -> None:
    a, b = looks[1], looks[9]
    ab, aa, bb = render(a, b, Factors()), render(a, a, Factors()), render(b, b, Factors())
    m_ab, m_aa, m_bb = _mask(ab), _mask(aa), _mask(bb)
    iou = (m_ab & m_aa).sum() / (m_ab | m_aa).sum()
    assert iou > 0.9  # same shape -> same footprint, whatever the texture
    assert (m_ab & m_bb).sum() / (m_ab | m_bb).sum() < iou  # a different shape has a different footprint
    inside = m_ab & m_aa
    assert np.abs(_arr(ab) - _arr(aa))[inside].mean() > 20  # but the fill differs
    h_ab, h_aa, h_bb = _hist(ab, m_ab), _hist(aa, m_aa), _hist(bb, m_bb)
    assert np.abs(h_ab - h_bb).sum() < np.abs(h_ab - h_aa).sum()  # texture statistics follow texture_look


@pytest.mark.parametrize("index", [31, 207])  # 207 is a square: only its (waves) texture reveals the turn
def test_texture_rotates_with_object(looks: dict[int, ClassLook], index: int) -> None:
    a = looks[index]
    upright, turned = _arr(render(a, a, Factors())), _arr(render(a, a, Factors(rotation_deg=90)))
    # Rotating the object 90 deg counter-clockwise must equal rotating the whole picture (shape and texture).
    assert np.abs(np.rot90(upright) - turned).mean() < 1
    assert np.abs(upright - turned).mean() > 3 * np.abs(np.rot90(upright) - turned).mean()


def test_assign_looks_distinct(looks: dict[int, ClassLook]) -> None:
    assert sorted(looks) == sorted(DEMO_INDICES)
    assert len({lk.shape for lk in looks.values()}) == 16
    assert len({(lk.texture, lk.colors) for lk in looks.values()}) == 16
    assert len({lk.colors for lk in looks.values()}) == 16
    few = assign_looks(DEMO_INDICES[: len(TEXTURES)])
    assert len({lk.texture for lk in few.values()}) == len(TEXTURES)  # textures unique while they last
    assert assign_looks(list(reversed(DEMO_INDICES))) == looks
    assert all(lk.index == i for i, lk in looks.items())


def test_assign_looks_too_many() -> None:
    n = len(SHAPES) + 1
    with pytest.raises(ValueError, match=str(n)):
        assign_looks(list(range(n)))


FACTOR_CHANGES = {
    "rotation": {"rotation_deg": 40.0},
    "scale": {"scale": 0.35},
    "offset": {"offset": (0.2, -0.1)},
    "brightness": {"brightness": 0.5},
    "hue_shift": {"hue_shift": 0.5},
    "gradient": {"background": "gradient"},
    "clutter": {"background": "clutter"},
    "background_color": {"background_color": (90, 120, 160)},
    "occlusion": {"occlusion": 0.4},
    "n_objects": {"n_objects": 4},
    "sketch": {"style": "sketch"},
    "rendition": {"style": "rendition"},
}


@pytest.mark.parametrize("name", sorted(FACTOR_CHANGES))
def test_each_factor_changes_image(looks: dict[int, ClassLook], name: str) -> None:
    a, b = looks[88], looks[130]
    base = _arr(render(a, b, Factors()))
    changed = _arr(render(a, b, Factors(**FACTOR_CHANGES[name])))
    assert np.abs(base - changed).mean() > 2.0  # visibly different, not just a rounding change


def test_styles_look_as_described(looks: dict[int, ClassLook]) -> None:
    a = looks[88]
    sketch = _arr(render(a, a, Factors(style="sketch")))
    assert (sketch[0, 0] == 255).all()  # white paper
    assert np.abs(sketch - sketch.mean(axis=2, keepdims=True)).max() < 1  # grey-scale strokes only
    rendition = np.asarray(render(a, a, Factors(style="rendition")))
    fill = np.array(a.colors[0])
    assert (np.abs(rendition.astype(int) - fill).sum(axis=2) < 30).sum() > 100  # flat first texture colour


def test_occlusion_draws_grey_bar(looks: dict[int, ClassLook]) -> None:
    img = np.asarray(render(looks[291], looks[291], Factors(occlusion=0.5)))
    grey = (np.abs(img.astype(int) - 128).max(axis=2) <= 2).sum()
    assert grey > 0.5 * 0.5 * (0.6 * 64) ** 2 * 0.5  # a good share of the occluding bar is visible


def test_invalid_factors_rejected() -> None:
    for bad in ({"style": "oil"}, {"background": "sky"}, {"scale": 1.5}, {"n_objects": 7}, {"occlusion": 0.9}):
        with pytest.raises(ValueError):
            Factors(**bad)


def test_sample_factors() -> None:
    assert sample_factors(np.random.default_rng(0), difficulty=0.0) == Factors()
    rng = np.random.default_rng(0)
    hard = [sample_factors(rng, difficulty=1.0) for _ in range(200)]
    assert len({f.background for f in hard}) == 3
    assert max(abs(f.rotation_deg) for f in hard) > 90 and any(f.n_objects > 1 for f in hard)
    a = sample_factors(np.random.default_rng(5), difficulty=0.7)
    assert a == sample_factors(np.random.default_rng(5), difficulty=0.7)


def test_imagenet_x_default_all_false() -> None:
    flags = imagenet_x_factors(Factors())
    assert set(flags) == {
        "pose", "background", "pattern", "color", "smaller", "shape", "partial_view", "subcategory",
        "texture", "larger", "darker", "object_blocking", "person_blocking", "style", "brighter",
        "multiple_objects",
    }
    assert not any(flags.values())


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"rotation_deg": 45.0}, "pose"),
        ({"rotation_deg": -120.0}, "pose"),
        ({"background": "clutter"}, "background"),
        ({"background": "gradient"}, "background"),
        ({"hue_shift": 0.3}, "color"),
        ({"scale": 0.3}, "smaller"),
        ({"scale": 0.9}, "larger"),
        ({"offset": (0.3, 0.0)}, "partial_view"),
        ({"brightness": 0.5}, "darker"),
        ({"brightness": 1.5}, "brighter"),
        ({"occlusion": 0.3}, "object_blocking"),
        ({"n_objects": 3}, "multiple_objects"),
        ({"style": "sketch"}, "style"),
        ({"style": "rendition"}, "style"),
    ],
)
def test_imagenet_x_flags(change: dict, flag: str) -> None:
    flags = imagenet_x_factors(Factors(**change))
    assert {k for k, v in flags.items() if v} == {flag}


def test_imagenet_x_circular_and_canonical() -> None:
    assert not imagenet_x_factors(Factors(hue_shift=0.97))["color"]  # 0.97 turns is close to 0
    assert not imagenet_x_factors(Factors(rotation_deg=350.0 - 360.0))["pose"]
    canon = dataclasses.replace(Factors(), rotation_deg=90.0)
    assert not imagenet_x_factors(Factors(rotation_deg=100.0), canon)["pose"]


def test_render_speed(looks: dict[int, ClassLook]) -> None:
    rng = np.random.default_rng(0)
    factors = [sample_factors(rng, difficulty=1.0) for _ in range(50)]
    pairs = [(looks[DEMO_INDICES[i % 16]], looks[DEMO_INDICES[(i * 7) % 16]]) for i in range(50)]
    start = time.perf_counter()
    for (s, t), f in zip(pairs, factors):
        render(s, t, f, size=64, seed=1)
    assert (time.perf_counter() - start) / 50 < 0.030
