"""Follow-up questions read in the context of the conversation: what "those", "it", "there"
and "and in the north?" refer to, and the tool calls that answer them.

:class:`State` holds what earlier turns leave behind: the last question about a
set of changes (the *topic*), the objects of its answer (the *group*: "those",
"them"), the last single object spoken of (the *focus*: "it") and the last
place (*there*). :func:`resolve` turns a question and a state into a
:class:`Plan` of tool calls; :func:`after` gives the state once they have run.

Example:
    >>> from terrasight.tasks.interpret.ask_parse import parse_question
    >>> def read(text):
    ...     return parse_question(text, model=False)
    >>> first = resolve("how many changes are there?", State(), read)
    >>> first.steps
    (('answer_question', {'question': 'how many changes are there?'}),)
    >>> state = after(first, State(), {"evidence": [1, 2, 3], "value": 3})
    >>> resolve("and in the north?", state, read).steps
    (('count_changes', {'places': ['north']}),)
    >>> resolve("how large is the biggest of those?", state, read).steps
    (('measure', {'extreme': 'largest', 'object_ids': [1, 2, 3]}),)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from terrasight.agent.brains.queries import query_arguments
from terrasight.errors import QuestionError
from terrasight.tasks.interpret.ask_parse import Query, normalise
from terrasight.tasks.interpret.ask_slots import Region
from terrasight.tasks.interpret.vocabulary import CELL_NAMES, DIRECTIONS
from terrasight.tasks.interpret.when import WHEN_WORDS, find_span
from terrasight.tasks.questions import QuestionType

GROUP_WORDS = re.compile(r"\b(?:those|them|these|they|ones)\b")
FOCUS_WORDS = re.compile(r"\b(?:it|its|that one|this one|th(?:at|is) (?:change|object|area))\b")
THERE = re.compile(r"\bthere\b")
NOT_A_PLACE = re.compile(
    r"\b(?:is|are|was|were|be|been|any) there\b|\bthere (?:is|are|was|were|be|been)\b"
)
ELLIPSIS = re.compile(r"^(?:and|but|so|now|also|then|what about|how about|what of|same for)\b")
EXPORT = re.compile(r"\b(?:export|geojson|save|download|shapefile|map)\b")
SHOW = re.compile(r"^(?:please |can you |could you )?(?:show|display|draw|highlight)\b")
DESCRIBE = re.compile(
    r"^(?:please |can you |could you )?(?:describe|summari[sz]e|caption)\b|\bwhat happened\b"
)
POSSESSIVE_AREA = re.compile(r"\b(?:its|their) (?:total )?(?:area|size|extent|surface)\b")
ARCHIVE = re.compile(
    r"\b(?:in|through|from|search|searching|of) (?:the|my|our) archive\b"
    r"|^where else (?:is there|are there|can (?:i|we) (?:find|see)|do (?:i|we) find)\b"
)
CHANGE_WORDS = re.compile(r"\bchang|\bnew\b|appear|\bbuilt\b|\bgained\b|\blost\b|\bremoved\b")
"""Words that keep "where else is there ...?" about the change, not the archive."""
ARCHIVE_FRAME = re.compile(
    r"^(?:please |can you |could you |now |and |also )*"
    r"(?:search|look|find|show me|where else (?:is there|are there|can (?:i|we) (?:find|see)|do "
    r"(?:i|we) find)|are there|is there|where (?:is|are))?\s*(?:(?:in|through) )?"
    r"(?:(?:the|my|our) archive)?\s*(?:for )?(?:any )?|\s*(?:(?:in|from|of) (?:the|my|our) "
    r"archive)?\s*(?:else(?:where)?)?\s*[?.!]*$"
)
ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "1st", "2nd", "3rd", "4th", "5th")
SMALL = ("smallest", "tiniest")
RANK = re.compile(
    rf"\b({'|'.join(ORDINAL_WORDS)})[ -](largest|biggest|greatest|{'|'.join(SMALL)})\b"
)
"""An ordinal extreme: "the second largest", "the 3rd smallest"."""
ONE = re.compile(r"^(?:and |but |what about |how about )?(?:the|that|this) one\b")
"""A follow-up about the same one change elsewhere: "the one in the north?"."""
TIME_WORDS = re.compile(WHEN_WORDS)
"""Words of a question about when (a date in it counts too)."""
THEN = re.compile(r"\b(after|since|before|until) (?:that|then)\b")
"""A time named by the answer before."""
LENGTH = re.compile(r"\bhow (?:long|wide)\b(?! ago)|\blength\b|\bwidth\b")
SPECIFIC = {"count": "count_changes", "area": "measure", "location": "locate"}
"""Question type -> the tool answering it when the question leans on earlier turns."""
IMAGE_KINDS = ("date", "cloud")
"""Question types about the images, not about some of the change objects: "it" and "those"
do not narrow them."""
SET_KINDS = ("presence", "count", "area", "class", "comparison", "listing", "location")
NO_ARCHIVE = (
    "I could not answer that: no archive index was given to this conversation; start it with "
    "one (Agent(..., db=PATH) or terrasight chat ... --db PATH), built with "
    "`terrasight index build SOURCES... --db PATH`."
)
HARD_REASONS = ("another time", "why or by whom", "have nothing for", "too far to trust")
"""Parts of the reasons for which a question is unanswerable whatever came before."""


@dataclass(frozen=True)
class State:
    """What earlier turns leave behind.

    Attributes:
        topic: the last question about a set of changes, with the ids it was limited to.
        topic_ids: those ids (None: all objects).
        group: ids of the objects of the last answer about several ("those", "them").
        focus: the last single object spoken of ("it").
        place: the last place named or answered ("there").
        when: the last date answered ("after that", "since then").
        single: the last question about one extreme change ("the largest"), with the ids it
            was among (``single_ids``) and its rank (2: the second largest), for "and the
            second largest?" and "the one in the north?".
    """

    topic: Query | None = None
    topic_ids: tuple[int, ...] | None = None
    group: tuple[int, ...] = ()
    focus: int | None = None
    place: tuple[Region, ...] = ()
    when: str | None = None
    single: Query | None = None
    single_ids: tuple[int, ...] | None = None
    rank: int | None = None


@dataclass(frozen=True)
class Plan:
    """Tool calls answering one question, and how it was read.

    Attributes:
        steps: (tool, arguments) in order; a step's ``object_ids`` of None is filled with
            the evidence of the step before.
        query: the question as read, context filled in (None: no query, e.g. describe).
        ids: the objects it was limited to.
        used: what it took from earlier turns ("group", "focus", "place", "topic").
    """

    steps: tuple[tuple[str, dict[str, Any]], ...]
    query: Query | None = None
    ids: tuple[int, ...] | None = None
    used: tuple[str, ...] = ()


def resolve(
    text: str,
    state: State,
    read: Callable[[str], Query],
    offered: Callable[[str, set[str]], bool] | None = None,
    tools: frozenset[str] = frozenset(),
) -> Plan:
    """The tool calls that answer ``text`` after the turns that left ``state``.

    Args:
        text: the question.
        state: what earlier turns left (see :func:`after`).
        read: question -> :class:`Query` (rules; the sentence model when they are unsure).
        offered: (tool, argument names) -> whether that tool is offered and takes them;
            tools that are not fall back to ``query_changes``.
        tools: the names of the tools offered, where known: with ``when_changed`` among
            them, questions of time go to it (and every question, without the pair's
            ``answer_question``).
    """
    t = normalise(text)
    archive = ARCHIVE.search(t) and ("archive" in t or not CHANGE_WORDS.search(t))
    if archive and (offered is None or offered("search_archive", {"text"})):
        return Plan((("search_archive", {"text": archive_subject(t)}),))
    if archive and "archive" in t and tools and "search_archive" not in tools:
        raise QuestionError(NO_ARCHIVE)
    if "ask_image" in tools and "answer_question" not in tools:
        return _scene(text, t)
    used: list[str] = []
    ids: tuple[int, ...] | None = None
    if "when_changed" in tools and ("answer_question" not in tools or about_time(t)):
        return _when(text, t, state)
    if GROUP_WORDS.search(t) and state.topic is not None:
        ids = tuple(state.group)
        used.append("group")
    elif FOCUS_WORDS.search(t) and (state.focus or state.group):
        ids = (state.focus or state.group[0],)
        used.append("focus")
    if DESCRIBE.search(t):
        return Plan((("describe_change", _ids(ids)),), None, ids, tuple(used))
    q = read(text)
    if EXPORT.search(t) or (SHOW.search(t) and (ids or q.kind in ("listing", "unanswerable"))):
        return _export(q, ids, state, used)
    ranked = _ranked(t, q, state, offered)
    if ranked is not None:
        return ranked
    if POSSESSIVE_AREA.search(t):
        q = replace(q, kind="area", unanswerable=None)
    if LENGTH.search(t) and (used or q.kind != "length"):
        q = replace(q, kind="length", unanswerable=None)
    if q.kind in IMAGE_KINDS or (
        q.kind == "unanswerable" and any(h in (q.unanswerable or "") for h in HARD_REASONS)
    ):
        return Plan((("answer_question", {"question": text}),), q, None, ())
    if state.topic is not None and (ELLIPSIS.search(t) or q.kind == "unanswerable"):
        if not (q.kind == "unanswerable" and re.match(r"^which\b", t)):
            q, ids = _merged(q, state), (ids if ids is not None else state.topic_ids)
            used.append("topic")
    if q.kind == "unanswerable" and re.match(r"^which\b", t):
        q = replace(q, kind="listing", unanswerable=None)
    if THERE.search(t) and not NOT_A_PLACE.search(t) and state.place and not q.regions:
        q = replace(q, regions=state.place)
        used.append("place")
    if not used:
        measured = _class_change(q, tools)
        if measured is not None:
            return Plan((measured,), q, None, ())
        return Plan((("answer_question", {"question": text}),), q, None, ())
    return Plan((_step(q, ids, offered),), q, ids, tuple(used))


def _class_change(q: Query, tools: frozenset[str]) -> tuple[str, dict[str, Any]] | None:
    """What a class lost, gained or became over the whole scene, or how many buildings were
    built or removed, from the measured land-cover table (when its tool is offered)."""
    if "land_cover_changes" not in tools or q.regions or q.size or q.shape or q.extreme:
        return None
    was, became = q.was[:1], q.became[:1]
    building = "built-up" in (*was, *became)
    if not (was or became) or q.kind not in ("area", "class", "count"):
        return None
    if q.kind == "count" and not building:
        return None
    args = {"was": was[0]} if was else {}
    return "land_cover_changes", {**args, **({"became": became[0]} if became else {})}


def _ranked(
    t: str, q: Query, state: State, offered: Callable[[str, set[str]], bool] | None
) -> Plan | None:
    """ "and the second largest?", "and the smallest?", "the one in the north?": one extreme
    change among the objects of the turns before (None: not such a follow-up)."""
    found = RANK.search(t)
    one = ONE.match(t) if state.single is not None else None
    if not (ELLIPSIS.search(t) or one) or (q.kind != "unanswerable" and not one):
        return None
    rank = (ORDINAL_WORDS.index(found.group(1)) % 5) + 1 if found else None
    extreme = q.extreme or (found and ("smallest" if found.group(2) in SMALL else "largest"))
    if extreme:  # among the objects of the last turn: its one extreme change, or its set
        base, ids = (
            (state.single, state.single_ids) if state.single else (state.topic, state.topic_ids)
        )
    elif one:
        base, ids, rank = state.single, state.single_ids, state.rank
        extreme = state.single.extreme if state.single else None
    else:
        return None
    if base is None or not extreme:
        return None
    kind: QuestionType = "location" if base.kind == "location" and not rank else "area"
    query = replace(
        base, text=q.text, kind=kind, extreme=extreme, regions=q.regions or base.regions
    )
    args = {**query_arguments(replace(query, unit=None if kind == "location" else query.unit))}
    args.update(_ids(ids))
    if rank and rank > 1:
        args["rank"] = rank
    tool = "locate" if kind == "location" else "measure"
    if offered is not None and not offered(tool, set(args)):
        return None
    return Plan(((tool, args),), query, ids, ("topic",))


def _when(text: str, t: str, state: State) -> Plan:
    """Ask the series tool, limited to "those" or "it" of the turns before; "after that"
    and "since then" name the date of the answer before."""
    if state.when is not None and THEN.search(t):
        text = THEN.sub(lambda m: f"{m.group(1)} {state.when}", t)
        return Plan((("when_changed", {"question": text}),), None, None, ("when",))
    args: dict[str, Any] = {"question": text}
    if GROUP_WORDS.search(t) and state.group:
        args["object_ids"] = list(state.group)
    elif FOCUS_WORDS.search(t) and state.focus:
        args["object_ids"] = [state.focus]
    ids = tuple(args.get("object_ids", ())) or None
    return Plan((("when_changed", args),), None, ids, ("group",) if ids else ())


LAND_COVER = re.compile(
    r"\bland ?cover\b|\bwhat (?:classes|is (?:this|the) (?:image|scene) made of)\b"
)
"""A question about the whole land cover of one image."""


def _scene(text: str, t: str) -> Plan:
    """One image: describe it, give its land cover, or ask its question of the map."""
    if DESCRIBE.search(t):
        return Plan((("describe_image", {}),))
    if LAND_COVER.search(t):
        return Plan((("image_landcover", {}),))
    return Plan((("ask_image", {"question": text}),))


def about_time(text: str) -> bool:
    """Whether a (normalised) question asks when, or names a date or a year.

    Example:
        >>> about_time("what changed since 2021?"), about_time("how many changes?")
        (True, False)
    """
    return bool(TIME_WORDS.search(text) or THEN.search(text)) or find_span(text) is not None


def archive_subject(text: str) -> str:
    """What an archive request looks for: the request without its frame.

    Example:
        >>> archive_subject("search the archive for an airport")
        'an airport'
        >>> archive_subject("find a harbour in the archive")
        'a harbour'
        >>> archive_subject("where else is there a stadium?")
        'a stadium'
    """
    subject = ARCHIVE_FRAME.sub("", normalise(text)).strip(" ?.!,")
    return subject or text


def _ids(ids: tuple[int, ...] | None) -> dict[str, Any]:
    return {} if ids is None else {"object_ids": list(ids)}


def _merged(q: Query, state: State) -> Query:
    """The topic's question with the slots ``q`` names put in place of its own."""
    topic = state.topic
    assert topic is not None
    out = replace(topic, text=q.text, extreme=q.extreme or None, unit=q.unit or topic.unit)
    if q.regions:
        out = replace(out, regions=q.regions)
    if q.classes:
        out = replace(out, was=q.was, became=q.became, involves=q.involves)
    if q.size or q.shape:
        out = replace(out, size=q.size or topic.size, shape=q.shape or topic.shape)
    return out


