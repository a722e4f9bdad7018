"""Views of a dataset: the evaluation transforms of the invariance study (a cache group per view).

View names are the paper's keys: `standard`, `scale=<s>`, `shift=<d>`, `resolution=<r>`. They
follow the authors' code (Beyond-INet `utils/transforms.py` CropScale / CropShift, `main.py` for
resolution), whose numbers the paper's figure shows; with S = the model's resize and C its crop:

- scale=s: Resize(int(s*S)) -> CenterCrop(C), **bilinear** for every model (torchvision's default,
  which the authors keep also for the bicubic CLIP models and also at s = 1);
- shift=d: the C x C window Resize(S) + CenterCrop(C) would take, in original pixels, moved d
  pixels right (w > h) or down (otherwise, square images included), its edges truncated with
  int(), cropped (outside the image: black) and resized to C x C **bilinear**; shift=0 is that
  crop too, not the standard transform;
- resolution=r: Resize(int(r*S/C)) -> CenterCrop(r) with the model's own interpolation, the model
  built for r px.

`native-<view>` (property setting `protocol: native`) is the same geometry with the model's own
interpolation everywhere; it is labelled in caches and tables and never joined to the paper's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

STANDARD_VIEW = "standard"
# Bump when what a view name means changes (2: the authors' scale/shift transforms), so every cache
# made under the old meaning is rerun: it is part of the extraction's params.
VIEW_TRANSFORMS_VERSION = 2
PAPER, NATIVE = "paper", "native"  # invariance protocols
NATIVE_PREFIX = "native-"
PAPER_INTERPOLATION = "bilinear"  # torchvision's default, used by the authors' scale and shift views
VIEW_PATTERN = re.compile(r"^(native-)?(scale|shift|resolution)=(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class View:
    """A parsed view: kind is standard, scale, shift or resolution; protocol paper or native."""

    kind: str
    value: float = 0.0
    protocol: str = PAPER

    @property
    def name(self) -> str:
        """The view's name as used in cache groups and metric keys."""
        if self.kind == STANDARD_VIEW:
            return STANDARD_VIEW
        prefix = NATIVE_PREFIX if self.protocol == NATIVE else ""
        return f"{prefix}{self.kind}={format_value(self.value)}"


def format_value(value: float) -> str:
    """1.0 -> '1', 1.25 -> '1.25', 30.0 -> '30' (the paper's key spelling)."""
    return f"{value:g}"


def parse_view(name: str) -> View:
    """Parse a view name, failing with the accepted forms."""
    if name == STANDARD_VIEW:
        return View(STANDARD_VIEW)
    match = VIEW_PATTERN.match(name)
    if not match:
        raise ValueError(f"unknown view {name!r}; use 'standard', 'scale=<s>', 'shift=<pixels>' or "
                         "'resolution=<pixels>' (each optionally prefixed 'native-')")
    view = View(match.group(2), float(match.group(3)), NATIVE if match.group(1) else PAPER)
    if view.kind in ("shift", "resolution") and not view.value.is_integer():
        raise ValueError(f"view {name!r}: {view.kind} must be a whole number of pixels")
    if view.kind == "scale" and view.value <= 0:
        raise ValueError(f"view {name!r}: scale must be positive")
    return view


def check_view(name: str) -> str:
    """Return a valid view name, or fail naming the accepted forms."""
    parse_view(name)
    return name


def view_preprocess(preprocess, name: str):
    """The Preprocess of a view, derived from the model's standard one (module docstring: the formulas)."""
    view = parse_view(name)
    interpolation = PAPER_INTERPOLATION if view.protocol == PAPER else preprocess.interpolation
    if view.kind == "scale":
        return replace(preprocess, resize=int(view.value * preprocess.resize), interpolation=interpolation)
    if view.kind == "resolution":
        side = int(view.value)
        return replace(preprocess, resize=int(side * preprocess.resize / preprocess.crop), crop=side)
    if view.kind == "shift":
        return replace(preprocess, shift=int(view.value), interpolation=interpolation)
    return preprocess


def view_image_size(name: str) -> int | None:
    """The input size a model must be built for in this view (resolution views only)."""
    view = parse_view(name)
    return int(view.value) if view.kind == "resolution" else None


INVARIANCE_SETTINGS = (("scale", "scales"), ("shift", "shifts"), ("resolution", "resolutions"))


def invariance_views(settings: dict) -> list[str]:
    """scale=/shift=/resolution= views from the invariance property's value lists, in config order."""
    protocol = settings.get("protocol", PAPER)
    return [View(kind, float(value), protocol).name for kind, key in INVARIANCE_SETTINGS
            for value in settings.get(key, [])]
