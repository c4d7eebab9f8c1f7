"""``terrasight.Agent``: a conversation about the change between two images of one place.

The agent owns the conversation (chat-completions messages), the session (the
pair, its change result detected once, lazily) and the model cache; a brain
decides which tools to call and writes the answers.

Example:
    >>> agent = Agent("2019.tif", "2024.tif")  # doctest: +SKIP
    >>> agent.ask("how many changes are there?").value  # doctest: +SKIP
    6
    >>> agent.ask("and in the north?").evidence  # doctest: +SKIP
    (2, 3, 4)
    >>> agent.ask("how large is the biggest of those?").text  # doctest: +SKIP
    'The largest change is 18.2 ha (1.7% of the scene): object 2.'
    >>> agent.save("chat/")  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.agent.brains.base import Brain, BrainReply, Message, TextSink
from terrasight.agent.registry import (
    call_tool,
    create_brain,
    load_tools,
    schemas,
    usable_tools,
)
from terrasight.agent.session import Session
from terrasight.errors import BrainError
from terrasight.tasks.interpret.ask_select import CANT_TELL

CANT = CANT_TELL.split(",")[0]
"""The start of an answer that says the images cannot answer ("I can't tell ...")."""

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.facts_data import ChangeFacts

SYSTEM_PROMPT = (
    "You answer questions about what changed between two satellite or aerial images of one "
    "place. Use the tools for every number, place and object id; never guess them. Change "
    "objects have ids (1 is the largest). Keep track of the conversation: 'those' or 'them' "
    "are the objects of your previous answer, 'it' the one object spoken of last, 'there' "
    "the last place. Answer in one or two plain sentences and name the object ids. To find "
    "places elsewhere (an airport, a harbour...), use search_archive on the archive index."
)
"""The system message a language-model brain gets (the offline brain does not read it)."""


@dataclass(frozen=True)
class ToolRecord:
    """One tool call made for a reply: its name, arguments and result."""

    name: str
    arguments: Any
    result: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


@dataclass(frozen=True)
class Reply:
    """The agent's answer to one message.

    Attributes:
        text: the answer in words.
        value, unit: the answer as data (a number and its unit, a place, a path...).
        evidence: ids of the change objects it rests on.
        tool_calls: the tool calls made for it, in order.
        caveats: what the answer cannot vouch for.
        answerable: False when the images cannot answer ("I can't tell ... because ...").
    """

    text: str
    value: Any = None
    unit: str | None = None
    evidence: tuple[int, ...] = ()
    tool_calls: tuple[ToolRecord, ...] = ()
    caveats: tuple[str, ...] = field(default=())
    answerable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``text``, ``value``, ``unit``, ``evidence``, ``answerable``, ``caveats``,
        ``tool_calls``."""
        return {
            "text": self.text,
            "value": self.value,
            "unit": self.unit,
            "evidence": list(self.evidence),
            "answerable": self.answerable,
            "caveats": list(self.caveats),
            "tool_calls": [c.to_dict() for c in self.tool_calls],
        }


