"""Answers to every question type over a pair with planted changes of known place and size.

The planted pair (see conftest): object 1 a 30 x 30 px square in the north-west
(9 ha), object 2 a 4 x 70 px strip in the south (elongated, 2.8 ha), object 3 an
8 x 8 px square in the east (0.64 ha); 10 m pixels, 150 x 150 px.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from terrasight.errors import InvalidOptionError, QuestionError
from terrasight.models.runtime import ModelCache
from terrasight.tasks.interpret.ask import ask, ask_result
from terrasight.tasks.interpret.facts import FactsOptions, change_facts
from terrasight.tasks.interpret.facts_data import FACTS_NAME, write_facts

PLAIN = FactsOptions(classify=False)


@pytest.fixture
def facts(planted_result):
    return change_facts(planted_result, PLAIN)


@pytest.fixture
def classified(facts):
    """Known classes: 1 vegetation -> built-up, 2 farmland -> road (low confidence after),
    3 water -> unknown."""
    one, two, three = facts.objects
    objects = (
        replace(
            one,
            before_class="vegetation",
            before_confidence=0.8,
            after_class="built-up",
            after_confidence=0.9,
        ),
        replace(
            two,
            before_class="farmland",
            before_confidence=0.7,
            after_class="road",
            after_confidence=0.4,
        ),
        replace(three, before_class="water", before_confidence=0.9, after_confidence=0.2),
    )
    return replace(facts, objects=objects, model="terrasight-vl")


def _a(source, question):
    return ask_result(source, question, model=False)


def test_presence_and_count(facts):
    yes = _a(facts, "Has anything changed?")
    assert yes.value is True and yes.evidence == (1, 2, 3) and yes.question_type == "presence"
    assert _a(facts, "did anything change in the centre?").value is False
    assert _a(facts, "are there more than 2 changes?").value is True
    assert _a(facts, "are there more than five changes?").value is False
    total = _a(facts, "How many changes?")
    assert (total.value, total.unit, total.evidence) == (3, "objects", (1, 2, 3))
    north = _a(facts, "how many changes are in the north?")
    assert (north.value, north.evidence) == (1, (1,))
    large = _a(facts, "how many large changes?")  # 9 ha and 2.8 ha; 0.64 ha is medium
    assert (large.value, large.evidence) == (2, (1, 2))
    assert _a(facts, "how many small changes?").value == 0


def test_area_in_every_unit(facts):
    m2 = _a(facts, "How much area changed?")
    assert m2.unit == "m2" and m2.value == pytest.approx(facts.changed_area)
    assert m2.value == pytest.approx(90_000 + 28_000 + 6_400, rel=0.05)
    assert m2.evidence == (1, 2, 3) and "ha" in m2.text
    ha = _a(facts, "how many hectares changed?")
    assert ha.unit == "ha" and ha.value == pytest.approx(m2.value / 1e4)
    assert _a(facts, "how much changed in km2?").value == pytest.approx(m2.value / 1e6)
    pct = _a(facts, "What percentage of the scene changed?")
    assert pct.unit == "%" and pct.value == pytest.approx(100 * facts.changed_fraction, rel=1e-3)
    north = _a(facts, "what percentage of the north changed?")
    assert north.value == pytest.approx(100 * 90_000 / (50 * 150 * 100), rel=0.05)
    largest = _a(facts, "how large is the largest change?")
    assert largest.evidence == (1,) and largest.value == pytest.approx(90_000, rel=0.05)


def test_location(facts):
    largest = _a(facts, "Where is the largest change?")
    assert (largest.value, largest.evidence) == ("north-west", (1,))
    assert _a(facts, "where is the smallest change?").value == "east"
    most = _a(facts, "where did most change happen?")
    assert most.value == "north-west" and "south" in most.text
    assert _a(facts, "where are the elongated changes?").value == "south"
    none = _a(facts, "where are the changes in the centre?")
    assert none.value is None and none.evidence == ()


def test_comparison(facts):
    east_west = _a(facts, "More change in the east or the west?")
    assert east_west.value == "the west" and set(east_west.evidence) == {1, 3}
    north_south = _a(facts, "Is the north more changed than the south?")
    assert north_south.value == "the north" and north_south.question_type == "comparison"
    by_number = _a(facts, "how many more changes in the south than in the centre?")
    assert by_number.value == "the south"


def test_listing(facts):
    elongated = _a(facts, "Which objects are elongated?")
    assert elongated.value == [2] and elongated.evidence == (2,)
    assert _a(facts, "list the changes in the south-west").value == []
    assert _a(facts, "list the 2 largest changes").value == [1, 2]
    assert _a(facts, "list changes smaller than 1 ha").value == [3]


def test_class_questions_need_classified_land_cover(facts):
    for question in ("what was built?", "are there new buildings?", "did the forest shrink?"):
        answer = _a(facts, question)
        assert answer.text.startswith("I can't tell that from these images, because land cover")
        assert answer.value is None and answer.evidence == () and not answer.answerable


def test_classes_gained_and_lost(classified):
    new = _a(classified, "are there new buildings?")
    assert new.value is True and new.evidence == (1,)
    assert any("object 3" in c and "no confident land-cover class" in c for c in new.caveats)
    shrink = _a(classified, "did the forest shrink?")
    assert shrink.value is True and shrink.evidence == (1,)
    assert _a(classified, "did the lake grow?").value is False
    become = _a(classified, "What did the forest become?")
    assert (become.value, become.evidence) == ("built-up", (1,))
    before = _a(classified, "what was there before the new roads?")
    assert before.value == "farmland"
    turned = _a(classified, "how many fields turned into roads?")
    assert (turned.value, turned.evidence) == (1, (2,))


def test_class_answers_mention_low_confidence_and_unknown(classified):
    built = _a(classified, "What was built?")
    assert built.value == "built-up" and set(built.evidence) == {1, 2}
    assert any("object 2" in c and "low confidence" in c for c in built.caveats)
    unknown = _a(classified, "what did the changes in the east become?")
    assert not unknown.answerable and "object 3 has no confident class" in unknown.text
    summary = _a(classified, "what changed?")
    assert summary.value == "vegetation -> built-up"
    assert any("no confident land-cover class" in c for c in summary.caveats)


def test_unreliable_results_say_the_images_could_not_be_compared(facts):
    cloudy = replace(
        facts,
        objects=(),
        unreliable=True,
        quality_issues=("71% of the grid is cloud or shadow",),
    )
    for question in ("has anything changed?", "how many changes are there?"):
        answer = _a(cloudy, question)
        assert "could not be fully compared" in answer.text
        assert any("71% of the grid is cloud" in c for c in answer.caveats)
    assert _a(cloudy, "has anything changed?").value is False


def test_questions_the_images_cannot_answer(facts):
    for question, why in [
        ("how many cars are there?", "'cars'"),
        ("what will change next year?", "two dates"),
    ]:
        answer = _a(facts, question)
        assert answer.question_type == "unanswerable" and not answer.answerable
        assert answer.text.startswith("I can't tell that from these images, because")
        assert why in answer.text and answer.value is None
    pixels = replace(facts, area_unit="px")
    assert "no map coordinates" in _a(pixels, "how many hectares changed?").text
    with pytest.raises(QuestionError):
        _a(facts, "")


def test_answer_to_dict(facts):
    data = _a(facts, "how many changes?").to_dict()
    assert {"answer", "value", "unit", "evidence", "question_type", "caveats"} <= set(data)
    assert data["evidence"] == [1, 2, 3] and data["answerable"] is True


def test_a_result_folder_is_answered_without_detecting_again(planted_result, facts, tmp_path):
    folder = planted_result.mask_path.parent
    assert ask(folder, question="where is the largest change?").value == "north-west"
    write_facts(replace(facts, objects=facts.objects[:1]), folder / FACTS_NAME)
    assert ask(folder, question="how many changes?").value == 1  # facts.json is read as is
    with pytest.raises(InvalidOptionError, match="without a second image"):
        ask(folder, folder, "how many changes?")
    with pytest.raises(InvalidOptionError, match="not a saved change result"):
        ask(tmp_path / "nowhere", question="how many changes?")


def test_a_pair_is_detected_and_answered(planted_scene):
    before, after = planted_scene
    cache = ModelCache()
    answer = ask(before, after, "how many changes are in the south?", method="cva", cache=cache)
    assert (answer.value, answer.evidence) == (1, (2,))
    assert not any("text-encoder" in str(k) for k in cache._items)
    assert ask(before, after, "what will it be in 2040?").question_type == "unanswerable"
