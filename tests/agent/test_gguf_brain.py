"""The ``gguf`` brain: its replies held to a JSON schema, read into tool calls or answers.

llama-cpp-python is an optional extra; the brain is driven here through a stand-in with
its ``create_chat_completion``, and with a real model only where one is installed.
"""

from __future__ import annotations

import builtins
import importlib.util
import json
import os

import pytest

from terrasight.agent import Agent
from terrasight.agent.brains.gguf import GGUFBrain, plain_messages, reply_schema
from terrasight.errors import BrainError, MissingDependencyError


class ScriptedLlama:
    """Answers with the JSON texts given, one per call, and keeps what it was asked."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.calls: list[dict] = []

    def create_chat_completion(self, **kwargs):
        self.calls.append(kwargs)
        return {"choices": [{"message": {"role": "assistant", "content": self.texts.pop(0)}}]}


def test_a_constrained_tool_call_then_an_answer(demo_folder, demo_facts):
    north = [f.id for f in demo_facts.objects if f.location.startswith("north")]
    llm = ScriptedLlama(
        json.dumps({"tool": "count_changes", "arguments": {"places": ["north"]}}),
        json.dumps({"answer": f"There are {len(north)} changes in the north."}),
    )
    agent = Agent(demo_folder, brain="gguf", llm=llm)
    reply = agent.ask("how many changes are in the north?")
    assert reply.text == f"There are {len(north)} changes in the north."
    assert reply.value == len(north) and reply.evidence == tuple(north)
    schema = llm.calls[0]["response_format"]["schema"]
    names = [s["properties"]["tool"]["enum"][0] for s in schema["anyOf"][:-1]]
    assert "count_changes" in names and schema["anyOf"][-1]["required"] == ["answer"]
    measure = next(
        s for s in schema["anyOf"][:-1] if s["properties"]["tool"]["enum"] == ["measure"]
    )
    assert measure["properties"]["arguments"]["properties"]["object_ids"]["type"] == "array"
    second = llm.calls[1]["messages"]
    assert second[-1]["role"] == "user" and second[-1]["content"].startswith(
        "Result of count_changes"
    )
    assert json.loads(second[-2]["content"])["tool"] == "count_changes"


def test_a_reply_outside_the_schema_is_a_brain_error():
    brain = GGUFBrain(llm=ScriptedLlama("not json", json.dumps({"neither": 1})))
    for _ in range(2):
        with pytest.raises(BrainError, match="gguf"):
            brain.respond([{"role": "user", "content": "hi"}], [])


def test_without_llama_cpp_the_extra_is_named(monkeypatch):
    real = builtins.__import__

    def no_llama(name, *args, **kwargs):
        if name == "llama_cpp":
            raise ImportError("No module named 'llama_cpp'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_llama)
    with pytest.raises(MissingDependencyError, match=r"pip install 'terrasight\[llm\]'"):
        GGUFBrain(model_path="model.gguf")


def test_plain_messages_and_schema_shapes():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "locate",
                "description": "Where.",
                "parameters": {"type": "object"},
            },
        }
    ]
    msgs = plain_messages(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "where?"}], tools
    )
    assert msgs[0]["content"].startswith("Be brief.") and "- locate(): Where." in msgs[0]["content"]
    assert reply_schema(tools)["anyOf"][0]["properties"]["tool"]["enum"] == ["locate"]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or not os.environ.get("TERRASIGHT_GGUF_MODEL"),
    reason="needs llama-cpp-python (pip install 'terrasight[llm]') and $TERRASIGHT_GGUF_MODEL, a .gguf file",
)
def test_a_real_gguf_model_answers(demo_folder):
    agent = Agent(demo_folder, brain="gguf", model_path=os.environ["TERRASIGHT_GGUF_MODEL"])
    reply = agent.ask("how many changes are there?")
    assert reply.text and reply.tool_calls


def test_the_same_call_twice_ends_with_its_result(demo_folder, demo_facts):
    call = json.dumps({"tool": "count_changes", "arguments": {}})
    llm = ScriptedLlama(*[call] * 8)
    reply = Agent(demo_folder, brain="gguf", llm=llm).ask("how many changes are there?")
    assert len(llm.calls) == 2 and reply.value == demo_facts.object_count
    assert "twice in a row" in reply.notes[0] and reply.grounded


def test_only_the_tools_the_conversation_serves_are_offered(demo_folder):
    llm = ScriptedLlama(json.dumps({"answer": "Hello."}))
    Agent(demo_folder, brain="gguf", llm=llm).ask("hi")
    listing = llm.calls[0]["messages"][0]["content"]
    schema = llm.calls[0]["response_format"]["schema"]
    names = [s["properties"]["tool"]["enum"][0] for s in schema["anyOf"][:-1]]
    assert "search_archive" not in names and "when_changed" not in names
    assert "- count_changes(places, became" in listing and "search_archive" not in listing


def test_a_cut_reply_and_a_full_context_are_explained():
    class Cut(ScriptedLlama):
        def create_chat_completion(self, **kwargs):
            out = super().create_chat_completion(**kwargs)
            out["choices"][0]["finish_reason"] = "length"
            return out

    brain = GGUFBrain(llm=Cut('{"answer": "There are 6 chan', '{"tool": "measure", "argu'))
    reply = brain.respond([{"role": "user", "content": "hi"}], [])
    assert reply.text == "There are 6 chan..." and "max_tokens=256" in reply.notes[0]
    with pytest.raises(BrainError, match="cut at max_tokens=256 before it was a whole tool call"):
        brain.respond([{"role": "user", "content": "hi"}], [])

    class Full:
        def create_chat_completion(self, **kwargs):
            raise ValueError("Requested tokens (9000) exceed context window of 8192")

    with pytest.raises(BrainError, match=r"no longer fits.*--n-ctx"):
        GGUFBrain(llm=Full()).respond([{"role": "user", "content": "hi"}], [])
