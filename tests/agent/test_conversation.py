"""Eight turns over the demo pair with the offline brain; follow-ups read in context."""

from __future__ import annotations

import json
import warnings

import pytest

import terrasight
from terrasight.agent import Agent
from terrasight.errors import BrainError, InvalidOptionError
from terrasight.models.runtime import ModelCache
from terrasight.samples.demo import make_demo_pair


def test_eight_turns_with_the_offline_brain(demo_folder, demo_facts, conversation, tmp_path):
    agent = terrasight.Agent(demo_folder, cache=ModelCache(), outdir=tmp_path / "out")
    replies = conversation(agent, demo_facts)
    # the follow-ups were answered by tools limited by the earlier turns
    biggest = replies[2].tool_calls[0]
    assert biggest.name == "measure"
    assert biggest.arguments["object_ids"] == list(replies[1].evidence)
    assert replies[3].tool_calls[0].arguments == {"object_ids": list(replies[2].evidence)}
    assert replies[5].tool_calls[0].arguments == {"places": ["south"]}
    assert len(agent.history) == 8 and agent.messages[0]["role"] == "system"


def test_references_survive_a_brain_switch(demo_folder, demo_facts):
    agent = Agent(demo_folder)
    agent.ask("how many changes are in the north?")
    agent.use_brain("offline", sentence_model=False)  # a new brain reads the state afresh
    reply = agent.ask("how large is the smallest of those?")
    north = [f for f in demo_facts.objects if f.location.startswith("north")]
    small = min(north, key=lambda f: f.area)
    assert reply.evidence == (small.id,) and reply.value == pytest.approx(small.area)


def test_plain_questions_answer_as_ask_does(demo_folder):
    agent = Agent(demo_folder)
    reply = agent.ask("how many changes are in the north-west?")
    expected = terrasight.ask(demo_folder, question="how many changes are in the north-west?")
    assert (reply.text, reply.value, reply.evidence) == (
        expected.text,
        expected.value,
        expected.evidence,
    )
    cars = agent.ask("how many cars are there?")
    assert cars.value is None and "can't tell" in cars.text


def test_detection_is_lazy_and_done_once(tmp_path):
    pair = make_demo_pair(tmp_path / "pair", size=256)
    agent = Agent(pair.before, pair.after, method="cva", outdir=tmp_path / "out")
    assert agent.session.detections == 0 and not agent.session.detected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = agent.ask("how many changes are there?")
        agent.ask("and in the west?")
    assert agent.session.detections == 1 and first.value == len(agent.session.facts().objects)


def test_save_writes_outputs_exports_and_transcript(demo_folder, tmp_path):
    agent = Agent(demo_folder)
    agent.ask("how many changes are in the north?")
    shown = agent.ask("show me them")
    paths = agent.save(tmp_path / "saved")
    assert {"mask", "geojson", "summary", "facts", "transcript", "transcript_md"} <= set(paths)
    doc = json.loads(paths["transcript"].read_text())
    assert [t["question"] for t in doc["turns"]] == [
        "how many changes are in the north?",
        "show me them",
    ]
    assert doc["turns"][1]["reply"]["evidence"] == list(shown.evidence)
    exported = [p for k, p in paths.items() if k.startswith("export:")]
    assert len(exported) == 1 and exported[0].parent.name == "exports"
    assert json.loads(exported[0].read_text())["type"] == "FeatureCollection"
    md = paths["transcript_md"].read_text()
    assert "**You:** show me them" in md and "export_geojson" in md


def test_bad_inputs_and_runaway_brains_are_refused(demo_folder, tmp_path):
    with pytest.raises(InvalidOptionError, match="unknown brain 'oracle'.*offline"):
        Agent(demo_folder, brain="oracle")
    with pytest.raises(InvalidOptionError, match="nor an image file: give an image"):
        Agent(tmp_path / "nothing.tif")

    class Loops:
        def respond(self, messages, tools):
            from terrasight.agent import BrainReply, ToolCall

            ids = [len(messages) // 2 % 2 + 1]  # never the same call twice in a row
            return BrainReply(tool_calls=(ToolCall("x", "change_facts", {"object_ids": ids}),))

    agent = Agent(demo_folder, brain=Loops(), max_steps=3)
    with pytest.raises(BrainError, match="called tools 3 times"):
        agent.ask("how many?")
    assert len(agent.messages) == 1  # the failed turn is rolled back


def test_ranked_and_elsewhere_follow_ups(demo_folder, demo_facts):
    """ "and the second largest?", "and the smallest?", "the one in the north?" read as the
    first turn was, checked against the facts."""
    by_area = sorted(demo_facts.objects, key=lambda f: f.area, reverse=True)
    north = [f for f in by_area if f.location.startswith("north")]
    agent = Agent(demo_folder)
    agent.ask("how many changes are there?")
    second = agent.ask("and the second largest?")
    assert second.evidence == (by_area[1].id,) and second.value == pytest.approx(by_area[1].area)
    assert f"object {by_area[1].id}" in second.text and "second largest" in second.text
    smallest = agent.ask("and the smallest?")
    assert smallest.evidence == (by_area[-1].id,)
    there = agent.ask("the one in the north?")
    assert there.evidence == (north[-1].id,)  # the smallest, now in the north

    agent = Agent(demo_folder)
    agent.ask("how large is the largest change?")
    assert agent.ask("the one in the north?").evidence == (north[0].id,)
    assert agent.ask("and the second largest?").evidence == (north[1].id,)
    agent = Agent(demo_folder)
    agent.ask("how many changes are in the north?")
    assert agent.ask("and the second largest?").evidence == (north[1].id,)
    fifth = agent.ask("and the fifth largest?")
    if len(north) >= 5:
        assert fifth.evidence == (north[4].id,) and "fifth largest" in fifth.text
    else:
        assert fifth.text.startswith(f"I could not answer that: measure: only {len(north)} change")
