"""Read a plain-language question about a change result into a typed :class:`Query`.

Rules first: patterns decide the question type and fill the slots (land-cover
classes and whether they were gained or lost, places on the 3 x 3 grid, sizes,
shapes, numbers and units). Only when no rule types the question is the
sentence-embedding model asked: the type of the nearest of a few prototype
questions (:data:`~terrasight.tasks.interpret.ask_words.PROTOTYPES`). What the
two dates cannot answer (another date, a cause, a thing the land-cover
vocabulary lacks) is marked ``unanswerable`` with the reason, never guessed.

Example:
    >>> q = parse_question("How many new buildings are in the north?", model=False)
    >>> q.kind, q.became, [r.name for r in q.regions]
    ('count', ('built-up',), ['the north'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from terrasight.errors import QuestionError
from terrasight.tasks.interpret.ask_slots import (
    Region,
    find_classes,
    find_length_unit,
    find_numbers,
    find_regions,
    find_shape,
    find_size,
    find_unit,
    is_english,
)
from terrasight.tasks.interpret.ask_words import (
    CLASS_WORDS,
    GENERIC_NOUNS,
    MIN_SIMILARITY,
    PROTOTYPES,
    QUESTION_TYPES,
    THIRD_DATE,
    TYPE_WORDS,
    UNSUPPORTED_THINGS,
    WHY,
)
from terrasight.tasks.questions import QuestionType, question_type

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

__all__ = ["Query", "Region", "parse_question"]

_COMPARE_CUE = re.compile(
    r"\b(?:more|less|fewer|most|least|bigger|larger|greater|smaller|compare[ds]?|comparison"
    r"|versus|vs\.?|differ(?:ence|s)?)\b"
)
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("cloud", r"\bclouds?\b|\bcloudy\b|\bcloud[- ]?(?:cover|free|mask|shadows?)\b|\bhaz[ey]\b"),
        (
            "date",
            r"^when\b|\bwhen (?:did|was|were|is|has|have|do|does)\b|\bhow long ago\b"
            r"|\b(?:what|which) (?:dates?|years?|days?|months?|time)\b|\bdates? of\b"
            r"|\bat what (?:date|time)\b|\bin which year\b",
        ),
        (
            "length",
            r"\bhow (?:long|wide|far)\b|\blength\b|\bwidth\b|\bperimeter\b|\bcircumference\b"
            r"|\b(?:longest|widest|shortest|narrowest)\b"
            r"|\bhow many (?:met(?:re|er)s|kilomet(?:re|er)s|miles)\b",
        ),
        (
            "listing",
            r"^(?:please |can you |could you )?(?:list|show|name|enumerate|give me|describe)\b"
            r"(?! (?:me )?where\b)|^which (?:of the )?(?:objects?|changes?|ones|areas?|regions?|patches)"
            r"\b(?! (?:is|are|was|were) (?:the )?(?:largest|biggest|smallest))",
        ),
        ("area", r"\bhow many (?:hectares|square|pixels|km|m2|ha\b|sq|acres)"),
        ("count", r"\bhow many\b|\bnumber of\b|^count\b|\bcount (?:the|all)\b"),
        (
            "area",
            r"\bhow (?:much|large|big)\b|\bwhat (?:is the )?(?:total )?(?:changed )?"
            r"(?:area|percentage|percent|fraction|share|proportion|size|extent)\b"
            r"|\b(?:size|extent|area) of\b|\bin (?:hectares|square|km2|m2)\b|\bwhat part of\b",
        ),
        (
            "location",
            r"^where\b|\bwhere (?:is|are|was|were|did|do|does|has|have)\b|\bin which "
            r"(?:part|direction|area|region|side|quarter|corner|half)\b|^which (?:part|direction|"
            r"area|region|side|quarter|corner|half)\b|^what (?:part|direction|side|region|corner)\b"
            r"|\blocation of\b|\blocated\b",
        ),
        (
            "class",
            r"^(?:so )?what\b(?! (?:is|are) the (?:number|area|total))|^into what\b"
            r"|\bwhat (?:land[- ]?cover|class|kind|type)\b",
        ),
        (
            "presence",
            r"^(?:is|are|was|were|has|have|had|did|does|do|can|could|any)\b|\bany(?:thing)? "
            r"(?:new |changes?|changed)",
        ),
    )
)


@dataclass(frozen=True)
class Query:
    """A question read into what it asks for and about which changes.

    Attributes:
        text: the question as asked.
        kind: one of :data:`~terrasight.tasks.interpret.ask_words.QUESTION_TYPES`, or
            ``"unanswerable"`` (then :attr:`unanswerable` says why).
        was, became: land-cover classes lost (before, not after) and gained (after, not
            before); both set: one class turned into the other.
        involves: classes the changes involve on either date.
        regions: places named, in order (two of them for a comparison).
        size, shape: ``"large"``/``"small"`` and ``"elongated"``/``"compact"`` filters.
        min_area, max_area: area filters as (value, unit).
        unit: the unit asked for: of area (``m2``, ``ha``, ``km2``, ``acre``, ``mi2``, ``px``,
            ``%``), or of length in a question of length (``m``, ``km``, ``mi``, ``px``).
        extreme: ``"largest"`` or ``"smallest"``: the question is about that one change.
        limit: how many changes a listing asks for.
        count_threshold: (``">"``, ``">="``, ``"<"`` or ``"=="``, n) of "more than n changes".
        target: for a class question, the date whose classes are asked for.
        typed_by: ``"rules"`` or ``"sentence model"`` (then :attr:`similarity` is its cosine).
        unanswerable: why the images cannot answer it.
        notes: how it was read, where that is worth saying.
    """

    text: str
    kind: QuestionType
    was: tuple[str, ...] = ()
    became: tuple[str, ...] = ()
    involves: tuple[str, ...] = ()
    regions: tuple[Region, ...] = ()
    size: str | None = None
    shape: str | None = None
    min_area: tuple[float, str] | None = None
    max_area: tuple[float, str] | None = None
    unit: str | None = None
    extreme: str | None = None
    limit: int | None = None
    count_threshold: tuple[str, int] | None = None
    target: str = "after"
    typed_by: str = "rules"
    similarity: float | None = None
    unanswerable: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def classes(self) -> tuple[str, ...]:
        """Every class the question names."""
        return tuple(dict.fromkeys(self.was + self.became + self.involves))

    @property
    def cells(self) -> frozenset[str] | None:
        """The grid cells the question is limited to (None: the whole scene)."""
        if not self.regions or self.kind == "comparison":
            return None
        return frozenset(c for r in self.regions for c in r.cells)


def parse_question(question: str, cache: ModelCache | None = None, model: bool = True) -> Query:
    """The :class:`Query` of a question.

    Args:
        question: an English question about what changed between the two images.
        cache: keeps the sentence-embedding model for later calls.
        model: ask the sentence-embedding model when no rule types the question (it is
            loaded then only); False: rules only.

    Raises:
        QuestionError: the question is empty or not English.

    Example:
        >>> parse_question("Where is the largest change?", model=False).kind
        'location'
        >>> parse_question("Did the forest shrink?", model=False).was
        ('vegetation',)
        >>> parse_question("How many cars are there?", model=False).kind
        'unanswerable'
    """
    text = normalise(question)
    if not text:
        raise QuestionError(
            "the question is empty; ask about the change, e.g. 'how many changes are there?'."
        )
    if not is_english(text):
        raise QuestionError(
            f"cannot read {question.strip()!r}: questions must be in English, e.g. "
            "'what percentage of the scene changed?'."
        )
    reason = _unanswerable(text)
    slots = _slots(text)
    if reason:
        return Query(text=question.strip(), kind="unanswerable", unanswerable=reason, **slots)
    kind = _kind_by_rules(text, slots)
    if kind == "length":
        plain = re.sub(r"\bhow long\b|\b(?:longest|length)\b", " ", text)
        slots = {**slots, "unit": find_length_unit(text), "shape": find_shape(plain)}
    query = Query(text=question.strip(), kind=question_type(kind or "unanswerable"), **slots)
    if kind is None:
        query = _typed_by_model(query, text, cache) if model else query
        if query.kind == "unanswerable" and not query.unanswerable:
            reason = "the question is like none of those I can answer"
            if not model:
                reason += " (only the rules were used to read it)"
            query = replace(query, unanswerable=f"{reason}; {CAN_ANSWER}")
    if query.kind in ("presence", "count", "listing", "location") and not query.classes:
        if thing := unknown_thing(text):
            query = replace(query, kind="unanswerable", unanswerable=no_class_reason(thing))
    return query


CAN_ANSWER = "I can answer questions about " + ", ".join(TYPE_WORDS[k] for k in QUESTION_TYPES)
"""The question types, in words, for a question that fits none of them."""
_THING = re.compile(
    r"(?:^(?:is|are|was|were) there|\bhow many|\bany|\bnew)"
    r"((?: [a-z-]+){1,3})"
)


def unknown_thing(text: str) -> str | None:
    """A thing the question asks about that no land-cover class names ("a new airport"),
    or None.

    Example:
        >>> unknown_thing("is there a new airport?"), unknown_thing("are there new houses?")
        ('airport', None)
        >>> unknown_thing("is there any large change in the north?") is None
        True
    """
    classes = "|".join(CLASS_WORDS.values())
    for m in _THING.finditer(text):
        for word in m.group(1).split():
            word = word.strip("?.,!'")
            if not word or word in GENERIC_NOUNS or re.fullmatch(r"\d+|[a-z]", word):
                continue
            if re.fullmatch(rf"(?:{classes})", word) or re.fullmatch(
                r"north|south|east|west|[a-z]+ern|centre|center|middle|left|right|top|bottom"
                r"|upper|lower|been|being|built|appeared|changed|cleared|lost|gained|removed"
                r"|there|now|since|between|before|after|bigger|larger|smaller|than|or|and|of"
                r"|is|are|was|were|did|do|does|has|have|changes?|i|you|we|they|it",
                word,
            ):
                break
            if word.endswith(("ed", "ing", "ly")):
                break
            return word
    return None


def no_class_reason(thing: str) -> str:
    """Why a question about ``thing``, which no land-cover class names, cannot be answered."""
    return (
        "the land-cover classes (built-up, road, bare land, vegetation, water, farmland) "
        f"have nothing for '{thing}', so a change there would not be told apart from any other"
    )


def normalise(question: str) -> str:
    """Lower case, one space, plain dashes and ``2`` for ``²``.

    Example:
        >>> normalise("  Where is   the North–East? ")
        'where is the north-east?'
    """
    text = str(question or "").lower().replace("²", "2")
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = text.replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip()


def _unanswerable(text: str) -> str | None:
    if m := re.search(THIRD_DATE, text):
        return (
            f"the pair shows two dates only, and the question is about another time "
            f"('{m.group(0).strip()}')"
        )
    if re.search(WHY, text):
        return "images show what changed and where, not why or by whom"
    things = re.findall(rf"\b(?:{UNSUPPORTED_THINGS})\b", text)
    if things:
        return no_class_reason(things[0])
    return None


def _slots(text: str) -> dict:
    """Every slot of a question as :class:`Query` keyword arguments."""
    rest, numbers = find_numbers(text)
    was, became, involves, target = find_classes(rest)
    return {
        "was": was,
        "became": became,
        "involves": involves,
        "target": target,
        "regions": find_regions(rest),
        "size": find_size(rest),
        "shape": find_shape(rest),
        "unit": find_unit(text),
        **numbers,
    }


def _kind_by_rules(text: str, slots: dict) -> str | None:
    """The question type the patterns give, or None when none fits."""
    regions = slots["regions"]
    same_role = max(len(slots["was"]), len(slots["became"]), len(slots["involves"]))
    if (len(regions) >= 2 or same_role >= 2) and _COMPARE_CUE.search(text):
        if len(regions) >= 2 or re.search(r"\bor\b|\bthan\b|\bversus\b|\bvs\b", text):
            return "comparison"
    for kind, pattern in _RULES:
        if pattern.search(text):
            return kind
    return None


def _typed_by_model(query: Query, text: str, cache: ModelCache | None) -> Query:
    """The query typed by the nearest prototype question, or unanswerable without the model."""
    try:
        kind, similarity = nearest_prototype(text, cache)
    except ImportError:
        return replace(
            query,
            unanswerable="no rule reads this question and the sentence model that reads the "
            "others is not installed (pip install terrasight[learned])",
        )
    if similarity < MIN_SIMILARITY:
        return replace(
            query,
            unanswerable=f"the question is like none of those I can answer (the nearest is "
            f"about {TYPE_WORDS[kind]}, similarity {similarity:.2f}, too far to trust); "
            + CAN_ANSWER,
            similarity=similarity,
        )
    note = f"question type '{kind}' chosen by the sentence model (similarity {similarity:.2f})"
    return replace(
        query,
        kind=question_type(kind),
        typed_by="sentence model",
        similarity=similarity,
        notes=(*query.notes, note),
    )


def nearest_prototype(text: str, cache: ModelCache | None = None) -> tuple[str, float]:
    """(type, cosine) of the prototype question nearest to ``text``.

    Raises:
        ImportError: the sentence-embedding model is not installed (a
            :class:`~terrasight.errors.MissingDependencyError`).

    Example:
        >>> nearest_prototype("tell me the amount of land that changed")  # doctest: +SKIP
        ('area', 0.71)
    """
    from terrasight.models.runtime import cached
    from terrasight.models.text_onnx import sentence_embeddings

    kinds = [k for k, texts in PROTOTYPES.items() for _ in texts]

    def build():
        return sentence_embeddings([t for texts in PROTOTYPES.values() for t in texts])

    prototypes = cached(cache, ("ask-prototypes", tuple(PROTOTYPES.items())), build)
    sims = prototypes @ sentence_embeddings([text])[0]
    best = int(sims.argmax())
    return kinds[best], float(sims[best])
