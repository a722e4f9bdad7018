"""Probabilities from logits, shared by every property that needs them (defined with the stored per-image scores,
so a score read from a cache and one computed here are the same function)."""

from __future__ import annotations

from ..store.scores import softmax, true_class_probability

__all__ = ["softmax", "true_class_probability"]
