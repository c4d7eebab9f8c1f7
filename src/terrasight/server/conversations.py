"""Conversations on disk: each job's questions and answers in ``<jobs>/<id>/conversation.json``.

The file holds the agent's chat messages (tool calls and results included, so
that "those" and "there" still point where they did) and the turns as the API
shows them. It is written whole after every answer (a crash mid-write leaves the
previous one), and read back when the first question after a restart comes.

Example:
    >>> agent = Agent("jobs/0123456789ab/result")  # doctest: +SKIP
    >>> restore(agent, Path("jobs/0123456789ab/conversation.json"))  # doctest: +SKIP
    2
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terrasight.agent import Agent, Reply

log = logging.getLogger(__name__)

FILE = "conversation.json"
VERSION = 1


def save(agent: Agent, path: Path) -> None:
    """Write ``agent``'s conversation to ``path`` (whole, or not at all)."""
    doc = {
        "version": VERSION,
        "brain": agent.brain_name,
        "messages": agent.messages,
        "turns": turns(agent),
    }
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    os.replace(part, path)


def restore(agent: Agent, path: Path) -> int:
    """Put the conversation saved in ``path`` back into a new ``agent``; the turns restored.

    A missing file restores nothing; a damaged one is logged and left (the conversation
    starts afresh rather than failing every question).
    """
    if not path.is_file():
        return 0
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        messages = doc["messages"]
        history = [(t["question"], reply_from(t["reply"])) for t in doc["turns"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cannot read the conversation in %s (%s); starting a new one", path, exc)
        return 0
    if not isinstance(messages, list) or not messages:
        return 0
    agent.messages = messages
    agent.history = history
    return len(history)


def turns(agent: Agent) -> list[dict[str, Any]]:
    """The conversation's turns: ``{"question": ..., "reply": Reply.to_dict()}`` each."""
    return [{"question": q, "reply": r.to_dict()} for q, r in agent.history]


def reply_from(data: dict[str, Any]) -> Reply:
    """A :class:`~terrasight.agent.Reply` from its ``to_dict()``.

    Example:
        >>> reply_from({"text": "3 changes.", "value": 3, "evidence": [1, 2, 3]}).evidence
        (1, 2, 3)
    """
    from terrasight.agent import Reply, ToolRecord

    calls = tuple(
        ToolRecord(c["name"], c.get("arguments"), c.get("result") or {})
        for c in data.get("tool_calls") or ()
    )
    return Reply(
        text=str(data.get("text", "")),
        value=data.get("value"),
        unit=data.get("unit"),
        evidence=tuple(int(i) for i in data.get("evidence") or ()),
        tool_calls=calls,
        caveats=tuple(str(c) for c in data.get("caveats") or ()),
        answerable=data.get("answerable", True) is not False,
        grounded=data.get("grounded", True) is not False,
        notes=tuple(str(n) for n in data.get("notes") or ()),
    )
