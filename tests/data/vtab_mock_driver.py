"""Run by test_vtab_export.py in the VTAB environment: export tasks from tfds' mock data (no download)."""

import json
import sys
from pathlib import Path

import tensorflow_datasets as tfds

from beyond_imagenet.data.vtab_export import SPLITS, VTAB_TASKS, VtabExportError, export_task

out, examples, tasks = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
records = {}
with tfds.testing.mock_data(num_examples=examples):  # every split yields `examples` random examples
    for name in tasks:
        records[name] = export_task(VTAB_TASKS[name], out / name, expected_counts=dict.fromkeys(SPLITS, examples))
    try:  # the real counts: a split that yields another number is refused and leaves nothing behind
        export_task(VTAB_TASKS[tasks[0]], out / "refused")
    except VtabExportError as error:
        records["refused"] = str(error)
print(json.dumps(records))
