"""Semantic change on a real pair with known truth: a Dubai crop whose buildings were
partly covered with nearby ground texture in the before date (API, CLI, facts, answers)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

import terrasight
from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.tasks.interpret.ask import ask, ask_result
from terrasight.training.semantic_pairs import SemanticPair


@pytest.fixture(scope="module")
def pair_files(dubai_semantic_pair) -> tuple[Path, Path, SemanticPair]:
    return dubai_semantic_pair


@pytest.fixture(scope="module")
def classified(pair_files, tmp_path_factory):
    before, after, pair = pair_files
    out = tmp_path_factory.mktemp("classified") / "out"
    result = terrasight.detect_changes(before, after, outdir=out, classes=True)
    return result, pair, out


def _new_buildings(objects) -> list:
    return [o for o in objects if o.to_class == "building" and o.from_class != "building"]


def test_change_classes_raster_holds_both_dates_on_changed_pixels_only(classified):
    result, pair, out = classified
    with rasterio.open(out / "change_classes.tif") as ds:
        assert ds.count == 2 and ds.dtypes == ("uint8", "uint8") and ds.nodata == 255
        tags = ds.tags()
        codes = ds.read()
    assert tags["class_0"] == "building" and tags["class_4"] == "bare"
    changed = result.mask() == 1
    assert (codes[:, ~changed] == 255).all()
    assert (codes[:, changed] != 255).all()
    truly = changed & pair.changed
    assert (codes[1][truly] == 0).mean() > 0.6  # building after, where it was built
    assert (codes[0][truly] != 0).mean() > 0.6  # not a building before


def test_new_buildings_are_counted_one_by_one(classified, pair_files, tmp_path):
    result, pair, _ = classified
    new = _new_buildings(result.objects)
    assert pair.buildings >= 5
    # the default neck (2, chosen on the validation tile, where new houses touch) also
    # splits the wings of these detached villas: never fewer, at most half as many more
    assert pair.buildings <= len(new) <= 1.5 * pair.buildings
    before, after, _ = pair_files
    apart = terrasight.detect_changes(
        before, after, outdir=tmp_path / "apart", classes=True, semantic_options={"neck": 0}
    )
    assert abs(len(_new_buildings(apart.objects)) - pair.buildings) <= 0.2 * pair.buildings
    ids = [o.id for o in result.objects]
    assert ids == list(range(1, len(ids) + 1))
    assert all(o.parent_id is not None and 0 < o.from_share <= 1 for o in result.objects)
    assert sum(o.pixels for o in result.objects) == result.changed_pixels


def test_saved_vectors_carry_the_split_objects(classified, tmp_path):
    result, _, _ = classified
    paths = result.save(tmp_path / "saved", report=False, facts=False)
    features = json.loads(paths["geojson"].read_text())["features"]
    assert [f["id"] for f in features] == [o.id for o in result.objects]
    props = features[0]["properties"]
    assert props["from_class"] == result.objects[0].from_class and "parent_id" in props
    with sqlite3.connect(paths["geopackage"]) as db:
        rows = db.execute("select fid, to_class from changes order by fid").fetchall()
    assert rows == [(o.id, o.to_class) for o in result.objects]
    assert paths["classes"].name == "change_classes.tif" and paths["classes"].is_file()
    loaded = terrasight.load_result(tmp_path / "saved")
    assert [o.to_class for o in loaded.objects] == [o.to_class for o in result.objects]


def test_only_building_keeps_changes_that_involve_buildings(pair_files, tmp_path):
    before, after, pair = pair_files
    result = terrasight.detect_changes(before, after, outdir=tmp_path / "only", only="building")
    assert result.objects
    assert all("building" in (o.from_class, o.to_class) for o in result.objects)
    mask = result.mask()
    with rasterio.open(tmp_path / "only" / "change_classes.tif") as ds:
        codes = ds.read()
    assert ((codes[0] == 0) | (codes[1] == 0))[mask == 1].mean() > 0.5
    assert (codes[:, mask != 1] == 255).all()
    assert int((mask == 1).sum()) == result.changed_pixels
    assert any("only changes from or to building" in w for w in result.warnings)


def test_only_a_class_the_model_does_not_know_is_refused_before_reading(tmp_path):
    with pytest.raises(InvalidOptionError, match="airport.*building, road"):
        terrasight.detect_changes(tmp_path / "missing.tif", tmp_path / "b.tif", only="airport")


def test_cli_only_building_then_questions_from_the_measured_classes(pair_files, tmp_path):
    before, after, pair = pair_files
    out = tmp_path / "cli"
    runner = CliRunner()
    res = runner.invoke(
        main, ["change", str(before), str(after), "-o", str(out), "-q", "--only", "building"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "change_classes.tif").is_file() and (out / "change_classes.json").is_file()
    facts = json.loads((out / "facts.json").read_text())
    assert {o["class_source"] for o in facts["objects"]} == {"landcover"}
    built = [
        o
        for o in facts["objects"]
        if o["after_class"] == "built-up" and o["before_class"] != "built-up"
    ]
    answer = ask(out, question="how many buildings were built?")
    assert answer.value == len(built)
    assert set(answer.evidence) == {o["id"] for o in built}
    assert pair.buildings <= answer.value <= 1.5 * pair.buildings  # see the test above
    assert "The count is approximate" in " ".join(answer.caveats)
    fields = ask(out, question="what did the fields become?")
    assert not fields.answerable and "farmland" in fields.text
    airport = ask(out, question="was an airport built?")
    assert not airport.answerable and airport.text.startswith("I can't tell")


def test_cli_refuses_an_unknown_only_class(pair_files, tmp_path):
    before, after, _ = pair_files
    res = CliRunner().invoke(
        main, ["change", str(before), str(after), "-o", str(tmp_path / "x"), "--only", "stadium"]
    )
    assert res.exit_code == 2
    assert "stadium" in res.output and not (tmp_path / "x").exists()


def test_vegetation_lost_is_answered_from_the_evidence(classified):
    result, _, _ = classified
    facts = terrasight.change_facts(result, terrasight_facts_options())
    answer = ask_result(facts, "how much vegetation was lost?")
    lost = [
        f for f in facts.objects if f.before_class == "vegetation" and f.after_class != "vegetation"
    ]
    assert answer.answerable
    assert set(answer.evidence) == {f.id for f in lost}


def terrasight_facts_options():
    from terrasight.tasks.interpret.facts import FactsOptions

    return FactsOptions(classify=False)


def test_facts_say_where_the_classes_come_from(classified):
    result, _, _ = classified
    facts = terrasight.change_facts(result, terrasight_facts_options())
    assert facts.model == "terrasight-landcover"
    assert "farmland" not in facts.classes and "built-up" in facts.classes
    first = facts.objects[0]
    obj = result.objects[0]
    assert first.class_source == "landcover"
    assert first.before_confidence == obj.from_share
    assert np.isclose(sum(f.area for f in facts.objects), result.changed_area)
