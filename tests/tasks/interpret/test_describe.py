"""describe() and ``terrasight describe`` on a pair with planted changes, and the saved outputs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.tasks.interpret.describe import describe, facts_of
from terrasight.tasks.interpret.facts import FactsOptions
from terrasight.tasks.interpret.facts_data import read_facts

PLAIN = FactsOptions(classify=False)


def test_describe_a_pair_names_where_it_changed(planted_scene):
    before, after = planted_scene
    d = describe(before, after, method="cva", facts_options=PLAIN)
    assert d.text == "Some areas have changed in the upper left."
    assert d.facts is not None and d.facts.object_count == 3
    assert d.to_dict()["facts"]["objects"][0]["location"] == "north-west"


def test_saved_result_has_facts_and_the_report_shows_land_cover(planted_result, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "with-facts"
    paths = planted_result.save(out, facts=FactsOptions(max_classified=2))
    facts = read_facts(paths["facts"])
    assert facts.model == "terrasight-vl" and facts.object_count == 3
    html = paths["report"].read_text()
    assert "In words" in html
    first = facts.objects[0]
    if first.classified:  # a confident class is shown with its confidences
        assert f"{first.before_class} → {first.after_class}" in html
    assert "2 largest of 3" in html  # what the classes leave out is said


def test_describe_a_saved_folder_reads_its_facts(planted_result, tmp_path):
    out = tmp_path / "saved"
    planted_result.save(out, report=False, facts=PLAIN)
    facts = read_facts(out / "facts.json")
    assert facts_of(out) == facts
    assert describe(out).text == "Some areas have changed in the upper left."


def test_cli_describe_prints_the_caption_and_json(planted_result, tmp_path):
    out = tmp_path / "saved"
    planted_result.save(out, report=False, facts=PLAIN)
    runner = CliRunner()
    res = runner.invoke(main, ["describe", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "Some areas have changed in the upper left."
    res = runner.invoke(main, ["describe", str(out), "--json"])
    data = json.loads(res.stdout)
    assert data["text"] == "Some areas have changed in the upper left."
    assert data["facts"]["object_count"] == 3


def test_cli_describe_a_pair_keeps_the_outputs(planted_scene, tmp_path):
    before, after = planted_scene
    out = tmp_path / "job"
    res = CliRunner().invoke(
        main, ["describe", str(before), str(after), "-m", "cva", "-o", str(out), "--classify", "0"]
    )
    assert res.exit_code == 0, res.output
    assert "upper left" in res.stdout
    assert (out / "facts.json").is_file() and (out / "report.html").is_file()
