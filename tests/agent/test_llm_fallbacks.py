"""What real servers and small models do, against the local fake server (conftest's
``ChatServer``): streaming refused, a plain JSON answer to a stream request, ``content:
null`` rejected, replies cut at ``max_tokens``, a model that does not stop, the same tool
call twice, and replies that rest on no tool result."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from terrasight.agent import Agent
from terrasight.agent.brains.openai import OpenAIBrain
from terrasight.errors import BrainError

QUESTION = "how many changes are there?"


def _agent(folder, server, **options: Any) -> Agent:
    options = {"timeout": 5.0, "backoff": 0.0, **options}
    return Agent(folder, brain="openai", base_url=server.url, model="scripted", **options)


def _say(text: str) -> dict[str, Any]:
    return {"message": {"role": "assistant", "content": text}}


def test_a_stream_closed_empty_is_asked_again_without_streaming(demo_folder, demo_facts, server):
    server.fault = lambda n, body: {"empty": True} if body["stream"] else None
    agent = _agent(demo_folder, server)
    reply = agent.ask(QUESTION)
    assert reply.value == demo_facts.object_count and reply.grounded
    assert [r["stream"] for r in server.requests] == [True, False, False]
    assert any("closed the stream without a word" in n for n in reply.notes)
    agent.ask("and in the north?")
    assert [r["stream"] for r in server.requests[3:]] == [False, False]  # streaming stays off


def test_a_streaming_request_refused_as_invalid_falls_back(demo_folder, demo_facts, server):
    refusal = {"status": 500, "body": '{"detail": "Validation error: stream not supported"}'}
    server.fault = lambda n, body: refusal if body["stream"] else None
    reply = _agent(demo_folder, server).ask(QUESTION)
    assert reply.value == demo_facts.object_count
    assert [r["stream"] for r in server.requests] == [True, False, False]
    assert "500" in reply.notes[0] and "without streaming" in reply.notes[0]


def test_a_plain_json_answer_to_a_stream_request_is_read(demo_folder, demo_facts, server):
    server.fault = lambda n, body: {"plain": True}
    pieces: list[str] = []
    reply = _agent(demo_folder, server).ask(QUESTION, on_text=pieces.append)
    assert reply.value == demo_facts.object_count and reply.text
    assert "".join(pieces) == reply.text  # the answer still reaches the terminal
    assert all(r["stream"] for r in server.requests) and len(server.requests) == 2
    assert any("plain JSON completion" in n for n in reply.notes)


def test_tool_calls_go_back_with_empty_content_not_null(demo_folder, demo_facts, server):
    server.strict = True  # a null content would be refused with a 500 validation error
    reply = _agent(demo_folder, server, stream=False).ask(QUESTION)
    assert reply.value == demo_facts.object_count and len(server.requests) == 2
    sent = server.requests[1]["messages"][-2]
    assert sent["role"] == "assistant" and sent["content"] == "" and sent["tool_calls"]
    brain = OpenAIBrain(base_url=server.url, model="m", stream=False)
    null = {"role": "assistant", "content": None, "tool_calls": sent["tool_calls"]}
    brain.respond([{"role": "user", "content": "hi"}, null, server.requests[1]["messages"][-1]], [])
    assert server.requests[-1]["messages"][1]["content"] == ""


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_a_request_rejected_as_invalid_is_not_retried(demo_folder, server, stream):
    invalid = {"status": 500, "body": '{"detail": "1 validation error for ChatMessage"}'}
    server.fault = lambda n, body: invalid
    agent = _agent(demo_folder, server, stream=stream, retries=3)
    with pytest.raises(BrainError, match="rejected the request as invalid.*not retried"):
        agent.ask(QUESTION)
    assert len(server.requests) == (2 if stream else 1)  # a stream falls back once, no more
    server.fault = lambda n, body: {"status": 400, "body": "bad model"}
    with pytest.raises(BrainError, match="400: bad model"):
        _agent(demo_folder, server, stream=False, retries=3).ask(QUESTION)
    assert len(server.requests) == (3 if stream else 2)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_a_model_that_never_stops_is_cut_at_max_tokens(demo_folder, server, stream):
    server.fault = lambda n, body: {"endless": True}
    brain = OpenAIBrain(base_url=server.url, model="m", stream=stream, max_tokens=8, timeout=2)
    started = time.monotonic()
    reply = brain.respond([{"role": "user", "content": "hi"}], [])
    assert time.monotonic() - started < 2.0
    assert reply.text is not None and reply.text.split() == ["changes"] * 8
    assert "cut at max_tokens=8" in reply.notes[0]
    assert server.requests[0]["max_tokens"] == 8 and "<|im_end|>" in server.requests[0]["stop"]
    unlimited = OpenAIBrain(base_url=server.url, model="m", max_tokens=None, timeout=0.5)
    with pytest.raises(BrainError, match="not retried"):
        unlimited.respond([{"role": "user", "content": "hi"}], [])
    assert "max_tokens" not in server.requests[-1] and len(server.requests) == 2


def test_the_same_tool_call_twice_ends_the_loop(demo_folder, demo_facts, server):
    call = {"id": "c", "type": "function", "function": {"name": "count_changes", "arguments": "{}"}}
    again = {"message": {"role": "assistant", "content": "", "tool_calls": [call]}}
    server.fault = lambda n, body: again
    reply = _agent(demo_folder, server, max_steps=8).ask(QUESTION)
    assert len(server.requests) == 2 and len(reply.tool_calls) == 1
    assert (
        reply.value == demo_facts.object_count and reply.text == reply.tool_calls[0].result["text"]
    )
    assert "twice in a row" in reply.notes[0] and reply.grounded


def test_a_reply_resting_on_no_tool_is_answered_offline(demo_folder, demo_facts, server):
    server.fault = lambda n, body: _say("There are 10 changes.")
    agent = _agent(demo_folder, server)
    pieces: list[str] = []
    reply = agent.ask(QUESTION, on_text=pieces.append)
    assert reply.value == demo_facts.object_count and reply.grounded
    assert f"{demo_facts.object_count} changes" in reply.text and "not grounded" in reply.text
    assert "10 changes" not in reply.text and "names 10" in reply.notes[0]
    assert [c.name for c in reply.tool_calls] == ["answer_question"]
    assert "offline brain answers" in "".join(pieces)
    assert agent.messages[-1]["content"] == reply.text  # the conversation holds the answer kept


def test_a_reply_resting_on_no_tool_can_be_marked_instead(demo_folder, server):
    server.fault = lambda n, body: _say("There are 10 changes in the south, mostly water.")
    reply = _agent(demo_folder, server, grounding="mark").ask(QUESTION)
    assert not reply.grounded and reply.value is None and not reply.tool_calls
    assert "[not grounded: 10, south, water" in reply.text
    assert reply.to_dict()["grounded"] is False and reply.to_dict()["notes"]
    kept = _agent(demo_folder, server, grounding="off").ask(QUESTION)
    assert kept.text == "There are 10 changes in the south, mostly water." and kept.grounded


def test_a_grounded_model_reply_is_kept(demo_folder, demo_facts, server):
    n = demo_facts.object_count

    def answer(k: int, body: dict[str, Any]) -> dict[str, Any] | None:
        return _say(f"I found {n} changes, objects 1 to {n}.") if k == 1 else None

    server.fault = answer
    reply = _agent(demo_folder, server).ask(QUESTION)
    assert reply.text == f"I found {n} changes, objects 1 to {n}." and reply.grounded
    assert not reply.notes and reply.value == n
    server.fault = lambda k, body: _say(f"I found {n + 3} changes.") if k == 3 else None
    wrong = _agent(demo_folder, server, grounding="mark").ask(QUESTION)
    assert not wrong.grounded and f"[not grounded: {n + 3}" in wrong.text


def test_archive_search_is_not_offered_without_an_index(demo_folder, server):
    _agent(demo_folder, server).ask(QUESTION)
    offered = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert "search_archive" not in offered and "count_changes" in offered
    reply = Agent(demo_folder).ask("search the archive for an airport")
    assert "no archive index was given" in reply.text and "--db" in reply.text


def test_chat_passes_no_stream_max_tokens_and_timeout(demo_folder, demo_facts, server):
    from terrasight.cli import main

    args = ["chat", str(demo_folder), "--brain", "openai", "--base-url", server.url]
    args += ["--llm", "m", "--no-stream", "--max-tokens", "7", "--timeout", "4"]
    server.fault = lambda n, body: _say("There are 10 changes.") if n == 0 else None
    res = CliRunner().invoke(main, args, input=f"{QUESTION}\n/quit\n")
    assert res.exit_code == 0, res.output
    assert all(r["stream"] is False and r["max_tokens"] == 7 for r in server.requests)
    assert f"{demo_facts.object_count} changes" in res.output
    assert "note: the openai brain's reply 'There are 10 changes.'" in res.output
    assert json.loads(json.dumps(server.requests[0]))["temperature"] == 0.0


def test_tool_results_can_go_as_user_messages(server):
    """For chat templates that drop tool messages (llama-cpp-python's
    chatml-function-calling renders none), tool results go as user messages."""
    call = {"id": "c", "type": "function", "function": {"name": "locate", "arguments": "{}"}}
    conversation = [
        {"role": "user", "content": "where?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c", "name": "locate", "content": '{"value": "north"}'},
    ]
    server.fault = lambda n, body: _say("In the north.")
    brain = OpenAIBrain(base_url=server.url, model="m", stream=False, tool_role="user")
    assert brain.respond(conversation, []).text == "In the north."
    sent = server.requests[0]["messages"]
    assert sent[-1] == {"role": "user", "content": 'Result of locate: {"value": "north"}'}
    assert sent[1]["content"] == "" and sent[1]["tool_calls"] == [call]


def test_an_empty_answer_is_no_answer(demo_folder, demo_facts, server):
    """llama-cpp-python's chatml-function-calling can only end a plain message at once:
    a blank answer is replaced (or marked), never shown as an answer."""
    server.fault = lambda n, body: _say("")
    reply = _agent(demo_folder, server, stream=False).ask(QUESTION)
    assert reply.value == demo_facts.object_count and reply.grounded
    assert "reply was empty; replaced by the offline brain" in reply.notes[0]
    marked = _agent(demo_folder, server, stream=False, grounding="mark").ask(QUESTION)
    assert marked.text == "[not grounded: no answer]" and not marked.grounded


def test_a_tool_result_that_does_not_answer_the_question_is_not_grounding(
    demo_folder, demo_facts, server
):
    """A small model that counts when asked for the largest change: its answer names only
    numbers of its tool result, but the offline reading of the question answers with other
    objects, so the answer is replaced (or marked)."""
    largest = max(demo_facts.objects, key=lambda f: f.area)
    call = {"id": "c", "type": "function", "function": {"name": "count_changes", "arguments": "{}"}}
    count = {"message": {"role": "assistant", "content": "", "tool_calls": [call]}}
    n = demo_facts.object_count

    def wrong_tool(k: int, body: dict[str, Any]) -> dict[str, Any] | None:
        return count if k % 2 == 0 else _say(f"There are {n} changes.")

    server.fault = wrong_tool
    question = "how large is the largest change?"
    reply = _agent(demo_folder, server, stream=False).ask(question)
    assert reply.evidence == (largest.id,) and reply.value == pytest.approx(largest.area)
    assert "offline reading of the question gives" in reply.notes[0]
    marked = _agent(demo_folder, server, stream=False, grounding="mark").ask(question)
    assert not marked.grounded and f"gives {largest.id})]" in marked.text