def _step(
    q: Query, ids: tuple[int, ...] | None, offered: Callable[[str, set[str]], bool] | None
) -> tuple[str, dict[str, Any]]:
    """One tool call answering ``q`` among ``ids``."""
    args = {**query_arguments(q), **_ids(ids)}
    tool = SPECIFIC.get(q.kind)
    if tool and (offered is None or offered(tool, set(args))):
        return tool, args
    return "query_changes", {"kind": q.kind, **args}


def _export(q: Query, ids: tuple[int, ...] | None, state: State, used: list[str]) -> Plan:
    """Export the objects named ("them"), or those a question selects (two steps then)."""
    slots = query_arguments(replace(q, unit=None, extreme=None))
    if ids is not None or not slots:
        chosen = ids if ids is not None else (tuple(state.group) or None)
        if ids is None and chosen:
            used.append("group")
        return Plan((("export_geojson", _ids(chosen)),), None, chosen, tuple(used))
    select = ("query_changes", {"kind": "listing", **slots})
    return Plan((select, ("export_geojson", {"object_ids": None})), q, None, tuple(used))


def after(plan: Plan, state: State, result: dict[str, Any]) -> State:
    """The state once ``plan`` has run and its last tool gave ``result``.

    Example:
        >>> after(Plan((("locate", {}),)), State(), {"evidence": [4], "value": "north"}).focus
        4
    """
    if "error" in result:
        return state
    evidence = tuple(int(i) for i in result.get("evidence") or ())
    q = plan.query
    new = state
    if len(evidence) == 1:
        new = replace(new, focus=evidence[0])
    single = q is not None and (q.extreme is not None or plan.used == ("focus",))
    if q is not None and q.extreme is not None and len(evidence) == 1:
        rank = plan.steps[-1][1].get("rank")
        new = replace(new, single=q, single_ids=plan.ids, rank=rank)
    if (
        q is not None
        and q.kind in SET_KINDS
        and not single
        and plan.steps[-1][0] != "export_geojson"
    ):
        new = replace(new, topic=q, topic_ids=plan.ids, group=evidence, single=None, rank=None)
    if plan.steps[-1][0] == "when_changed":
        if len(evidence) > 1:
            new = replace(new, group=evidence)
        value = result.get("value")
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            new = replace(new, when=value)
    if q is not None and q.regions:
        new = replace(new, place=q.regions)
    elif isinstance(result.get("value"), str) and result["value"] in (*CELL_NAMES, *DIRECTIONS):
        value = result["value"]
        new = replace(new, place=(Region(f"the {value}", DIRECTIONS.get(value, (value,))),))
    return new
