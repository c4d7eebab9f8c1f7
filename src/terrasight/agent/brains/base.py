"""What a brain is: one method from the conversation and the tool schemas to text or tool calls.

Messages and tool schemas have the shape of the OpenAI chat-completions
protocol (which local servers such as Ollama, vLLM, llama.cpp and LM Studio
speak): ``{"role": "system" | "user" | "assistant" | "tool", "content": ...}``,
assistant messages with ``tool_calls``, tool messages with ``tool_call_id``.

Example:
    >>> reply = BrainReply(tool_calls=(ToolCall("call-1", "count_changes", {"places": ["north"]}),))
    >>> reply.message()["tool_calls"][0]["function"]
    {'name': 'count_changes', 'arguments': '{"places": ["north"]}'}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]
"""One chat-completions message."""
TextSink = Callable[[str], None]
"""Where a brain sends the pieces of its final answer as they come (streaming)."""


@dataclass(frozen=True)
class ToolCall:
    """A call a brain asks for: an id, a tool name and its arguments (a dict, or the raw JSON
    text a server sent, which the agent parses and reports back on when it is malformed)."""

    id: str
    name: str
    arguments: dict[str, Any] | str

    def message(self) -> dict[str, Any]:
        """The call as an element of an assistant message's ``tool_calls``."""
        args = self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": args},
        }


@dataclass(frozen=True)
class BrainReply:
    """What a brain answers: tool calls to make, or the final text.

    Attributes:
        text: the answer (None while calling tools).
        tool_calls: tools to call before answering.
        value, unit, evidence: the answer as data, when the brain knows it (the offline
            brain does); otherwise the agent takes them from the last tool result.
        streamed: the text was already sent to the caller's text sink.
        notes: what the brain had to work around to get this reply (a server that refused
            streaming, a reply cut at the token limit...), in words; they reach the reply.
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    value: Any = None
    unit: str | None = None
    evidence: tuple[int, ...] | None = None
    streamed: bool = False
    notes: tuple[str, ...] = ()

    def message(self) -> Message:
        """The reply as an assistant message of the conversation (``content`` is ``""``
        beside tool calls: several servers reject ``null``)."""
        out: Message = {"role": "assistant", "content": self.text or ""}
        if self.tool_calls:
            out["tool_calls"] = [c.message() for c in self.tool_calls]
        return out


@runtime_checkable
class Brain(Protocol):
    """Anything with ``respond(messages, tools)``; ``on_text`` is optional (streaming)."""

    def respond(
        self, messages: list[Message], tools: list[dict[str, Any]], on_text: TextSink | None = None
    ) -> BrainReply:
        """The next step of the conversation: tool calls, or the answer to the last user message.

        Args:
            messages: the conversation so far, chat-completions shaped.
            tools: ``[{"type": "function", "function": {name, description, parameters}}]``.
            on_text: receives the final answer's text piece by piece, if the brain streams.
        """
        ...


def last_user_turn(messages: list[Message]) -> tuple[int, list[Message]]:
    """(index of the last user message, the tool messages after it).

    Example:
        >>> last_user_turn([{"role": "user", "content": "hi"}, {"role": "tool", "content": "{}"}])
        (0, [{'role': 'tool', 'content': '{}'}])
    """
    index = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return index, [m for m in messages[index + 1 :] if m.get("role") == "tool"]
