"""The demo world's settings and the description of one generated image (shared by every set writer)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .render import ClassLook, Factors, render, sample_factors

# Eight classes of eight cue-conflict categories (so cue-conflict sets can reuse them): goldfinch,
# canoe, wine bottle and golden retriever are in both ImageNet-A's and ImageNet-R's 200 classes,
# airliner and African elephant only in A's, tabby cat and fire truck only in R's — so the A/R-like
# sets hold a subset of the classes, as the real ones do, and the 200-class restriction matters.
DEFAULT_CLASSES = (11, 472, 907, 207, 404, 386, 281, 555)


@dataclass(frozen=True)
class WorldSettings:
    """Everything the generator's output depends on (the config's `demo` section)."""

    root: str
    seed: int = 0
    classes: tuple[int, ...] = DEFAULT_CLASSES
    image_size: int = 64
    val_per_class: int = 12
    train_per_class: int = 48
    train_epochs: int = 6
    c_per_class: int = 2

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> WorldSettings:
        """Read the config's `demo` section (defaults for absent keys)."""
        data = dict(section)
        if "classes" in data:
            data["classes"] = tuple(data["classes"])
        return cls(**data)


@dataclass(frozen=True)
class ImageSpec:
    """One generated image: its label, how it is drawn, and the factors it was drawn under."""

    label: int
    factors: Factors
    seed: int
    texture_label: int | None = None  # None = the label's own texture

    def draw(self, looks: dict[int, ClassLook], size: int):
        """Render this image."""
        texture = looks[self.texture_label if self.texture_label is not None else self.label]
        return render(looks[self.label], texture, self.factors, size=size, seed=self.seed)


# The val and train sets mix easy and hard draws and a few sketches / renditions, so that most
# ImageNet-X factors (pose, size, colour, light, occlusion, style, ...) occur in the demo.
NATURAL_DIFFICULTY = (0.2, 1.0)


NATURAL_STYLE_RATE = 0.04  # each of sketch and rendition


def _draw_factors(rng: np.random.Generator, difficulty: float | tuple[float, float], style_rate: float) -> Factors:
    level = rng.uniform(*difficulty) if isinstance(difficulty, tuple) else difficulty
    factors = sample_factors(rng, difficulty=level)
    coin = rng.random()
    style = "sketch" if coin < style_rate else "rendition" if coin < 2 * style_rate else "photo"
    return replace(factors, style=style)


def sample_images(classes: tuple[int, ...], per_class: int, rng: np.random.Generator,
                  difficulty: float | tuple[float, float], style_rate: float = 0.0) -> list[ImageSpec]:
    """per_class images of every class, with random factors (difficulty fixed or drawn per image), shuffled."""
    specs = [ImageSpec(label, _draw_factors(rng, difficulty, style_rate), int(rng.integers(2**31)))
             for label in classes for _ in range(per_class)]
    order = rng.permutation(len(specs))
    return [specs[i] for i in order]
