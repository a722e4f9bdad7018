"""Views of a dataset: the evaluation transforms of the invariance study (one cache file per view).

View names are the paper's keys: `standard`, `scale=<s>`, `shift=<d>`, `resolution=<r>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

STANDARD_VIEW = "standard"
VIEW_PATTERN = re.compile(r"^(scale|shift|resolution)=(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class View:
    """A parsed view: kind is standard, scale, shift or resolution."""

    kind: str
    value: float = 0.0

    @property
    def name(self) -> str:
        """The view's name as used in paths and metric keys."""
        if self.kind == STANDARD_VIEW:
            return STANDARD_VIEW
        return f"{self.kind}={format_value(self.value)}"


def format_value(value: float) -> str:
    """1.0 -> '1', 1.25 -> '1.25', 30.0 -> '30' (the paper's key spelling)."""
    return f"{value:g}"


def parse_view(name: str) -> View:
    """Parse a view name, failing with the accepted forms."""
    if name == STANDARD_VIEW:
        return View(STANDARD_VIEW)
    match = VIEW_PATTERN.match(name)
    if not match:
        raise ValueError(f"unknown view {name!r}; use 'standard', 'scale=<s>', 'shift=<pixels>' or 'resolution=<pixels>'")
    view = View(match.group(1), float(match.group(2)))
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
    """The Preprocess of a view, derived from the model's standard one (S = resize, C = crop).

    scale=s: Resize(int(s*S)) -> CenterCrop(C) (zooms in). resolution=r: Resize(int(r*S/C)) ->
    CenterCrop(r), the model run at r. shift=d: the standard window moved d original pixels along
    the longer side, resized to C x C. All three equal the standard transform at s=1, r=C, d=0.
    """
    view = parse_view(name)
    if view.kind == "scale":
        return replace(preprocess, resize=int(view.value * preprocess.resize))
    if view.kind == "resolution":
        side = int(view.value)
        return replace(preprocess, resize=int(side * preprocess.resize / preprocess.crop), crop=side)
    if view.kind == "shift":
        return replace(preprocess, shift=int(view.value))
    return preprocess


def view_image_size(name: str) -> int | None:
    """The input size a model must be built for in this view (resolution views only)."""
    view = parse_view(name)
    return int(view.value) if view.kind == "resolution" else None


INVARIANCE_SETTINGS = (("scale", "scales"), ("shift", "shifts"), ("resolution", "resolutions"))


def invariance_views(settings: dict) -> list[str]:
    """scale=/shift=/resolution= views from the invariance property's value lists, in config order."""
    return [View(kind, float(value)).name for kind, key in INVARIANCE_SETTINGS for value in settings.get(key, [])]
