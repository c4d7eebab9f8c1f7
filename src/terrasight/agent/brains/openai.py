"""The ``openai`` brain: any server speaking the OpenAI chat-completions protocol with tools.

Ollama, vLLM, the llama.cpp server, LM Studio and hosted APIs all do. Requests
go to ``{base_url}/chat/completions`` with the standard library only; the key
comes from ``TERRASIGHT_OPENAI_API_KEY`` or ``OPENAI_API_KEY`` (none for a local
server). Timeouts, 5xx and 429 answers are retried with exponential backoff;
the final answer is streamed (server-sent events) to the caller as it comes.

Example:
    >>> brain = OpenAIBrain(base_url="http://localhost:11434/v1", model="qwen2.5:7b")
    >>> brain.url
    'http://localhost:11434/v1/chat/completions'
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from terrasight.agent.brains.base import BrainReply, Message, TextSink, ToolCall
from terrasight.errors import BrainError, InvalidOptionError

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

KEY_VARIABLES = ("TERRASIGHT_OPENAI_API_KEY", "OPENAI_API_KEY")
"""Environment variables read for the API key, first found wins."""
URL_VARIABLES = ("TERRASIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
MODEL_VARIABLE = "TERRASIGHT_OPENAI_MODEL"
RETRY_STATUS = (429, 500, 502, 503, 504)


class OpenAIBrain:
    """A chat-completions server as the brain.

    Args:
        base_url: the server's API root, e.g. ``http://localhost:11434/v1`` (Ollama),
            ``http://localhost:8080/v1`` (llama.cpp); default ``$TERRASIGHT_OPENAI_BASE_URL``.
        model: the model name the server knows; default ``$TERRASIGHT_OPENAI_MODEL``.
        api_key: default: the first of :data:`KEY_VARIABLES` that is set.
        timeout: seconds to wait for the server to connect or send more.
        retries: how many times a timeout, 429 or 5xx answer is retried.
        backoff: seconds before the first retry, doubled after each.
        stream: ask for server-sent events and pass the answer on as it comes.
        temperature: sampling temperature (0: the most likely words).
        cache: unused (brains are given the agent's model cache).

    Raises:
        InvalidOptionError: no base URL or model given or set in the environment.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        stream: bool = True,
        temperature: float = 0.0,
        cache: ModelCache | None = None,
    ) -> None:
        base_url = base_url or next(
            (os.environ[v] for v in URL_VARIABLES if os.environ.get(v)), None
        )
        model = model or os.environ.get(MODEL_VARIABLE)
        if not base_url:
            raise InvalidOptionError(
                "the openai brain needs a server: base_url='http://localhost:11434/v1' (Ollama), "
                "--base-url on the command line, or $TERRASIGHT_OPENAI_BASE_URL."
            )
        if not model:
            raise InvalidOptionError(
                "the openai brain needs a model name: model='qwen2.5:7b', --model on the "
                f"command line, or ${MODEL_VARIABLE}."
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key or next(
            (os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None
        )
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.stream, self.temperature = stream, temperature

    def respond(
        self, messages: list[Message], tools: list[dict[str, Any]], on_text: TextSink | None = None
    ) -> BrainReply:
        """One chat-completions request: the server's tool calls, or its (streamed) answer.

        Raises:
            BrainError: the server cannot be reached, times out after the retries, answers
                with an error, or sends something that is not a chat completion.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_outgoing(m) for m in messages],
            "temperature": self.temperature,
            "stream": self.stream,
        }
        if tools:
            body["tools"], body["tool_choice"] = tools, "auto"
        for attempt in range(self.retries + 1):
            try:
                with self._open(body) as response:
                    if self.stream:
                        return _from_stream(_events(response, self.url), on_text)
                    raw = _read(response, self.timeout)
                return _from_body(raw, self.url)
            except _Retry as exc:
                if attempt == self.retries:
                    raise BrainError(
                        f"{self.url}: {exc} after {self.retries + 1} tries; is the server running "
                        "and the model loaded? Raise timeout= or retries= for a slow one."
                    ) from None
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _open(self, body: dict[str, Any]) -> Any:
        """The HTTP response of one POST; :class:`_Retry` for what is worth another try."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.stream:
            headers["Accept"] = "text/event-stream"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            if exc.code in RETRY_STATUS:
                raise _Retry(f"the server answered {exc.code} ({detail[:200]})") from None
            raise BrainError(f"{self.url} answered {exc.code}: {detail or exc.reason}") from None
        except TimeoutError:
            raise _Retry(f"no answer within {self.timeout:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise _Retry(f"no answer within {self.timeout:g} s") from None
            raise _Retry(f"cannot connect ({exc.reason})") from None
        except ConnectionError as exc:
            raise _Retry(f"the connection failed ({exc})") from None


class _Retry(Exception):
    """A failure worth another try (timeout, refused connection, 429, 5xx)."""


def _read(response: Any, timeout: float) -> bytes:
    try:
        return bytes(response.read())
    except TimeoutError:
        raise _Retry(f"no answer within {timeout:g} s") from None


def _outgoing(message: Message) -> Message:
    """A message as servers take it: tool messages without the ``name`` some servers refuse."""
    if message.get("role") == "tool":
        return {k: v for k, v in message.items() if k != "name"}
    return message


def _from_body(raw: bytes, url: str) -> BrainReply:
    """The reply of a whole (non-streamed) chat completion."""
    try:
        message = json.loads(raw)["choices"][0]["message"]
        if not isinstance(message, dict):
            raise TypeError(message)
    except (ValueError, KeyError, IndexError, TypeError):
        raise BrainError(
            f"{url} sent something that is not a chat completion: {raw[:300]!r}"
        ) from None
    calls = tuple(_call(c, i) for i, c in enumerate(message.get("tool_calls") or []))
    return BrainReply(text=None if calls else (message.get("content") or ""), tool_calls=calls)


def _call(raw: dict[str, Any], index: int) -> ToolCall:
    function = raw.get("function") or {}
    return ToolCall(
        str(raw.get("id") or f"call-{index}"),
        str(function.get("name") or ""),
        function.get("arguments") or "",
    )


def _events(response: Iterable[bytes], url: str) -> Iterator[dict[str, Any]]:
    """The JSON chunks of a server-sent event stream, up to ``data: [DONE]``."""
    try:
        for line in response:
            text = line.decode("utf-8", "replace").strip()
            if not text.startswith("data:"):
                continue
            payload = text[5:].strip()
            if payload == "[DONE]":
                return
            try:
                yield json.loads(payload)
            except ValueError:
                raise BrainError(
                    f"{url} streamed a chunk that is not JSON: {payload[:200]!r}"
                ) from None
    except TimeoutError:
        raise BrainError(
            f"{url} stopped sending in the middle of its answer (timed out)."
        ) from None


def _from_stream(chunks: Iterator[dict[str, Any]], on_text: TextSink | None) -> BrainReply:
    """The reply assembled from streamed deltas: text pieces passed on, tool calls joined."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if not choices:
            continue
        delta = choices[0].get("delta") or {}
        for part in delta.get("tool_calls") or []:
            slot = calls.setdefault(
                int(part.get("index", len(calls))), {"id": "", "name": "", "arguments": ""}
            )
            slot["id"] = part.get("id") or slot["id"]
            function = part.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"] += function.get("arguments") or ""
        piece = delta.get("content")
        if piece:
            text.append(piece)
            if on_text is not None and not calls:
                on_text(piece)
    if calls:
        found = tuple(
            ToolCall(c["id"] or f"call-{i}", c["name"], c["arguments"])
            for i, c in sorted(calls.items())
        )
        return BrainReply(tool_calls=found)
    return BrainReply(text="".join(text), streamed=on_text is not None)
