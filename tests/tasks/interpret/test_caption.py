"""Change captions from facts with known classes, places and counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from terrasight.tasks.interpret.caption import caption_change, load_style
from terrasight.tasks.interpret.facts import FactsOptions, change_facts
from terrasight.tasks.interpret.facts_data import ChangeFacts, ObjectFacts


def _obj(
    i: int, cell: tuple[int, int], location: str, before: str, after: str, **kw
) -> ObjectFacts:
    values = dict(
        id=i,
        pixels=100,
        area=10_000.0 / i,
        area_unit="m2",
        size="medium",
        shape="compact",
        elongation=1.2,
        cell=cell,
        location=location,
        centroid_lonlat=None,
        pixel_bbox=(0, 0, 10, 10),
        mean_probability=0.9,
        before_class=before,
        after_class=after,
    )
    values.update(kw)
    return ObjectFacts(**values)


@pytest.fixture
def facts(planted_result) -> ChangeFacts:
    return change_facts(planted_result, FactsOptions(classify=False))


def test_no_change_gets_the_no_change_sentence(facts):
    style = load_style()
    text = caption_change(replace(facts, objects=()))
    assert text == style["no_change"].capitalize() + "."


def test_an_unreliable_empty_result_never_says_no_change(facts):
    issue = "92% of the grid is under cloud"
    text = caption_change(replace(facts, objects=(), unreliable=True, quality_issues=(issue,)))
    assert "could not be fully compared" in text and issue in text
    assert load_style()["no_change"] not in text.lower()


def test_new_houses_on_bare_land_are_told_with_count_and_place(facts):
    objs = tuple(_obj(i, (0, 0), "north-west", "bare land", "built-up") for i in (1, 2, 3))
    assert caption_change(replace(facts, objects=objs)) == (
        "Some houses are built on the bareland in the upper left."
    )


def test_groups_are_told_largest_first_at_most_three(facts):
    objs = (
        _obj(1, (2, 1), "south", "vegetation", "bare land", area=50_000.0),
        _obj(2, (1, 2), "east", "bare land", "built-up", shape="elongated", area=9_000.0),
        _obj(3, (1, 1), "centre", "unknown", "unknown", area=800.0),
        _obj(4, (1, 1), "centre", "unknown", "unknown", area=700.0),
        _obj(5, (0, 2), "north-east", "water", "farmland", area=100.0),
    )
    text = caption_change(replace(facts, objects=objs))
    assert text == (
        "Some trees disappear at the bottom. A road is built on the bareland on the right. "
        "Two areas have changed in the middle."
    )
    assert "lake" not in text  # the fourth group is left out


def test_changes_all_over_the_scene_are_told_as_spread(facts):
    cells = [
        ((0, 0), "north-west"),
        ((0, 2), "north-east"),
        ((2, 0), "south-west"),
        ((2, 2), "south-east"),
    ]
    objs = tuple(
        _obj(i + 1, c, name, "unknown", "unknown", area=100.0) for i, (c, name) in enumerate(cells)
    )
    assert caption_change(replace(facts, objects=objs)) == (
        "Some areas have changed across the scene."
    )


def test_unclassified_planted_changes_name_their_places(facts):
    assert caption_change(facts) == "Some areas have changed in the upper left."  # 72% there
    one = replace(facts, objects=facts.objects[:1])
    assert caption_change(one) == "An area has changed in the upper left."
