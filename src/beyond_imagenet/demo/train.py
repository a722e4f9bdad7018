"""Train the tiny demo models on the demo world's train split, and save them as local checkpoints."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import torch
from torch import nn

from ..catalog.model_sources import model_source
from ..config.specs import ModelSpec
from ..data.formats import load_rgb
from ..models.build import library_preprocess
from ..models.preprocess import Preprocess

log = logging.getLogger(__name__)

BATCH_SIZE = 32
# Contrastive training with a learnable temperature diverges at the classifier's rate (seen:
# the ConvNeXt CLIP tower stayed at chance with 2e-3 and learnt with 5e-4).
LEARNING_RATE = {False: 2e-3, True: 5e-4}  # classifier / contrastive (zero-shot) training


def build_untrained(spec: ModelSpec) -> nn.Module:
    """The configured architecture with random weights (the source's own builder)."""
    return model_source(spec.source).resolve("build_untrained")(spec)


def load_train_split(world_root: Path, preprocess: Preprocess) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All training images as one tensor (the demo split is small), with labels and captions."""
    transform = preprocess.to_transform()
    with open(world_root / "train_captions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    images = torch.stack([transform(load_rgb(world_root / "train" / r["file_name"])) for r in rows])
    labels = torch.tensor([int(r["label"]) for r in rows])
    return images, labels, [r["caption"] for r in rows]


def _classifier_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, _captions) -> torch.Tensor:
    return nn.functional.cross_entropy(model(images), labels)


def _contrastive_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (Radford et al. 2021) with every same-class pair a positive (few classes per batch)."""
    image_emb = nn.functional.normalize(model.encode_image(images), dim=-1)
    text_emb = nn.functional.normalize(model.encode_text(tokens), dim=-1)
    logits = model.logit_scale.exp() * image_emb @ text_emb.T
    positives = (labels[:, None] == labels[None, :]).float()
    targets = positives / positives.sum(dim=1, keepdim=True)
    return 0.5 * (nn.functional.cross_entropy(logits, targets) + nn.functional.cross_entropy(logits.T, targets))


def train_demo_model(spec: ModelSpec, world_root: Path, out_path: Path, epochs: int, seed: int = 0) -> None:
    """Train one tiny model deterministically and save its state dict where the config's `weights` points."""
    torch.manual_seed(seed)
    model = build_untrained(spec)
    images, labels, captions = load_train_split(world_root, library_preprocess(spec, model))
    contrastive = model_source(spec.source).zero_shot  # trained with captions, whatever head it is evaluated with
    if contrastive:
        texts = model_source(spec.source).resolve("tokenizer")(spec)(captions)
        loss_fn = _contrastive_loss
    else:
        texts = torch.zeros(len(labels))
        loss_fn = _classifier_loss
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE[contrastive], weight_decay=0.05)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        total = 0.0
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss = loss_fn(model, images[batch], labels[batch], texts[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss) * len(batch)
        log.info("%s epoch %d/%d: loss %.3f", spec.id, epoch + 1, epochs, total / len(order))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    torch.save(model.state_dict(), partial)
    partial.replace(out_path)
