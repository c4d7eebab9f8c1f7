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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.agent.brains.base import Brain, BrainReply, Message, TextSink
from terrasight.agent.grounding import unsupported
from terrasight.agent.registry import (
    call_tool,
    create_brain,
    load_tools,
    schemas,
    usable_tools,
)
from terrasight.agent.session import Session
from terrasight.errors import BrainError, InvalidOptionError, TerrasightError
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
    "the last place. Answer in one or two plain sentences and name the object ids."
)
"""The system message a language-model brain gets (the offline brain does not read it)."""
SCENE_PROMPT = (
    "You answer questions about one satellite or aerial image (one date) from its land cover: "
    "building, road, water, vegetation, bare. Use the tools for every number, place and "
    "object id; never guess them. Say when the tools cannot tell. Answer in one or two plain "
    "sentences."
)
"""The system message for a conversation about one image."""
ARCHIVE_HINT = (
    " To find places elsewhere (an airport, a harbour...), use search_archive on the archive index."
)
"""Added to the system message where the archive tool is offered."""
EMPTY = "no answer"
"""What an empty reply is marked with."""
GROUNDING = ("replace", "mark", "off")
"""What the agent may do with a reply that is not grounded in a tool result."""


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
        grounded: whether every number, place and class the text names comes from a tool
            result of this turn (see :mod:`~terrasight.agent.grounding`).
        notes: what happened on the way, in words: a server that refused streaming, a
            repeated tool call, a reply replaced because it was not grounded...
    """

    text: str
    value: Any = None
    unit: str | None = None
    evidence: tuple[int, ...] = ()
    tool_calls: tuple[ToolRecord, ...] = ()
    caveats: tuple[str, ...] = field(default=())
    answerable: bool = True
    grounded: bool = True
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``text``, ``value``, ``unit``, ``evidence``, ``answerable``, ``caveats``,
        ``grounded``, ``notes``, ``tool_calls``."""
        return {
            "text": self.text,
            "value": self.value,
            "unit": self.unit,
            "evidence": list(self.evidence),
            "answerable": self.answerable,
            "caveats": list(self.caveats),
            "grounded": self.grounded,
            "notes": list(self.notes),
            "tool_calls": [c.to_dict() for c in self.tool_calls],
        }


