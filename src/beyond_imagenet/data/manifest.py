"""The record a prepare job leaves last (stdlib only: the VTAB exporter runs in its own environment)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_manifest(path: Path, record: dict[str, Any]) -> None:
    """Write the record of a prepared dataset atomically: the rule's output appears only when all is verified."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)
