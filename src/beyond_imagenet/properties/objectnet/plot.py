"""ObjectNet figure: top-1 bars, models of a pair side by side."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ...config.specs import ModelSpec
from ..accuracy.plot import plot_accuracy


def plot(metrics: pd.DataFrame, models: Mapping[str, ModelSpec], out_base: Path, settings: dict) -> list[Path]:
    """Figure entry point of the ObjectNet property: top-1 (%) per dataset."""
    return plot_accuracy(metrics, models, out_base, ylabel="ObjectNet top-1 (%), 113 classes")
