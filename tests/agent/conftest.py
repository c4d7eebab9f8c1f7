"""The demo pair (six planted changes) detected once per module, and a scripted
chat-completions server for the ``openai`` brain."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from terrasight.io.samples import make_demo_pair
from terrasight.tasks.change.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions, change_facts

DEMO_SIZE = 1024


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo pair's change result (the default method), saved as ``terrasight change`` does."""
    root = tmp_path_factory.mktemp("demo")
    pair = make_demo_pair(root / "pair", size=DEMO_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect_changes(pair.before, pair.after, outdir=root / "changes")
    result.save(root / "changes", report=False, facts=False)
    return root / "changes"


@pytest.fixture(scope="module")
def demo_facts(demo_folder: Path):
    """The facts the expected answers are computed from."""
    from terrasight.tasks.change.load import load_result

    return change_facts(load_result(demo_folder), FactsOptions(classify=False))


SCRIPT = (
    "how many changes are there?",
    "and in the north?",
    "how large is the biggest of those?",
    "where is it?",
    "show me them",
    "what about the south?",
    "how much of the scene changed?",
    "describe the change",
)
"""Eight turns; the second to sixth lean on the turns before them."""


def _in(facts, direction: str) -> list:
    return [f for f in facts.objects if direction in f.location.split("-")]


def check_conversation(agent, facts) -> list:
    """Ask :data:`SCRIPT` and check each answer against the facts; the replies."""
    import json

    replies = [agent.ask(q) for q in SCRIPT]
    every = tuple(f.id for f in facts.objects)
    north = [f for f in facts.objects if f.location.startswith("north")]
    south = [f for f in facts.objects if f.location.startswith("south")]
    assert north, "the demo pair has changes in the north"
    count, north_count, biggest, where, shown, south_count, total, words = replies

    assert (count.value, count.unit, count.evidence) == (len(every), "objects", every)
    assert north_count.value == len(north) < len(every)
    assert north_count.evidence == tuple(f.id for f in north)
    big = max(north, key=lambda f: f.area)
    assert biggest.evidence == (big.id,) and biggest.value == pytest.approx(big.area)
    assert biggest.unit == facts.area_unit and f"object {big.id}" in biggest.text
    assert where.value == big.location and where.evidence == (big.id,)
    assert big.location in where.text
    path = Path(shown.value)
    collection = json.loads(path.read_text())
    assert sorted(f["id"] for f in collection["features"]) == sorted(f.id for f in north)
    assert shown.evidence == north_count.evidence
    assert south_count.value == len(south) and south_count.evidence == tuple(f.id for f in south)
    assert total.value == pytest.approx(facts.changed_area) and total.evidence == every
    assert words.text and words.value == words.text and words.evidence == every
    for reply in replies:
        assert reply.tool_calls and all("error" not in c.result for c in reply.tool_calls)
    return replies


@pytest.fixture
def conversation():
    """The function that runs and checks the eight-turn conversation."""
    return check_conversation
