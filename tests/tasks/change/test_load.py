"""A saved change result opens again as the same result, without running anything."""

from __future__ import annotations

import json

import pytest

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.load import is_result_folder, load_result
from terrasight.tasks.change.pipeline.detect import detect_changes


def test_saved_result_loads_with_the_same_figures_and_objects(planted_pair, tmp_path):
    b, a, _ = planted_pair
    result = detect_changes(b, a, method="cva")
    out = tmp_path / "saved"
    result.save(out, report=False, facts=False)
    assert is_result_folder(out) and (out / "change_objects.jsonl").is_file()
    again = load_result(out)
    assert list(again.objects) == list(result.objects)
    for name in ("method", "crs", "transform", "width", "height", "valid_pixels", "region"):
        assert getattr(again, name) == getattr(result, name), name
    assert again.changed_area == result.changed_area
    assert (again.mask() == result.mask()).all()


def test_without_the_object_store_the_summary_and_geojson_give_the_objects(planted_pair, tmp_path):
    b, a, _ = planted_pair
    result = detect_changes(b, a, method="cva")
    out = tmp_path / "saved"
    result.save(out, report=False, facts=False)
    (out / "change_objects.jsonl").unlink()
    again = load_result(out)
    assert [o.id for o in again.objects] == [o.id for o in result.objects]
    assert again.objects[0].pixel_bbox == result.objects[0].pixel_bbox
    assert again.objects[0].geometry["type"] in ("Polygon", "MultiPolygon")


def test_a_folder_that_is_not_a_result_is_named_with_what_is_missing(tmp_path):
    with pytest.raises(InvalidOptionError, match="missing summary.json"):
        load_result(tmp_path)
    assert not is_result_folder(tmp_path / "nope")


def test_a_damaged_summary_gets_a_clear_error(planted_pair, tmp_path):
    b, a, _ = planted_pair
    out = tmp_path / "saved"
    detect_changes(b, a, method="cva").save(out, report=False, facts=False)
    (out / "summary.json").write_text("{not json")
    with pytest.raises(InvalidOptionError, match="cannot be read as JSON"):
        load_result(out)
    (out / "summary.json").write_text(json.dumps({"method": "cva"}))
    with pytest.raises(InvalidOptionError, match="older version"):
        load_result(out)
