"""Saving with a second process writes the same files as saving in one."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM changes ORDER BY fid").fetchall()


def _report_without_times(path: Path) -> str:
    return re.sub(r"(run|report written) [^·<]*", "", path.read_text())


def test_two_processes_write_what_one_writes(planted_pair, tmp_path):
    before, after, _ = planted_pair
    result = detect_changes(before, after, method="cva", min_pixels=5, outdir=tmp_path / "job")
    facts = FactsOptions(classify=False)
    one = result.save(tmp_path / "one", facts=facts, workers=1)
    two = result.save(tmp_path / "two", facts=facts, workers=2)
    assert sorted(one) == sorted(two)
    for kind in ("geojson", "summary", "facts", "mask", "probability"):
        assert one[kind].read_bytes() == two[kind].read_bytes(), kind
    assert _rows(one["geopackage"]) == _rows(two["geopackage"]) != []
    assert _report_without_times(one["report"]) == _report_without_times(two["report"])


def test_facts_of_stored_objects_are_those_of_objects_in_memory(planted_pair, tmp_path):
    from dataclasses import replace

    from terrasight.tasks.interpret.facts import change_facts

    before, after, _ = planted_pair
    result = detect_changes(before, after, method="cva", min_pixels=2, outdir=tmp_path / "job")
    assert hasattr(result.objects, "split_records") and len(result.objects) >= 1
    in_memory = replace(result, objects=tuple(result.objects))
    facts = FactsOptions(classify=False)
    assert change_facts(result, facts) == change_facts(in_memory, facts)


def test_vectors_split_over_two_processes_without_facts_or_report(planted_pair, tmp_path):
    before, after, _ = planted_pair
    result = detect_changes(before, after, method="cva", min_pixels=5, outdir=tmp_path / "job")
    one = result.save(tmp_path / "one", facts=False, report=False, workers=1)
    two = result.save(tmp_path / "two", facts=False, report=False, workers=2)
    assert sorted(one) == sorted(two) and "report" not in two and "facts" not in two
    for kind in ("geojson", "summary"):
        assert one[kind].read_bytes() == two[kind].read_bytes(), kind
    assert _rows(one["geopackage"]) == _rows(two["geopackage"]) != []
