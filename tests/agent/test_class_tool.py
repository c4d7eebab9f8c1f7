"""The agent answers what was built, lost or became what from the measured land-cover
classes of the changes (a real Dubai crop whose buildings were partly covered with
nearby ground texture in the before date)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from terrasight.agent import Agent
from terrasight.agent.class_tools import land_cover_changes, network_class
from terrasight.agent.session import Session
from terrasight.errors import ToolArgumentError


@pytest.fixture(scope="module")
def dubai_pair(dubai_semantic_pair) -> tuple[Path, Path]:
    return dubai_semantic_pair[0], dubai_semantic_pair[1]


def _built(objects) -> list[int]:
    return [o.id for o in objects if o.to_class == "building" and o.from_class != "building"]


def test_the_agent_counts_new_buildings_from_the_classes(dubai_pair, tmp_path):
    agent = Agent(*dubai_pair, method="cva", outdir=tmp_path)
    reply = agent.ask("how many buildings were built?")
    assert [t.name for t in reply.tool_calls] == ["land_cover_changes"]
    result = agent.session.result()
    built = _built(result.objects)
    assert built, "the planted buildings should be found"
    assert reply.value == len(built) and sorted(reply.evidence) == sorted(built)
    assert f"{len(built)} buildings built" in reply.text and reply.grounded
    assert agent.session.detections == 1
    lost = agent.ask("how much bare land was lost?")
    assert [t.name for t in lost.tool_calls] == ["land_cover_changes"] and lost.value > 0


def test_the_class_tool_answers_what_was_lost_and_what_it_became(dubai_pair, tmp_path):
    session = Session(*dubai_pair, method="cva", outdir=tmp_path)
    built = land_cover_changes(session, became="houses")
    assert built["value"] == len(_built(session.result().objects)) and built["unit"] == "buildings"
    rows = built["transitions"]
    lost = land_cover_changes(session, was="bare land")
    expected = sum(r["area"] for r in rows if r["from"] == "bare" and r["to"] != "unknown")
    assert lost["value"] == pytest.approx(expected, abs=0.01) and lost["unit"] == "m2"
    assert "bare lost" in lost["text"]
    fields = land_cover_changes(session, was="fields")
    assert any("farmland" in c for c in fields["caveats"])
    with pytest.raises(ToolArgumentError):
        land_cover_changes(session, was="airport")


def test_a_result_saved_without_classes_is_not_read_as_no_change(dubai_pair, tmp_path):
    import terrasight

    result = terrasight.detect_changes(*dubai_pair, method="cva", outdir=tmp_path / "plain")
    result.save(tmp_path / "plain", report=False, facts=False)
    answer = land_cover_changes(Session(tmp_path / "plain"), became="building")
    assert answer["answerable"] is False and answer["value"] is None
    assert "without land-cover classes" in answer["text"]


def test_words_map_to_the_network_classes():
    assert network_class("trees") == ("vegetation", None)
    assert network_class("bare") == ("bare", None)
    assert network_class(None) == (None, None)
    assert np.isscalar(network_class("water")[0])
