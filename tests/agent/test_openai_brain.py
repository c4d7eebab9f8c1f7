"""The ``openai`` brain against a local chat-completions server started in the test.

The server speaks the protocol (tool calls, then a streamed answer; JSON or
server-sent events as asked) and decides like a model would, from the whole
conversation it is sent: here the offline brain chooses its tool calls, so the
conversation checks out against the same facts. Faults are scripted per request.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from terrasight.agent import Agent
from terrasight.agent.brains.offline import OfflineBrain
from terrasight.agent.brains.openai import OpenAIBrain
from terrasight.errors import BrainError, InvalidOptionError

Fault = Callable[[int, dict[str, Any]], dict[str, Any] | None]


class ChatServer(ThreadingHTTPServer):
    """A chat-completions server; ``fault(n, body)`` may replace the n-th answer
    (``{"status": 500}``, ``{"sleep": s}`` or ``{"message": {...}}``)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.fault: Fault = lambda n, body: None
        self.decider = OfflineBrain(sentence_model=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up waiting (the timeout tests) is expected

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = len(self.server.requests)
        self.server.requests.append(body)
        self.server.headers_seen.append(dict(self.headers))
        fault = self.server.fault(n, body) or {}
        if "sleep" in fault:
            time.sleep(fault["sleep"])
        if "status" in fault:
            self.send_response(fault["status"])
            self.end_headers()
            self.wfile.write(b'{"error": "scripted failure"}')
            return
        message = fault.get("message") or self._decide(body)
        if body.get("stream"):
            self._stream(message)
        else:
            self._json({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    def _decide(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.server.decider.respond(body["messages"], body.get("tools", []))
        return reply.message()

    def _json(self, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _stream(self, message: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for delta in _deltas(message):
            chunk = {"choices": [{"index": 0, "delta": delta}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


def _deltas(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A message as a model streams it: words one by one; each tool call's name, then its
    arguments in two pieces."""
    yield {"role": "assistant"}
    for i, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        head = {"index": i, "id": call["id"], "type": "function", "function": {"name": fn["name"]}}
        yield {"tool_calls": [head]}
        half = len(fn["arguments"]) // 2
        for piece in (fn["arguments"][:half], fn["arguments"][half:]):
            yield {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
    for word in re.findall(r"\s*\S+", message.get("content") or ""):
        yield {"content": word}


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _agent(folder, server: ChatServer, **options: Any) -> Agent:
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


def test_a_slow_server_times_out_then_is_retried(demo_folder, server):
    server.fault = lambda n, body: {"sleep": 1.0} if n == 0 else None
    reply = _agent(demo_folder, server, timeout=0.3, retries=1).ask("how many changes?")
    assert reply.value and len(server.requests) == 3
    server.fault = lambda n, body: {"sleep": 1.0}
    with pytest.raises(BrainError, match="no answer within 0.3 s after 2 tries"):
        _agent(demo_folder, server, timeout=0.3, retries=1).ask("how many changes?")


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
