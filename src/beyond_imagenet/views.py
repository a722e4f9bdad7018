"""Views of a dataset: the evaluation transform a cache was made with (one cache file per view)."""

from __future__ import annotations

STANDARD_VIEW = "standard"
KNOWN_VIEWS = (STANDARD_VIEW,)


def check_view(view: str) -> str:
    """Return a known view name, or fail naming the known ones."""
    if view not in KNOWN_VIEWS:
        raise ValueError(f"unknown view {view!r}; known views: {list(KNOWN_VIEWS)}")
    return view
