"""The metrics file contract: written with a record of its rows and digest, refused when cut, altered or not finite."""

import json
import logging
import math

import pytest

from beyond_imagenet.store.digests import file_digest
from beyond_imagenet.store.rows import (
    MetricsFileError,
    digest_path,
    metric_frame,
    metric_row,
    read_metrics,
    write_metrics,
)

ROWS = [("m", "accuracy", "val", "val", "top1_pct", 66.875, 10), ("m", "accuracy", "val", "val", "top5_pct", 90.0, 10),
        ("m", "accuracy", "a", "a", "top1_pct", 12.5, 8), ("m", "accuracy", "a", "a", "top5_pct", 50.0, 8)]


def _written(tmp_path, rows=ROWS, **options):
    path = tmp_path / "m.csv"
    write_metrics(metric_frame(metric_row(*row) for row in rows), path, **options)
    return path


def _reseal(path):
    """What a careless edit does when it also fixes the record: only the row checks can catch it."""
    record = json.loads(digest_path(path).read_text())
    record["digest"] = file_digest(path)
    record["rows"] = len(path.read_text().splitlines()) - 1
    digest_path(path).write_text(json.dumps(record))


@pytest.mark.faults
def test_a_written_file_reads_back_and_says_how_its_intervals_were_made(tmp_path):
    path = _written(tmp_path, intervals={"method": "percentile bootstrap", "draws": 1000, "seed": 0})
    assert read_metrics([path])["value"].tolist() == [66.875, 90.0, 12.5, 50.0]
    record = json.loads(digest_path(path).read_text())
    assert record["rows"] == 4 and record["intervals"]["draws"] == 1000


@pytest.mark.faults
@pytest.mark.parametrize("cut", ["mid_row", "row_boundary", "empty"])
def test_a_cut_file_is_refused(tmp_path, cut):
    path = _written(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text({"mid_row": "".join(lines)[:-8], "row_boundary": "".join(lines[:2]), "empty": ""}[cut])
    with pytest.raises(MetricsFileError, match=r"m\.csv: does not match the digest"):
        read_metrics([path])


@pytest.mark.faults
def test_a_file_cut_at_a_row_boundary_with_its_record_fixed_is_refused_by_its_row_count(tmp_path):
    path = _written(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]))  # 1 of 4 rows left
    record = json.loads(digest_path(path).read_text())
    record["digest"] = file_digest(path)
    digest_path(path).write_text(json.dumps(record))
    with pytest.raises(MetricsFileError, match=r"m\.csv: 1 rows, its record says 4"):
        read_metrics([path])


@pytest.mark.faults
@pytest.mark.parametrize(("edit", "line"), [("nan", 3), ("inf", 3), ("", 3)])
def test_a_non_finite_or_missing_value_is_refused_with_file_and_line(tmp_path, edit, line):
    path = _written(tmp_path)
    path.write_text(path.read_text().replace(",90.0,", f",{edit},"))
    with pytest.raises(MetricsFileError, match=r"does not match the digest"):
        read_metrics([path])
    _reseal(path)
    with pytest.raises(MetricsFileError, match=rf"m\.csv:{line}: a row lacks a field or holds a non-finite number"):
        read_metrics([path])


@pytest.mark.faults
def test_a_value_changed_after_the_fact_is_refused(tmp_path):
    path = _written(tmp_path)
    path.write_text(path.read_text().replace("66.875", "76.875"))
    with pytest.raises(MetricsFileError, match=r"changed or cut after it was written"):
        read_metrics([path])


@pytest.mark.faults
def test_a_file_without_its_record_is_refused(tmp_path):
    path = _written(tmp_path)
    digest_path(path).unlink()
    with pytest.raises(MetricsFileError, match=r"m\.csv\.digest\.json is missing"):
        read_metrics([path])


@pytest.mark.faults
def test_an_undefined_value_is_left_out_by_name_and_an_infinite_one_refused(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        path = _written(tmp_path, ROWS + [("m", "shape_bias", "cue", "cue_conflict", "shape_bias", math.nan, 80)])
    assert "m cue/cue_conflict shape_bias is undefined on these images; left out" in caplog.text
    assert len(read_metrics([path])) == 4
    with pytest.raises(MetricsFileError, match="infinite value"):
        _written(tmp_path, ROWS + [("m", "accuracy", "b", "b", "top1_pct", math.inf, 8)])


def test_a_property_skipped_for_a_model_writes_an_empty_file_that_reads_back(tmp_path):
    import json

    from beyond_imagenet.store.rows import digest_path, metric_frame, read_metrics, write_metrics

    path = tmp_path / "accuracy" / "backbone.csv"
    write_metrics(metric_frame([]), path, skipped="no ImageNet head")
    assert json.loads(digest_path(path).read_text())["skipped"] == "no ImageNet head"
    assert read_metrics([path]).empty
