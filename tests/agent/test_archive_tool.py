"""search_archive: a real tiny index of AID photos, the tool, the offline agent's routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from terrasight.agent import Agent, list_tools
from terrasight.agent.archive_tools import search_archive
from terrasight.agent.brains.dialogue import State, archive_subject, resolve
from terrasight.agent.registry import call_tool, load_tools
from terrasight.agent.session import Session
from terrasight.errors import ToolArgumentError
from terrasight.models.runtime import ModelCache
from terrasight.samples.demo import make_demo_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small pair; no question here needs its change, so it is never detected."""
    made = make_demo_pair(tmp_path_factory.mktemp("pair"), size=256)
    return made.before, made.after


@pytest.fixture(scope="module")
def models() -> ModelCache:
    return ModelCache()


def test_the_tool_is_registered_and_has_a_schema():
    assert "search_archive" in list_tools()
    from terrasight.agent.registry import schemas

    (schema,) = schemas(load_tools(["search_archive"]))
    params = schema["function"]["parameters"]
    assert schema["function"]["name"] == "search_archive"
    assert set(params["properties"]) == {"text", "k", "bbox", "since"}
    assert params["required"] == ["text"]


def test_the_tool_finds_the_airport_first(tiny_archive, pair, models):
    db, files = tiny_archive
    session = Session(*pair, cache=models, db=db)
    out = search_archive(session, "an airport", k=3)
    assert out["value"] == str(files["Airport"])
    assert [h["rank"] for h in out["hits"]] == [1, 2, 3]
    best = out["hits"][0]
    west, south, east, north = best["bbox"]
    assert 14.99 < west < east < 15.03 and 45.13 < south < north < 45.16
    assert out["hits"][1]["bbox"] is None  # a plain photo: no place on the map
    assert out["text"].startswith('Best match for "an airport": airport.tif (score ')
    assert "\n" not in out["text"] and session.detections == 0

    harbour = search_archive(session, "a harbour with many boats", k=1)
    assert harbour["value"] == str(files["Port"]) and len(harbour["hits"]) == 1
    inside = search_archive(session, "a stadium", bbox=[14.9, 45.0, 15.1, 45.2])
    assert [h["source"] for h in inside["hits"]] == [str(files["Airport"])]


def test_no_index_and_an_empty_box_are_messages_not_crashes(tiny_archive, pair, models):
    db, _ = tiny_archive
    tools = load_tools(["search_archive"])
    without = call_tool(tools, Session(*pair), "search_archive", {"text": "an airport"})
    assert "no archive index was given" in without["error"] and "--db PATH" in without["error"]
    missing = Session(*pair, db=db.parent / "nothing-here")
    assert "no index there" in call_tool(tools, missing, "search_archive", {"text": "x"})["error"]

    session = Session(*pair, cache=models, db=db)
    far = call_tool(
        tools, session, "search_archive", {"text": "an airport", "bbox": [100, 10, 101, 11]}
    )
    assert far["error"].startswith("search_archive: no tile of the index lies in the box")
    assert "never widened" in far["error"]
    bad = call_tool(tools, session, "search_archive", {"text": "an airport", "bbox": [1, 2]})
    assert "give [west, south, east, north]" in bad["error"]
    with pytest.raises(ToolArgumentError, match="k is 0"):
        search_archive(session, "an airport", k=0)


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("search the archive for an airport", "an airport"),
        ("Find a harbour in the archive", "a harbour"),
        ("where else is there a harbour?", "a harbour"),
        ("are there any beaches in the archive?", "beaches"),
    ],
)
def test_the_offline_brain_routes_archive_requests(question, subject):
    def read(text):
        raise AssertionError("an archive request is not read as a change question")

    plan = resolve(question, State(), read)
    assert plan.steps == (("search_archive", {"text": subject}),)
    assert archive_subject(question) == subject


def test_change_questions_are_not_sent_to_the_archive():
    from terrasight.tasks.interpret.ask_parse import parse_question

    def read(text):
        return parse_question(text, model=False)

    for question in (
        "where else did it change?",
        "where else is there a change?",
        "where else are there new buildings?",
        "how many changes are there?",
    ):
        assert resolve(question, State(), read).steps[0][0] != "search_archive"
    # a brain offered no archive tool reads the question as about the change
    plan = resolve("search the archive for an airport", State(), read, lambda n, a: False)
    assert plan.steps[0][0] != "search_archive"


def test_the_offline_agent_answers_with_the_file(tiny_archive, pair, models):
    db, files = tiny_archive
    agent = Agent(*pair, cache=models, db=db)
    try:
        reply = agent.ask("search the archive for an airport")
        assert reply.value == str(files["Airport"]) and "airport.tif" in reply.text
        assert [c.name for c in reply.tool_calls] == ["search_archive"]
        again = agent.ask("where else is there a harbour?")
        assert again.value == str(files["Port"])
        assert agent.session.detections == 0
    finally:
        agent.close()

    plain = Agent(*pair, cache=models)
    try:
        reply = plain.ask("search the archive for an airport")
        assert reply.text.startswith("I could not answer that: no archive index was given")
    finally:
        plain.close()
