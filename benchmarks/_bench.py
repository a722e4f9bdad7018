"""What the benchmark scripts share: wall-clock timing and quiet workflow logging."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable


def timed(run: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def benchmark_logging() -> None:
    """Benchmark lines on stdout; the workflow's progress lines and timm's weight-loading notes silenced."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("beyond_imagenet").setLevel(logging.WARNING)
    logging.getLogger("timm").setLevel(logging.WARNING)
