"""The zero-shot head equals open_clip's own builder."""

import open_clip
import torch

from beyond_imagenet.catalog.labels import imagenet_classnames
from beyond_imagenet.models.build import load_backbone
from beyond_imagenet.models.zero_shot import build_head, template_set


def test_head_equals_open_clip_builder(clip_spec):
    model, _ = load_backbone(clip_spec)
    tokenizer = open_clip.get_tokenizer(clip_spec.name)
    classnames = imagenet_classnames()[:37]  # 37: not a multiple of either batch size
    templates = template_set("openai")[:5]
    ours = build_head(model, tokenizer, classnames, templates, classes_per_batch=16)
    theirs = open_clip.build_zero_shot_classifier(model, tokenizer, classnames, templates, num_classes_per_batch=10)
    assert ours.shape == (37, 64)
    assert torch.allclose(ours, theirs.T, atol=1e-5)
    assert torch.allclose(ours.norm(dim=-1), torch.ones(37))


def test_template_sets():
    assert len(template_set("openai")) == 80 and len(template_set("simple")) == 7
    assert template_set("openai")[0]("cat") == "a bad photo of a cat."
