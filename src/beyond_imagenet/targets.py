"""Which files a run must produce, derived from the enabled properties (the rules only wire them)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import ConfigError, dataset_keys, dataset_specs, demo_root, enabled_properties, model_specs
from .views import STANDARD_VIEW

OUTPUTS = "results/outputs/{model}/{dataset}/{view}.h5"
HEAD = "results/heads/{model}.h5"
METRICS = "results/metrics/{property}/{model}.csv"
TABLE = "results/tables/{property}.{ext}"
FIGURE = "results/figures/{property}.{ext}"
DEMO_MANIFEST = "{root}/manifest.json"
DEMO_WEIGHTS = "{root}/models/{model}.pt"


def property_views(config: dict[str, Any], prop: str) -> list[str]:
    """The views of its datasets a property reads (invariance: its scale/shift/resolution values)."""
    from .properties.registry import property_def

    return property_def(prop).views(config["properties"][prop])


def outputs_path(model: str, dataset: str, view: str = STANDARD_VIEW) -> str:
    """Cache file of one (model, dataset, view)."""
    return OUTPUTS.format(model=model, dataset=dataset, view=view)


def property_inputs(config: dict[str, Any], prop: str, model: str) -> list[str]:
    """Cache files one property reads for one model (every part of a split dataset, every view)."""
    specs = dataset_specs(config)
    return [outputs_path(model, key, view)
            for dataset in enabled_properties(config)[prop]
            for key in dataset_keys(specs[dataset])
            for view in property_views(config, prop)]


def final_targets(config: dict[str, Any]) -> list[str]:
    """Every table and figure of every enabled property (which pulls in exactly the caches they need)."""
    outputs = []
    for prop in enabled_properties(config):
        outputs += [TABLE.format(property=prop, ext=ext) for ext in ("csv", "md")]
        outputs += [FIGURE.format(property=prop, ext=ext) for ext in ("pdf", "png")]
    return outputs


def demo_manifest(config: dict[str, Any]) -> list[str]:
    """The demo world's manifest, if this config generates one (an input of every extraction)."""
    root = demo_root(config)
    return [DEMO_MANIFEST.format(root=root)] if root is not None else []


def weights_input(config: dict[str, Any], model: str) -> list[str]:
    """A model's local weight file as a rule input (so a new file reruns its caches); hub weights: none."""
    path = model_specs(config)[model].local_weights
    if path is None:
        return []
    root = demo_root(config)
    if root is not None and root in path.parents:
        expected = Path(DEMO_WEIGHTS.format(root=root, model=model))
        if path != expected:
            raise ConfigError(f"config key 'models.{model}.weights': demo weights must be {str(expected)!r}, "
                              f"got {str(path)!r}")
        return [str(path)]
    # A missing non-demo file is reported by the start-up check, with how to fix it.
    return [str(path)] if path.exists() else []


def head_input(config: dict[str, Any], model: str) -> list[str]:
    """The zero-shot head a CLIP model's extraction needs."""
    return [HEAD.format(model=model)] if model_specs(config)[model].is_clip else []


def setup_script_logging(log_path: str | Path) -> None:
    """Send the package's logging to a rule's log file (and stderr), the way every script starts."""
    handlers: list[logging.Handler] = [logging.FileHandler(log_path), logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_logged(log_path: str | Path, job: Callable[[], None]) -> None:
    """Run a script's job with logging to its log file; a failure is logged, then re-raised."""
    setup_script_logging(log_path)
    try:
        job()
    except Exception:
        logging.getLogger("beyond_imagenet").exception("job failed")
        raise
