"""Reading chat-completions answers as servers really send them: whole JSON bodies,
server-sent event streams, a plain JSON body where a stream was asked for, a stream
closed without a word, and replies cut at the token limit.

Example:
    >>> reply = from_body(b'{"choices": [{"message": {"content": "6."}, "finish_reason": "length"}]}', "u", 9)
    >>> reply.text, reply.notes
    ('6.', ('the reply was cut at max_tokens=9; raise max_tokens (--max-tokens) for a full one.',))
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterable
from typing import Any

from terrasight.agent.brains.base import BrainReply, TextSink, ToolCall
from terrasight.errors import BrainError

INVALID_BODY = re.compile(
    r"validat|invalid|unprocessable|pydantic|field required|input should|not supported", re.I
)
"""Words of an error body that say the request itself was refused (not worth a retry)."""


class EmptyStream(Exception):
    """The server closed the stream without text or tool calls."""


def cut_note(finish: str | None, max_tokens: int | None) -> tuple[str, ...]:
    """The note of a reply the token limit cut (``finish_reason`` ``"length"``)."""
    if finish != "length":
        return ()
    limit = f"max_tokens={max_tokens}" if max_tokens else "the server's token limit"
    return (f"the reply was cut at {limit}; raise max_tokens (--max-tokens) for a full one.",)


def from_body(raw: bytes, url: str, max_tokens: int | None = None) -> BrainReply:
    """The reply of a whole (non-streamed) chat completion.

    Raises:
        BrainError: the body is not a chat completion.
    """
    try:
        choice = json.loads(raw)["choices"][0]
        message = choice["message"]
        if not isinstance(message, dict):
            raise TypeError(message)
    except (ValueError, KeyError, IndexError, TypeError):
        raise BrainError(
            f"{url} sent something that is not a chat completion: {raw[:300]!r}"
        ) from None
    calls = tuple(_call(c, i) for i, c in enumerate(message.get("tool_calls") or []))
    notes = cut_note(choice.get("finish_reason"), max_tokens)
    text = None if calls else (message.get("content") or "")
    return BrainReply(text=text, tool_calls=calls, notes=notes)


def _call(raw: dict[str, Any], index: int) -> ToolCall:
    function = raw.get("function") or {}
    return ToolCall(
        str(raw.get("id") or f"call-{index}"),
        str(function.get("name") or ""),
        function.get("arguments") or "",
    )


def from_stream(
    lines: Iterable[bytes], url: str, on_text: TextSink | None, max_tokens: int | None = None
) -> BrainReply:
    """The reply of a server-sent event stream: text pieces passed on, tool calls joined.

    A body that is one plain JSON completion (some servers and proxies ignore
    ``stream``) is read as such, with a note.

    Raises:
        EmptyStream: the stream ended without text or a tool call.
        BrainError: a chunk is not JSON, or the server stopped sending (timed out).
    """
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    plain: list[bytes] = []
    finish: str | None = None
    try:
        for line in lines:
            stripped = line.strip()
            if plain or (stripped.startswith(b"{") and not text and not calls):
                plain.append(line)
                continue
            if not stripped.startswith(b"data:"):
                continue
            payload = stripped[5:].strip().decode("utf-8", "replace")
            if payload == "[DONE]":
                break
            chunk = _chunk(payload, url)
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if not choices:
                continue
            finish = choices[0].get("finish_reason") or finish
            _add(choices[0].get("delta") or {}, text, calls, on_text)
    except TimeoutError:
        raise BrainError(
            f"{url} stopped sending in the middle of its answer (timed out)."
        ) from None
    except (http.client.HTTPException, ConnectionError) as exc:  # the server broke it off
        if text or calls:
            raise BrainError(f"{url} broke the stream off in the middle ({exc!r}).") from None
        raise EmptyStream(f"the server broke the stream off before a word ({exc!r})") from None
    if plain:
        reply = from_body(b"".join(plain), url, max_tokens)
        note = "the server answered the stream request with a plain JSON completion; read as one."
        return BrainReply(reply.text, reply.tool_calls, notes=(note, *reply.notes))
    notes = cut_note(finish, max_tokens)
    if calls:
        found = tuple(
            ToolCall(c["id"] or f"call-{i}", c["name"], c["arguments"])
            for i, c in sorted(calls.items())
        )
        return BrainReply(tool_calls=found, notes=notes)
    if not "".join(text).strip():
        raise EmptyStream("the server closed the stream without a word or a tool call")
    return BrainReply(text="".join(text), streamed=on_text is not None, notes=notes)


def _chunk(payload: str, url: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise BrainError(f"{url} streamed a chunk that is not JSON: {payload[:200]!r}") from None


def _add(
    delta: dict[str, Any],
    text: list[str],
    calls: dict[int, dict[str, str]],
    on_text: TextSink | None,
) -> None:
    """Add one streamed delta: tool-call pieces joined by index, text passed on."""
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


def is_invalid(status: int, body: str) -> bool:
    """Whether an HTTP error says the request was refused as invalid (never retried):
    a 4xx other than 408 and 429, or a 500 whose body is a validation error.

    Example:
        >>> is_invalid(500, '{"detail": "1 validation error for ChatMessage"}'), is_invalid(503, "")
        (True, False)
    """
    if 400 <= status < 500:
        return status not in (408, 429)
    return status == 500 and bool(INVALID_BODY.search(body))