class Agent:
    """A conversation about the changes between ``before`` and ``after``.

    Args:
        before: the before image, a result folder (``terrasight change -o DIR``), or
            :class:`~terrasight.tasks.interpret.facts_data.ChangeFacts` (questions only).
        after: the after image (None with a result folder).
        brain: a brain name (``offline``, ``openai``, ``gguf`` or one another package
            registers) or a :class:`~terrasight.agent.brains.base.Brain`.
        method: the change method, for a pair.
        cache: loaded models, shared with the caller (a new cache when None).
        outdir: where the detection and exported files go (a temporary folder when None).
        tools: names of the tools offered (when None, all installed tools the inputs
            can serve: ``when_changed`` needs a series, the change tools a pair).
        max_steps: tool rounds allowed for one answer.
        db: an archive index folder for the ``search_archive`` tool (``terrasight index build``).
        series: a series folder (``terrasight series -o DIR``) for the ``when_changed``
            tool; ``before`` alone may also be one (a conversation about dates only).
        brain_options: options of the brain, e.g. ``base_url`` and ``model`` for ``openai``.

    Raises:
        InvalidOptionError: unknown brain or brain option, or inputs that do not fit.
    """

    def __init__(
        self,
        before: str | Path | ChangeFacts,
        after: str | Path | None = None,
        brain: str | Brain = "offline",
        *,
        method: str = "auto",
        cache: ModelCache | None = None,
        outdir: str | Path | None = None,
        tools: list[str] | None = None,
        max_steps: int = 8,
        db: str | Path | None = None,
        series: str | Path | None = None,
        **brain_options: Any,
    ) -> None:
        from terrasight.models.runtime import ModelCache

        self.cache = cache if cache is not None else ModelCache()
        self.session = Session(before, after, method, self.cache, outdir, db=db, series=series)
        self.tools = load_tools(tools) if tools is not None else usable_tools(self.session)
        self.tool_schemas = schemas(self.tools)
        self.max_steps = max_steps
        self.messages: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}]
        self.history: list[tuple[str, Reply]] = []
        self.brain_name = ""
        self.brain: Brain = self.use_brain(brain, **brain_options)

    def use_brain(self, brain: str | Brain, **options: Any) -> Brain:
        """Go on with another brain; the conversation is kept.

        Example:
            >>> agent.use_brain("openai", base_url="http://localhost:11434/v1", model="qwen2.5")  # doctest: +SKIP
        """
        if isinstance(brain, str):
            self.brain = create_brain(brain, cache=self.cache, **options)
            self.brain_name = brain
        else:
            self.brain, self.brain_name = brain, getattr(brain, "name", type(brain).__name__)
        return self.brain

    def ask(self, text: str, on_text: TextSink | None = None) -> Reply:
        """Answer one message, calling tools as the brain asks.

        Args:
            text: the question or request.
            on_text: receives the answer's text as it comes, for brains that stream.

        Raises:
            BrainError: the brain failed (server unreachable, malformed reply) or kept
                calling tools; the conversation is left as it was before the message.
        """
        start = len(self.messages)
        self.messages.append({"role": "user", "content": text})
        try:
            reply = refusal(text)
            if reply is None:
                reply = self._turn(on_text)
            else:  # answered without a brain: the conversation still alternates
                self.messages.append({"role": "assistant", "content": reply.text})
        except BaseException:
            del self.messages[start:]
            raise
        self.history.append((text, reply))
        return reply

    def _turn(self, on_text: TextSink | None) -> Reply:
        records: list[ToolRecord] = []
        for _ in range(self.max_steps + 1):
            answer = self._respond(on_text)
            self.messages.append(answer.message())
            if not answer.tool_calls:
                return self._reply(answer, records, on_text)
            for call in answer.tool_calls:
                result = call_tool(self.tools, self.session, call.name, call.arguments)
                records.append(ToolRecord(call.name, call.arguments, result))
                self.messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "name": call.name,
                        "content": json.dumps(result, default=str),
                    }
                )
        raise BrainError(
            f"the {self.brain_name} brain called tools {self.max_steps} times without answering; "
            "ask a simpler question, or raise max_steps."
        )

    def _respond(self, on_text: TextSink | None) -> BrainReply:
        respond = self.brain.respond
        if on_text is not None and "on_text" in inspect.signature(respond).parameters:
            return respond(self.messages, self.tool_schemas, on_text=on_text)
        return respond(self.messages, self.tool_schemas)

    def _reply(
        self, answer: BrainReply, records: list[ToolRecord], on_text: TextSink | None
    ) -> Reply:
        text = answer.text or ""
        if on_text is not None and not answer.streamed and text:
            on_text(text)
        done = [r.result for r in records if "error" not in r.result]
        last = done[-1] if done else {}
        if answer.evidence is not None:
            value, unit, evidence = answer.value, answer.unit, answer.evidence
        else:
            value, unit = last.get("value"), last.get("unit")
            evidence = tuple(int(i) for i in last.get("evidence") or ())
        caveats = tuple(str(c) for c in last.get("caveats", ()))
        answerable = last.get("answerable", True) is not False and not text.startswith(CANT)
        return Reply(text, value, unit, evidence, tuple(records), caveats, answerable)

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write the change outputs, the exported files and the transcript into ``folder``.

        The change result (detected now if no question needed it yet) goes in as
        ``terrasight change`` writes it, with ``facts.json``; files the tools exported go
        into ``exports/``; ``transcript.json`` and ``transcript.md`` hold the conversation.

        Returns:
            The paths written, by kind.
        """
        from terrasight.agent.transcript import save_conversation

        return save_conversation(self, Path(folder))

    def close(self) -> None:
        """Remove the temporary folder of the detection and exports (when no outdir was given)."""
        self.session.close()


YES_NO = re.compile(r"^(?:is|are|was|were|has|have|had|did|does|do|any|how many)\b")


def refusal(text: str) -> Reply | None:
    """The reply to a yes-or-no or how-many question about a thing no land-cover class names
    ("is there a new airport?"), whatever the brain: no count of change objects may answer
    it. None for every other message (archive searches of such things included).

    Example:
        >>> refusal("is there a new airport?").answerable
        False
        >>> refusal("search the archive for an airport") is None
        True
    """
    from terrasight.agent.brains.dialogue import ARCHIVE
    from terrasight.errors import QuestionError
    from terrasight.tasks.interpret.ask_parse import normalise, parse_question
    from terrasight.tasks.interpret.ask_select import cant_tell

    t = normalise(text)
    if not YES_NO.search(t) or ARCHIVE.search(t) or "archive" in t:
        return None
    try:
        q = parse_question(text, model=False)
    except QuestionError:
        return None
    if q.kind != "unanswerable" or "have nothing for" not in (q.unanswerable or ""):
        return None
    answer = cant_tell(q.unanswerable or "")
    return Reply(answer.text, None, None, (), (), (), False)
