"""Change facts of a pair with planted changes of known place, size and shape."""

from __future__ import annotations

import json

import pytest

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.load import load_result
from terrasight.tasks.interpret.facts import FactsOptions, change_facts, shape_of
from terrasight.tasks.interpret.facts_data import ChangeFacts, read_facts, write_facts

PLAIN = FactsOptions(classify=False)


def test_objects_have_the_planted_place_size_and_shape(planted_result):
    facts = change_facts(planted_result, PLAIN)
    assert facts.object_count == 3
    square, strip, small = facts.objects  # largest first
    assert (square.location, square.cell, square.shape) == ("north-west", (0, 0), "compact")
    assert square.area == pytest.approx(90_000, rel=0.05) and square.size == "large"
    assert (strip.location, strip.shape) == ("south", "elongated")
    assert strip.elongation > 10
    assert (small.location, small.shape, small.size) == ("east", "compact", "medium")
    assert small.area == pytest.approx(6_400, rel=0.1)


def test_scene_totals_add_up(planted_result):
    facts = change_facts(planted_result, PLAIN)
    assert facts.area_unit == "m2" and facts.scene_area == pytest.approx(150 * 150 * 100)
    assert sum(v["count"] for v in facts.by_location.values()) == 3
    assert facts.by_location["north-west"]["ids"] == [1]
    assert facts.by_location["centre"]["count"] == 0
    assert facts.by_shape["elongated"]["ids"] == [2]
    assert facts.changed_area == pytest.approx(sum(o.area for o in facts.objects), rel=1e-6)
    assert facts.by_change == {
        "unknown -> unknown": {"count": 3, "area": facts.changed_area, "ids": [1, 2, 3]}
    }
    assert facts.model is None and "not classified" in facts.notes[0]


def test_facts_round_trip_through_json(planted_result, tmp_path):
    facts = change_facts(planted_result, PLAIN)
    path = write_facts(facts, tmp_path / "facts.json")
    assert read_facts(path) == facts
    data = json.loads(path.read_text())
    assert data["objects"][0]["change"] == "unknown -> unknown"
    with pytest.raises(InvalidOptionError, match="version"):
        ChangeFacts.from_dict({**data, "version": 99})


def test_facts_of_a_reloaded_result_are_the_same(planted_result):
    again = load_result(planted_result.mask_path.parent)
    assert change_facts(again, PLAIN) == change_facts(planted_result, PLAIN)


def test_classified_objects_get_classes_from_the_vocabulary(planted_result):
    pytest.importorskip("torch")
    opts = FactsOptions(max_classified=2, classes={"water": ("water",), "snow": ("snow",)})
    facts = change_facts(planted_result, opts)
    first, second, third = facts.objects
    for f in (first, second):
        assert {f.before_class, f.after_class} <= {"water", "snow", "unknown"}
        assert 0.5 <= f.after_confidence <= 1.0  # two classes: the best has at least half
    assert third.before_confidence is None and third.change == "unknown -> unknown"
    assert facts.model == "terrasight-vl" and facts.classes == ("water", "snow")
    assert "2 largest of 3" in facts.notes[0]


@pytest.mark.parametrize(
    "kwargs", [{"max_classified": -1}, {"min_confidence": 2.0}, {"classes": {"a": ("a",)}}]
)
def test_bad_options_are_refused(kwargs):
    with pytest.raises(InvalidOptionError):
        FactsOptions(**kwargs)


def test_shape_of_a_thin_winding_strip_is_elongated():
    zigzag = [(0, 0), (10, 0), (10, 10), (20, 10), (20, 11), (9, 11), (9, 1), (0, 1)]
    form, elongation = shape_of({"type": "Polygon", "coordinates": [zigzag]})
    assert form == "elongated" and elongation >= 3
    assert shape_of({"type": "Polygon", "coordinates": []}) == ("compact", 1.0)