class Agent:
    """A conversation about the changes between ``before`` and ``after``, or about one image.

    Args:
        before: the before image, a result folder (``terrasight change -o DIR``),
            :class:`~terrasight.tasks.interpret.facts_data.ChangeFacts` (questions only),
            or alone one image (or its ``landcover.tif``): a conversation about one date
            (land cover, counts, areas, where things are), ``Agent("scene.tif")``.
        after: the after image (None with a result folder or one image).
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
        grounding: what becomes of a reply naming a number, place or class that no tool
            result of its turn gives: ``"replace"`` (the default: the offline brain answers
            the question instead, and the reply says so), ``"mark"`` (kept, marked as not
            grounded in its text and ``Reply.grounded``) or ``"off"``.
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
        grounding: str = "replace",
        **brain_options: Any,
    ) -> None:
        from terrasight.models.runtime import ModelCache

        if grounding not in GROUNDING:
            raise InvalidOptionError(
                f"grounding={grounding!r}; give one of {', '.join(GROUNDING)}."
            )
        self.grounding = grounding
        self.cache = cache if cache is not None else ModelCache()
        self.session = Session(before, after, method, self.cache, outdir, db=db, series=series)
        self.tools = load_tools(tools) if tools is not None else usable_tools(self.session)
        self.tool_schemas = schemas(self.tools)
        self.max_steps = max_steps
        hint = ARCHIVE_HINT if "search_archive" in self.tools else ""
        prompt = SCENE_PROMPT if self.session.scene is not None else SYSTEM_PROMPT
        self.messages: list[Message] = [{"role": "system", "content": prompt + hint}]
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
            reply = refusal(text) if self.session.scene is None else None
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
        start = len(self.messages) - 1
        answer, records = self._steps(self.brain, self.brain_name, on_text)
        reply = self._reply(answer, records, on_text)
        if self.grounding == "off":
            return reply
        question = str(self.messages[start]["content"])
        missing = unsupported(reply.text, [r.result for r in records], question)
        if not reply.text.strip():
            missing = [EMPTY]  # a blank answer is no answer (a server that sent nothing)
        elif not missing and self.brain_name != "offline":
            missing = self._disagreement(reply, start)
        if not missing:
            return reply
        return self._ungrounded(reply, missing, start, on_text)

    def _disagreement(self, reply: Reply, start: int) -> list[str]:
        """The objects of ``reply`` where the offline reading of the same question answers
        with others (a tool result that does not answer the question); [] when they agree
        or the offline reading has no answer."""
        from terrasight.agent.brains.offline import OfflineBrain

        kept = self.messages
        self.messages = kept[: start + 1]
        try:
            answer, records = self._steps(OfflineBrain(cache=self.cache), "offline", None)
        except TerrasightError:
            return []
        finally:
            self.messages = kept
        if not records or any("error" in r.result for r in records):
            return []
        offline = self._reply(answer, records, None)
        if not offline.evidence or set(offline.evidence) == set(reply.evidence):
            return []
        ids = ", ".join(str(i) for i in offline.evidence)
        mine = ", ".join(str(i) for i in reply.evidence) or "none"
        return [f"objects {mine} (the offline reading of the question gives {ids})"]

    def _steps(
        self, brain: Brain, name: str, on_text: TextSink | None
    ) -> tuple[BrainReply, list[ToolRecord]]:
        """Ask ``brain`` and run its tool calls until it answers; the answer and the calls.

        The same call twice in a row ends the loop with that call's result (a small model
        may repeat itself forever)."""
        records: list[ToolRecord] = []
        notes: list[str] = []
        for _ in range(self.max_steps + 1):
            answer = self._respond(brain, on_text)
            notes += answer.notes
            self.messages.append(answer.message())
            if not answer.tool_calls:
                return replace(answer, notes=tuple(notes)), records
            for call in answer.tool_calls:
                repeated = bool(records) and _same_call(records[-1], call.name, call.arguments)
                result = records[-1].result if repeated else None
                if result is None:
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
                if repeated:
                    notes.append(
                        f"the {name} brain asked for {call.name} with the same arguments twice "
                        "in a row; its last result is the answer."
                    )
                    final = _from_result(result, tuple(notes))
                    self.messages.append(final.message())
                    return final, records
        raise BrainError(
            f"the {name} brain called tools {self.max_steps} times without answering; "
            "ask a simpler question, or raise max_steps."
        )

    def _respond(self, brain: Brain, on_text: TextSink | None) -> BrainReply:
        respond = brain.respond
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
        return Reply(
            text,
            value,
            unit,
            evidence,
            tuple(records),
            caveats,
            answerable,
            notes=tuple(answer.notes),
        )

    def _ungrounded(
        self, reply: Reply, missing: list[str], start: int, on_text: TextSink | None
    ) -> Reply:
        """A reply naming what no tool result gave: marked, or answered again offline."""
        said = f"{reply.text[:200]!r}" + ("" if reply.tool_calls else " (no tool was called)")
        note = (
            f"the {self.brain_name} brain's reply {said} names {', '.join(missing)}, "
            "which no tool result of this turn answering the question gives"
        )
        if missing == [EMPTY]:
            note = f"the {self.brain_name} brain's reply was empty"
        if self.grounding == "mark" or self.brain_name == "offline":
            mark = f" [not grounded: {', '.join(missing)}]"
            if missing == [EMPTY]:
                mark = f"[not grounded: {EMPTY}]"
            if on_text is not None:
                on_text(mark)
            self.messages[-1] = {**self.messages[-1], "content": reply.text + mark}
            return replace(
                reply, text=reply.text + mark, grounded=False, notes=(*reply.notes, note)
            )
        from terrasight.agent.brains.offline import OfflineBrain

        del self.messages[start + 1 :]
        answer, records = self._steps(OfflineBrain(cache=self.cache), "offline", None)
        text = f"{answer.text or ''} (offline answer: the model's reply was not grounded)"
        self.messages[-1] = {**self.messages[-1], "content": text}
        if on_text is not None:
            on_text(f"\n[not grounded; the offline brain answers:] {text}")
        out = self._reply(replace(answer, text=text), records, None)
        notes = (*reply.notes, f"{note}; replaced by the offline brain's answer.", *out.notes)
        return replace(out, notes=notes)

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


def _same_call(record: ToolRecord, name: str, arguments: Any) -> bool:
    """Whether a call repeats ``record``: the same tool with the same arguments."""

    def canonical(args: Any) -> Any:
        if isinstance(args, str):
            try:
                args = json.loads(args or "{}")
            except ValueError:
                return args
        return json.dumps(args, sort_keys=True, default=str)

    return record.name == name and canonical(record.arguments) == canonical(arguments)


def _from_result(result: dict[str, Any], notes: tuple[str, ...]) -> BrainReply:
    """The answer a tool result gives in its own words (its error, if it failed)."""
    if "error" in result:
        return BrainReply(text=f"I could not answer that: {result['error']}", notes=notes)
    evidence = tuple(int(i) for i in result.get("evidence") or ())
    text = str(result.get("text", ""))
    return BrainReply(text, (), result.get("value"), result.get("unit"), evidence, notes=notes)
