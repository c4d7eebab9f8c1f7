"""The ``offline`` brain: deterministic, no model download, follow-ups read in context.

It reads each question with the rules of ``terrasight ask`` (and the
sentence-embedding model when they are unsure), fills in what "those", "it",
"there" and "and in the north?" refer to from the earlier turns
(:mod:`~terrasight.agent.brains.dialogue`), calls tools like any other brain,
and answers with the tool's own words. It keeps nothing between calls: the
dialogue state is read again from the conversation each time, so switching
brains mid-conversation loses nothing.

Example:
    >>> brain = OfflineBrain()
    >>> reply = brain.respond([{"role": "user", "content": "how many changes?"}], [])
    >>> reply.tool_calls[0].name, reply.tool_calls[0].arguments
    ('answer_question', {'question': 'how many changes?'})
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from terrasight.agent.brains.base import BrainReply, Message, TextSink, ToolCall, last_user_turn
from terrasight.agent.brains.dialogue import (
    ELLIPSIS,
    FOCUS_WORDS,
    GROUP_WORDS,
    Plan,
    State,
    after,
    resolve,
)
from terrasight.errors import QuestionError
from terrasight.tasks.interpret.ask_parse import Query, normalise, parse_question

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

HELP = (
    "Ask me what changed between the two images: how many changes there are, how large, "
    "where, what they became; then follow up with 'and in the north?', 'how large is the "
    "biggest of those?', 'where is it?' or 'show me them'."
)


class OfflineBrain:
    """Question rules plus dialogue state; see the module docstring.

    Args:
        cache: keeps the sentence-embedding model loaded (owned by the agent).
        sentence_model: let the sentence-embedding model type questions the rules cannot.
    """

    name = "offline"

    def __init__(self, cache: ModelCache | None = None, sentence_model: bool = True) -> None:
        self.cache = cache
        self.sentence_model = sentence_model

    def respond(
        self, messages: list[Message], tools: list[dict[str, Any]], on_text: TextSink | None = None
    ) -> BrainReply:
        """Tool calls for the last question, or its answer once they have run."""
        index, results = last_user_turn(messages)
        if index < 0:
            return BrainReply(text=HELP)
        offered, names = _offered(tools), _names(tools)
        state = self.replay(messages[:index], offered, names)
        try:
            plan = resolve(str(messages[index]["content"]), state, self.read, offered, names)
        except QuestionError as exc:
            return BrainReply(text=str(exc)[0].upper() + str(exc)[1:])
        results = _own(messages[index:], results, {name for name, _ in plan.steps})
        if len(results) < len(plan.steps):
            return BrainReply(tool_calls=(self._call(plan, index, results, offered),))
        return _final(_content(results[-1]) if results else {"error": "no tool was run"})

    def read(self, text: str) -> Query:
        """The question's :class:`Query`: rules first, the sentence model only where needed
        and the earlier turns cannot tell (an ellipsis is read by rules alone)."""
        q = parse_question(text, self.cache, model=False)
        slots = q.regions or q.classes or q.size or q.shape or q.extreme
        t = normalise(text)
        leans = ELLIPSIS.search(t) or GROUP_WORDS.search(t) or FOCUS_WORDS.search(t)
        if q.kind == "unanswerable" and self.sentence_model and not slots and not leans:
            q = parse_question(text, self.cache, model=True)
        return q

    def replay(
        self, messages: list[Message], offered: Any = None, names: frozenset[str] = frozenset()
    ) -> State:
        """The dialogue state the earlier turns of ``messages`` leave."""
        state = State()
        turns = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        for k, start in enumerate(turns):
            end = turns[k + 1] if k + 1 < len(turns) else len(messages)
            results = [m for m in messages[start + 1 : end] if m.get("role") == "tool"]
            if not results:
                continue
            try:
                plan = resolve(str(messages[start]["content"]), state, self.read, offered, names)
            except QuestionError:
                continue
            state = after(plan, state, _content(results[-1]))
        return state

    def _call(self, plan: Plan, index: int, results: list[Message], offered: Any) -> ToolCall:
        name, args = plan.steps[len(results)]
        if "object_ids" in args and args["object_ids"] is None:
            previous = _content(results[-1]) if results else {}
            args = {**args, "object_ids": list(previous.get("evidence") or [])}
        return ToolCall(f"offline-{index}-{len(results)}", name, args)


def _names(tools: list[dict[str, Any]]) -> frozenset[str]:
    """The names of the offered tools."""
    return frozenset(t["function"]["name"] for t in tools if "function" in t)


def _offered(tools: list[dict[str, Any]]) -> Any:
    """(tool, argument names) -> whether it is offered and takes them (all, without tools)."""
    params = {
        t["function"]["name"]: set(t["function"]["parameters"].get("properties", {}))
        for t in tools
        if "function" in t
    }

    def offered(name: str, args: set[str]) -> bool:
        return not params or (name in params and args <= params[name])

    return offered


def _own(turn: list[Message], results: list[Message], planned: set[str]) -> list[Message]:
    """The results of the planned tools; failed calls of other tools (made by another brain
    earlier in the turn) are passed over, so the plan is carried out all the same."""
    names = {
        call.get("id"): call.get("function", {}).get("name")
        for m in turn
        for call in m.get("tool_calls") or []
    }
    return [
        m
        for m in results
        if names.get(m.get("tool_call_id"), m.get("name")) in planned or "error" not in _content(m)
    ]


def _content(message: Message) -> dict[str, Any]:
    try:
        value = json.loads(message.get("content") or "{}")
    except ValueError:
        return {"error": str(message.get("content"))}
    return value if isinstance(value, dict) else {"value": value}


def _final(result: dict[str, Any]) -> BrainReply:
    """The answer: the tool's words and data."""
    if "error" in result:
        return BrainReply(text=f"I could not answer that: {result['error']}")
    evidence = tuple(int(i) for i in result.get("evidence") or ())
    return BrainReply(
        text=str(result.get("text", "")),
        value=result.get("value"),
        unit=result.get("unit"),
        evidence=evidence,
    )
