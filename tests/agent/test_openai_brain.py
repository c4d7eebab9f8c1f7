"""The ``openai`` brain against a local chat-completions server started in the test.

The server speaks the protocol (tool calls, then a streamed answer; JSON or
server-sent events as asked) and decides like a model would, from the whole
conversation it is sent: here the offline brain chooses its tool calls, so the
conversation checks out against the same facts. Faults are scripted per request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from terrasight.agent import Agent
from terrasight.agent.brains.openai import OpenAIBrain
from terrasight.errors import BrainError, InvalidOptionError


def _agent(folder, server, **options: Any) -> Agent:
    options = {"timeout": 5.0, "backoff": 0.0, **options}
    return Agent(folder, brain="openai", base_url=server.url, model="scripted", **options)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_eight_turns_through_a_chat_completions_server(
    demo_folder, demo_facts, conversation, server, stream, monkeypatch
):
    monkeypatch.setenv("TERRASIGHT_OPENAI_API_KEY", "sk-test")
    agent = _agent(demo_folder, server, stream=stream)
    replies = conversation(agent, demo_facts)
    sent = server.requests
    assert len(sent) == 16  # one tool call and one answer per turn
    assert all(r["model"] == "scripted" and r["stream"] is stream for r in sent)
    names = {t["function"]["name"] for t in sent[0]["tools"]}
    assert {"count_changes", "measure", "locate", "export_geojson"} <= names
    assert server.headers_seen[0]["Authorization"] == "Bearer sk-test"
    last = sent[-1]["messages"]
    assert last[-1]["role"] == "tool" and "name" not in last[-1]
    assert last[-2]["tool_calls"][0]["function"]["name"] == "describe_change"
    assert replies[2].tool_calls[0].arguments == json.dumps(
        {"extreme": "largest", "object_ids": list(replies[1].evidence)}
    )


def test_the_answer_is_streamed_piece_by_piece(demo_folder, server):
    agent = _agent(demo_folder, server)
    pieces: list[str] = []
    reply = agent.ask("how many changes are there?", on_text=pieces.append)
    assert len(pieces) > 3 and "".join(pieces) == reply.text
    assert reply.value == len(agent.session.facts().objects)


def test_a_server_error_is_retried(demo_folder, server):
    server.fault = lambda n, body: {"status": 500} if n == 0 else None
    reply = _agent(demo_folder, server).ask("how many changes are there?")
    assert reply.value and len(server.requests) == 3  # 500, tool call, answer


def test_a_server_that_keeps_failing_is_a_brain_error(demo_folder, server):
    server.fault = lambda n, body: {"status": 503}
    agent = _agent(demo_folder, server, retries=2)
    with pytest.raises(BrainError, match="503.*after 3 tries"):
        agent.ask("how many changes are there?")
    assert len(server.requests) == 3 and len(agent.messages) == 1


def test_a_timeout_is_not_retried(demo_folder, server):
    """A single-threaded server that timed out is still busy with the request: another try
    would queue behind it, so the error names --timeout and --max-tokens instead."""
    server.fault = lambda n, body: {"sleep": 1.0}
    agent = _agent(demo_folder, server, timeout=0.3, retries=2)
    with pytest.raises(BrainError, match=r"no answer within 0.3 s; not retried.*--max-tokens"):
        agent.ask("how many changes?")
    assert len(server.requests) == 1


def test_malformed_tool_arguments_are_sent_back_as_an_error(demo_folder, server):
    bad = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "measure", "arguments": "{oops"}}
        ],
    }
    server.fault = lambda n, body: {"message": bad} if n == 0 else None
    reply = _agent(demo_folder, server).ask("how many changes are there?")
    assert (
        "error" in reply.tool_calls[0].result
        and "not valid JSON" in reply.tool_calls[0].result["error"]
    )
    fed_back = server.requests[1]["messages"][-1]
    assert fed_back["role"] == "tool" and "not valid JSON" in fed_back["content"]
    assert reply.value == len(reply.evidence) > 0  # the next call was good


def test_an_unknown_tool_is_sent_back_as_an_error(demo_folder, server):
    bad = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "teleport", "arguments": "{}"}}
        ],
    }
    server.fault = lambda n, body: {"message": bad} if n == 0 else None
    reply = _agent(demo_folder, server, stream=False).ask("how many changes are there?")
    assert "no tool 'teleport'" in reply.tool_calls[0].result["error"]
    assert "count_changes" in server.requests[1]["messages"][-1]["content"]
    assert reply.value == len(reply.evidence) > 0


def test_a_reply_that_is_not_a_chat_completion_is_a_brain_error(demo_folder, server):
    server.fault = lambda n, body: {"message": "not a message"}
    brain = OpenAIBrain(base_url=server.url, model="m", stream=False)
    with pytest.raises(BrainError, match="not a chat completion"):
        brain.respond([{"role": "user", "content": "hi"}], [])


def test_an_unreachable_server_and_missing_options_are_explained(monkeypatch):
    for name in ("TERRASIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL", "TERRASIGHT_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidOptionError, match="needs a server"):
        OpenAIBrain(model="m")
    with pytest.raises(InvalidOptionError, match="needs a model name"):
        OpenAIBrain(base_url="http://127.0.0.1:9/v1")
    brain = OpenAIBrain(base_url="http://127.0.0.1:9/v1", model="m", retries=0, timeout=1)
    with pytest.raises(BrainError, match="cannot connect"):
        brain.respond([{"role": "user", "content": "hi"}], [])
