"""Table 1 facts counted from each model's architecture: parameters and the FLOPs of one forward pass.

The architecture is built on PyTorch's meta device (shapes only, no weights, no memory), through the same
source table that builds it for extraction. FLOPs come from torch's FlopCounterMode (one multiply-add = 2
FLOPs, matrix products and convolutions; normalisation and activations are not counted); GMACs = GFLOPs / 2,
the unit timm and many papers print as "GFLOPs".
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from ..catalog.model_sources import model_source
from ..config.specs import ModelSpec
from .build import library_preprocess

log = logging.getLogger(__name__)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (every element of every parameter tensor)."""
    return sum(p.numel() for p in module.parameters())


def count_flops(module: nn.Module, inputs: torch.Tensor) -> int:
    """FLOPs of one forward pass on `inputs`, as torch's flop counter counts them."""
    # with autograd on: nn.MultiheadAttention's inference fast path (one fused op the counter does not see)
    # is taken only under no_grad, and would hide the attention projections of open_clip's ViTs
    # and with the math attention kernel: the fused CPU kernels are not in the counter's table
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        module(inputs)
    return int(counter.get_total_flops())


def describe_model(spec: ModelSpec) -> dict[str, Any]:
    """Architecture, parameters (all, image tower) and forward FLOPs of one image at the model's input size."""
    source = model_source(spec.source)
    build = source.resolve("build_untrained")
    try:
        with torch.device("meta"):
            model, device = build(spec), "meta"
    except NotImplementedError:  # open_clip moves its model with .to(), which a meta model refuses
        model, device = build(spec), "cpu"
    tower = model.get_submodule(source.image_tower) if source.image_tower else model
    size = library_preprocess(spec, model).crop
    flops = count_flops(tower.eval(), torch.zeros(1, 3, size, size, device=device))
    record = {"model": spec.id, "source": spec.source, "name": spec.name, "pretrained": spec.pretrained,
              "architecture": type(tower).__name__, "input_size": size, "parameters": count_parameters(model),
              "image_parameters": count_parameters(tower), "gflops": flops / 1e9, "gmacs": flops / 2e9,
              "counted_on": "torch.utils.flop_counter.FlopCounterMode, one image, math attention kernel"}
    log.info("%s: %.1f M parameters (%.1f M in the image tower), %.2f GFLOPs at %d px", spec.id,
             record["parameters"] / 1e6, record["image_parameters"] / 1e6, record["gflops"], size)
    return record


