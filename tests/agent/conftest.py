"""The demo pair (six planted changes) detected once per session (a copy per module), and a scripted
chat-completions server for the ``openai`` brain."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from terrasight.agent.brains.offline import OfflineBrain
from terrasight.samples.demo import make_demo_pair
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions, change_facts

DEMO_SIZE = 1024


@pytest.fixture(scope="session")
def _demo_detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo pair detected once per test session (never handed out: modules get a copy),
    saved with its facts as ``terrasight change`` saves them (land cover classified where
    PyTorch is installed), so the agents of all modules read the classes instead of
    classifying again."""
    root = tmp_path_factory.mktemp("demo")
    pair = make_demo_pair(root / "pair", size=DEMO_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect_changes(pair.before, pair.after, outdir=root / "changes")
        result.save(root / "changes", report=False)
    return root / "changes"


@pytest.fixture(scope="module")
def demo_folder(_demo_detected: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo pair's change result (the default method), saved as ``terrasight change`` does:
    a module's own copy of the session's one detection."""
    return Path(shutil.copytree(_demo_detected, tmp_path_factory.mktemp("demo") / "changes"))


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


Fault = Callable[[int, dict[str, Any]], dict[str, Any] | None]
"""``fault(n, body)`` may change the n-th answer of :class:`ChatServer` (None: answer well):
``{"status": 500, "body": "..."}`` an HTTP error, ``{"sleep": s}`` a slow answer,
``{"message": {...}}`` another message, ``{"plain": True}`` a JSON completion to a stream
request, ``{"empty": True}`` a stream closed without a word, ``{"endless": True}`` a model
that does not stop (it writes ``max_tokens`` words when given, else until the client
leaves)."""


class ChatServer(ThreadingHTTPServer):
    """A chat-completions server deciding like a model from the conversation it is sent
    (the offline brain chooses), with scripted faults; ``strict`` refuses an assistant
    message with ``"content": null`` as llama-cpp-python's server does (a 500 validation
    error)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.fault: Fault = lambda n, body: None
        self.strict = False
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
        nulls = [m for m in body["messages"] if m["role"] == "assistant" and m["content"] is None]
        if self.server.strict and nulls:
            fault = {"status": 500, "body": '{"detail": "1 validation error: content"}'}
        if "sleep" in fault:
            time.sleep(fault["sleep"])
        if "status" in fault:
            self._error(fault["status"], fault.get("body", '{"error": "scripted failure"}'))
        elif fault.get("endless"):
            self._endless(body)
        elif fault.get("empty") and body.get("stream"):
            self._events([])
        else:
            message = fault.get("message") or self._decide(body)
            if body.get("stream") and not fault.get("plain"):
                self._events(_deltas(message))
            else:
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._json({"choices": [choice]})

    def _decide(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.server.decider.respond(body["messages"], body.get("tools", []))
        return reply.message()

    def _error(self, status: int, text: str) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(text.encode())

    def _json(self, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _events(self, deltas: Iterable[dict[str, Any]], finish: str = "stop") -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for delta in deltas:
            chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        if finish != "stop" or deltas:
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _endless(self, body: dict[str, Any]) -> None:
        """ "changes" written again and again: max_tokens of them, or until the client leaves."""
        limit = body.get("max_tokens")
        words = ["changes " for _ in range(limit)] if limit else None
        if limit and not body.get("stream"):
            message = {"role": "assistant", "content": "".join(words or [])}
            self._json({"choices": [{"index": 0, "message": message, "finish_reason": "length"}]})
        elif limit:
            self._events(({"content": w} for w in words or []), finish="length")
        else:
            time.sleep(3.0)  # far past the client's timeout


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
    """A :class:`ChatServer` on a free local port, for the test's length."""
    srv = ChatServer()
    # a short poll interval: shutdown() waits for the loop's next look (0.5 s by default)
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
