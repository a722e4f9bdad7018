"""Object-focus figure: top-1 per ImageNet-9 variant, models of a pair side by side."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ...config.specs import ModelSpec
from ..accuracy.plot import plot_accuracy


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the object-focus property: top-1 (%) on original, only-FG, mixed-same, mixed-rand."""
    return plot_accuracy(metrics, models, out_base, category="key", ylabel="IN-9 top-1 (%), 9 classes")
