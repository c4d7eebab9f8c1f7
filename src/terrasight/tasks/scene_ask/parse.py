"""Read a question about one image into a :class:`SceneQuery`, by rules.

Example:
    >>> q = parse("How many large buildings are there in the north?")
    >>> q.kind, q.targets[0].name, q.targets[0].size, q.targets[0].place
    ('count', 'building', 'large', 'north')
    >>> parse("Are there more roads than water areas?").op
    'more'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from terrasight.errors import QuestionError
from terrasight.tasks.questions import SCENE_TYPES, QuestionType
from terrasight.tasks.scene_ask.words import (
    RELATIONS,
    SHAPES,
    SIZES,
    noun_class,
    place_of,
    unit_of,
    unseen_reason,
)

KINDS = SCENE_TYPES
"""The question types read (:data:`terrasight.tasks.questions.SceneQuestion`; anything else
is ``unanswerable``)."""


@dataclass(frozen=True)
class Target:
    """One kind of object a question is about: ``large square buildings next to water``.

    Attributes:
        words: the phrase as asked.
        name: the land-cover class, None when the phrase names none.
        size: ``small``, ``medium`` or ``large``, or None.
        shape: ``square``, ``circular``, ``rectangular``, ``irregular``, or None.
        place: a grid cell name or compass side, or None for the whole scene.
        relation: ``(relation, other)``: ``next``, ``left``, ``right``, ``top``, ``bottom``.
        unseen: why the classes cannot see what the phrase names, or None.
        extreme: ``largest`` or ``smallest``: the one object of that size.
    """

    words: str
    name: str | None
    size: str | None = None
    shape: str | None = None
    place: str | None = None
    relation: tuple[str, Target] | None = None
    unseen: str | None = None
    extreme: str | None = None


@dataclass(frozen=True)
class SceneQuery:
    """A question read: its type, what it is about, and how it wants the answer.

    Attributes:
        text: the question as asked.
        kind: one of :data:`KINDS`, or ``unanswerable``.
        targets: one target (two for a comparison).
        unit: the area unit asked (``m2``, ``ha``, ``km2``, ``acre``, ``%``) or None.
        op: ``more``, ``less`` or ``equal`` for a comparison.
        measure: ``count`` or ``area`` (what a comparison compares).
        extreme: ``largest`` or ``smallest`` for "where is the largest X".
        place: the place of a "what is in the north-east?" question.
        reason: why an ``unanswerable`` question cannot be answered, when known.
    """

    text: str
    kind: QuestionType
    targets: tuple[Target, ...] = ()
    unit: str | None = None
    op: str | None = None
    measure: str = "count"
    extreme: str | None = None
    place: str | None = None
    reason: str | None = None


_CHANGE = re.compile(
    r"\b(?:chang\w*|new|demolished|appeared|disappeared|removed|since|anymore|used to|"
    r"before|after|grown|grew|expanded|shrunk)\b"
)
_TAIL = re.compile(
    r"\s*(?:\b(?:in|on|of) (?:the|this) (?:image|scene|picture|photo|map|area)\b|\bthere\b|"
    r"\bpresent\b|\bvisible\b|\bare there\b|\bis there\b|\bexist\b|\bare\b|\bis\b|\blocated\b|"
    r"\bin (?:percent|percentage|m2|square \w+|hectares|ha|km2|acres)\b)\s*"
)
_LEAD = re.compile(r"^(?:(?:the|a|an|any|some)\s+)+")
_COMPARE = (
    (re.compile(r"^(are|is) there (more|less|fewer) (.+?) than (.+)$"), None),
    (re.compile(r"^is the (?:number|amount|count) of (.+?) (?:equal to|the same as) (?:that of )?(?:the (?:number|amount|count) of )?(.+)$"), "equal"),
    (re.compile(r"^(?:are|is) there as (?:many|much) (.+?) as (.+)$"), "equal"),
    (re.compile(r"^(?:is|are) (?:the )?(?:area|surface) (?:of|covered by) (.+?) (larger|bigger|greater|smaller|less) than (?:that of |the (?:area|surface) (?:of|covered by) )?(.+)$"), "area"),
    (re.compile(r"^does (.+?) cover (more|less) (?:area |ground )?than (.+)$"), "area"),
)  # fmt: skip
_AREA = re.compile(
    r"^(?:what is |what's )?(?:the )?(?:total )?(?:area|surface)(?: covered)? (?:by|of) (.+)$|"
    r"^what (?:share|percentage|percent|proportion|fraction|part) of (?:the )?(?:image|scene|picture|area|map) is (?:covered by |made of )?(.+)$|"
    r"^(?:what|which) (?:share|percentage|percent|proportion|fraction) (?:of (?:the )?(?:image|scene|picture) )?(?:is|are) (.+)$|"
    r"^how much (?:of (?:the |this )?(?:image|scene|picture) is (?:covered by )?)?(?:area (?:is covered by |does )?)?(.+?)(?: cover)?$|"
    r"^how (?:many|much) (?:square metres|square meters|m2|hectares|ha|km2|square kilometres|square kilometers|acres) (?:of|does|do|are|is) (.+?)(?: cover)?$|"
    r"^how (?:large|big) is (?:the )?(?:area|surface) (?:of|covered by) (.+)$|"
    r"^how (?:large|big) (?:is|are) (.+)$"
)  # fmt: skip
_COUNT = re.compile(
    r"^how many (.+?)(?: are there| can you see| do you see| are visible| are present)?$|"
    r"^what is the (?:number|amount|count) of (.+)$|^(?:count|number of) (.+)$"
)
_WHERE = re.compile(r"^where (?:is|are) (.+)$")
EXTREMES = {"largest": "largest", "biggest": "largest", "smallest": "smallest"}
"""Superlatives that pick one object."""
_WHAT = re.compile(
    r"^what(?:'s| is| are)?(?: there)?(?: to be seen| to see)? (?:in|at|on|towards) "
)
_PRESENCE = re.compile(
    r"^(?:is|are) there (.+)$|^(?:is|are) (.+?) (?:present|visible)$|"
    r"^(?:does|do) (?:the |this )?(?:image|scene|picture) (?:contain|show|have|include) (.+)$|"
    r"^(?:can|do) you see (.+)$|^(?:is|are) (?:there )?any (.+)$"
)


def parse(question: str) -> SceneQuery:
    """Read a question about one image (rules only; no model).

    Raises:
        QuestionError: the question is empty.

    Example:
        >>> parse("what share of the image is vegetation?").unit
        '%'
        >>> parse("where is the largest building?").extreme
        'largest'
    """
    text = " ".join(question.lower().replace("?", " ").replace("’", "'").split()).strip(" .!")
    text = re.sub(r"\s+(?:in|on|of) (?:the|this) (?:image|scene|picture|photo|map)$", "", text)
    if not text:
        raise QuestionError("the question is empty; ask e.g. 'how many buildings are there?'")
    if _CHANGE.search(text):
        reason = (
            "one image shows one date; to ask what changed, give two images "
            '(terrasight ask BEFORE AFTER "QUESTION")'
        )
        return SceneQuery(question, "unanswerable", reason=reason)
    if re.search(r"\b(rural|urban)\b", text):
        return SceneQuery(question, "rural_urban")
    for pattern, how in _COMPARE:
        m = pattern.match(text)
        if m:
            return _comparison(question, m, how)
    unit = unit_of(text)
    m = _AREA.match(text)
    if m and (unit is not None or re.search(r"\b(area|surface|how much|cover)", text)):
        return _one(question, "area", _group(m), unit or None)
    m = _COUNT.match(text)
    if m:
        return _one(question, "count", _group(m))
    m = _WHERE.match(text)
    if m:
        one = target(m.group(1))
        return SceneQuery(question, "where", (one,), extreme=one.extreme)
    if _WHAT.match(text):
        place, _ = place_of(text)
        if place is not None:
            return SceneQuery(question, "what", place=place)
    m = _PRESENCE.match(text)
    if m:
        return _one(question, "presence", _group(m))
    return SceneQuery(question, "unanswerable")


def _group(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g)


def _one(
    question: str, kind: str, phrase: str, unit: str | None = None, **kw: str | None
) -> SceneQuery:
    return SceneQuery(question, kind, (target(phrase),), unit=unit, **kw)  # type: ignore[arg-type]


def _comparison(question: str, m: re.Match[str], how: str | None) -> SceneQuery:
    g = m.groups()
    if how is None:  # are/is there more/less/fewer X than Y
        measure = "count" if g[0] == "are" else "area"
        op = "more" if g[1] == "more" else "less"
        a, b = g[2], g[3]
    elif how == "equal":
        measure, op, a, b = "count", "equal", g[0], g[1]
    else:
        measure, a, b = "area", g[0], g[2]
        op = "more" if g[1] in ("larger", "bigger", "greater", "more") else "less"
    targets = (target(a), target(b))
    return SceneQuery(question, "comparison", targets, op=op, measure=measure)


def target(phrase: str) -> Target:
    """Read one object phrase: sizes, shapes, a place, a relation to another phrase.

    Example:
        >>> t = target("square buildings on the left of a road")
        >>> t.name, t.shape, t.relation[0], t.relation[1].name
        ('building', 'square', 'left', 'road')
    """
    words = _clean(phrase)
    relation = None
    for pattern, rel in RELATIONS:
        m = re.search(rf"\b(?:{pattern})\s+(?!the (?:image|scene|picture)\b)(.+)$", words)
        if m and m.start() > 0:
            relation = (rel, target(m.group(1)))
            words = words[: m.start()].strip()
            break
    place, words = place_of(words)
    extreme = next((EXTREMES[w] for w in words.split() if w in EXTREMES), None)
    words = " ".join(w for w in words.split() if w not in EXTREMES)
    size = next((SIZES[w] for w in words.split() if w in SIZES), None)
    shape = next((SHAPES[w] for w in words.split() if w in SHAPES), None)
    core = _clean(words)
    unseen = unseen_reason(core)
    return Target(core or phrase, noun_class(core), size, shape, place, relation, unseen, extreme)


def _clean(phrase: str) -> str:
    text = _TAIL.sub(" ", f" {phrase} ")
    return _LEAD.sub("", " ".join(text.split()))
