"""The ``openai`` brain: any server speaking the OpenAI chat-completions protocol with tools.

Ollama, vLLM, the llama.cpp server, LM Studio and hosted APIs all do. Requests
go to ``{base_url}/chat/completions`` with the standard library only; the key
comes from ``TERRASIGHT_OPENAI_API_KEY`` or ``OPENAI_API_KEY`` (none for a local
server). A refused connection, 429 and 5xx answers are retried with exponential
backoff; a request the server rejects as invalid (4xx, or a 500 whose body is a
validation error) and a timeout (the server may still be busy with it) are not.
The final answer is streamed (server-sent events) to the caller as it comes; a
server that refuses to stream with tools, closes the stream empty or answers
with a plain JSON completion is asked again without streaming (or read as it
is), and the reply says so in a note. Every request carries ``max_tokens`` and
stop sequences, so a model that does not stop is cut off.

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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from terrasight.agent.brains.base import BrainReply, Message, TextSink
from terrasight.agent.brains.openai_wire import EmptyStream, from_body, from_stream, is_invalid
from terrasight.errors import BrainError, InvalidOptionError

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

KEY_VARIABLES = ("TERRASIGHT_OPENAI_API_KEY", "OPENAI_API_KEY")
"""Environment variables read for the API key, first found wins."""
URL_VARIABLES = ("TERRASIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
MODEL_VARIABLE = "TERRASIGHT_OPENAI_MODEL"
RETRY_STATUS = (429, 500, 502, 503, 504)
STOP = ("<|im_end|>", "<|eot_id|>", "<|end|>", "</s>")
"""Stop sequences sent by default: the end-of-turn marks of common chat templates."""


class OpenAIBrain:
    """A chat-completions server as the brain.

    Args:
        base_url: the server's API root, e.g. ``http://localhost:11434/v1`` (Ollama),
            ``http://localhost:8080/v1`` (llama.cpp); default ``$TERRASIGHT_OPENAI_BASE_URL``.
        model: the model name the server knows; default ``$TERRASIGHT_OPENAI_MODEL``.
        api_key: default: the first of :data:`KEY_VARIABLES` that is set.
        timeout: seconds to wait for the server to connect or send more (not retried).
        retries: how many times a refused connection, 429 or 5xx answer is retried.
        backoff: seconds before the first retry, doubled after each.
        stream: ask for server-sent events and pass the answer on as it comes (turned
            off for the rest of the conversation when the server cannot).
        temperature: sampling temperature (0: the most likely words).
        max_tokens: the longest reply asked for (None: the server's own limit).
        stop: stop sequences (at most 4; empty: none sent).
        tool_role: how tool results are sent: ``"tool"`` messages (the protocol's way), or
            ``"user"`` messages ("Result of NAME: ...") for chat templates that drop tool
            messages (llama-cpp-python's ``chatml-function-calling`` does).
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
        max_tokens: int | None = 512,
        stop: tuple[str, ...] | list[str] = STOP,
        tool_role: str = "tool",
        cache: ModelCache | None = None,
    ) -> None:
        if tool_role not in ("tool", "user"):
            raise InvalidOptionError(f"tool_role={tool_role!r}; give 'tool' or 'user'.")
        self.tool_role = tool_role
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
        if max_tokens is not None and max_tokens < 1:
            raise InvalidOptionError(f"max_tokens={max_tokens}; give 1 or more (or None).")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key or next(
            (os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None
        )
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.stream, self.temperature = stream, temperature
        self.max_tokens, self.stop = max_tokens, list(stop)[:4]

    def respond(
        self, messages: list[Message], tools: list[dict[str, Any]], on_text: TextSink | None = None
    ) -> BrainReply:
        """One chat-completions request: the server's tool calls, or its (streamed) answer.

        Raises:
            BrainError: the server cannot be reached, times out, rejects the request as
                invalid, answers with an error after the retries, or sends something that
                is not a chat completion.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_outgoing(m, self.tool_role) for m in messages],
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.stop:
            body["stop"] = self.stop
        if tools:
            body["tools"], body["tool_choice"] = tools, "auto"
        if not self.stream:
            return self._ask({**body, "stream": False}, None)
        try:
            return self._ask({**body, "stream": True}, on_text)
        except (EmptyStream, _Invalid) as exc:
            why = str(exc)
        reply = self._ask({**body, "stream": False}, None)
        self.stream = False
        note = f"{why}; asked again without streaming, and streaming is off from now on."
        return replace(reply, notes=(note, *reply.notes))

    def _ask(self, body: dict[str, Any], on_text: TextSink | None) -> BrainReply:
        """One request, retried on what is worth another try."""
        for attempt in range(self.retries + 1):
            try:
                with self._open(body) as response:
                    if body["stream"]:
                        return from_stream(response, self.url, on_text, self.max_tokens)
                    raw = _read(response, self.timeout)
                return from_body(raw, self.url, self.max_tokens)
            except _Invalid as exc:
                if body["stream"]:
                    raise
                raise BrainError(
                    f"{self.url} rejected the request as invalid ({exc}); not retried."
                ) from None
            except _Retry as exc:
                if attempt == self.retries:
                    raise BrainError(
                        f"{self.url}: {exc} after {self.retries + 1} tries; is the server running "
                        "and the model loaded?"
                    ) from None
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _open(self, body: dict[str, Any]) -> Any:
        """The HTTP response of one POST; :class:`_Retry` for what is worth another try."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if body["stream"]:
            headers["Accept"] = "text/event-stream"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            if is_invalid(exc.code, detail) or (body["stream"] and exc.code == 500):
                raise _Invalid(f"{exc.code}: {detail[:300] or exc.reason}") from None
            if exc.code in RETRY_STATUS:
                raise _Retry(f"the server answered {exc.code} ({detail[:200]})") from None
            raise BrainError(f"{self.url} answered {exc.code}: {detail or exc.reason}") from None
        except TimeoutError:
            raise self._timed_out() from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise self._timed_out() from None
            raise _Retry(f"cannot connect ({exc.reason})") from None
        except ConnectionError as exc:
            raise _Retry(f"the connection failed ({exc})") from None

    def _timed_out(self) -> BrainError:
        return BrainError(
            f"{self.url}: no answer within {self.timeout:g} s; not retried, as the server may "
            f"still be busy with it. Raise timeout= (--timeout) for a slow model, or lower "
            f"max_tokens= (--max-tokens, now {self.max_tokens}) for one that does not stop."
        )


class _Retry(Exception):
    """A failure worth another try (refused connection, 429, 5xx)."""


class _Invalid(Exception):
    """The server rejected the request itself (4xx, or a 500 that is a validation error; any
    500 to a stream request, which is then asked again without streaming)."""


def _read(response: Any, timeout: float) -> bytes:
    try:
        return bytes(response.read())
    except TimeoutError:
        raise BrainError(f"the server stopped sending within {timeout:g} s.") from None


def _outgoing(message: Message, tool_role: str = "tool") -> Message:
    """A message as servers take it: tool messages without the ``name`` some servers refuse
    (or as user messages), assistant messages with ``content: ""`` rather than ``null``."""
    if message.get("role") == "tool" and tool_role == "user":
        name = message.get("name", "the tool")
        return {"role": "user", "content": f"Result of {name}: {message.get('content')}"}
    if message.get("role") == "tool":
        return {k: v for k, v in message.items() if k != "name"}
    if message.get("role") == "assistant" and message.get("content") is None:
        return {**message, "content": ""}
    return message
