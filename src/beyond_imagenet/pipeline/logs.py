"""Logging of a job script: the package's log lines to the rule's log file, a failure logged and re-raised."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path


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
