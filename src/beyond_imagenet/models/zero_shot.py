"""CLIP zero-shot ImageNet head: per class, mean of normalised template embeddings, normalised again."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn

log = logging.getLogger(__name__)

Template = Callable[[str], str]


def template_set(name: str) -> tuple[Template, ...]:
    """The prompt templates open_clip ships: 'openai' (80, the paper) or 'simple' (7)."""
    from open_clip import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

    sets = {"openai": OPENAI_IMAGENET_TEMPLATES, "simple": SIMPLE_IMAGENET_TEMPLATES}
    if name not in sets:
        raise KeyError(f"unknown template set {name!r}; use one of {sorted(sets)}")
    return tuple(sets[name])


def text_hash(texts: Sequence[str]) -> str:
    """sha256 of a list of strings, recorded so a head can be matched to its class names and prompts."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def templates_as_text(templates: Sequence[Template]) -> list[str]:
    """Templates rendered with a '{}' placeholder, for hashing and recording."""
    return [template("{}") for template in templates]


@torch.inference_mode()
def build_head(
    model: nn.Module,
    tokenizer: Callable[[list[str]], torch.Tensor],
    classnames: Sequence[str],
    templates: Sequence[Template],
    device: torch.device | str = "cpu",
    classes_per_batch: int = 16,
) -> torch.Tensor:
    """(num_classes, embed_dim) head, rows L2-normalised (Radford et al. 2021 prompt ensembling)."""
    rows = []
    for start in range(0, len(classnames), classes_per_batch):
        names = classnames[start:start + classes_per_batch]
        prompts = [template(name) for name in names for template in templates]
        embeddings = model.encode_text(tokenizer(prompts).to(device))
        embeddings = nn.functional.normalize(embeddings.float(), dim=-1)
        per_class = embeddings.reshape(len(names), len(templates), -1).mean(dim=1)
        rows.append(nn.functional.normalize(per_class, dim=-1))
        log.info("zero-shot head: %d/%d classes", start + len(names), len(classnames))
    return torch.cat(rows).cpu()
