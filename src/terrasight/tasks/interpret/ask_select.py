"""Which change objects a :class:`~terrasight.tasks.interpret.ask_parse.Query` is about,
and the :class:`Answer` it gets, with the words shared by every kind of answer.

Example:
    >>> area_text(23_000.0, "m2"), area_text(412.0, "px")
    ('2.3 ha', '412 px')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from terrasight.tasks.interpret.facts_data import UNKNOWN
from terrasight.tasks.questions import QuestionType

if TYPE_CHECKING:
    from terrasight.tasks.interpret.ask_parse import Query
    from terrasight.tasks.interpret.facts_data import ChangeFacts, ObjectFacts

LOW_CONFIDENCE = 0.6
"""A land-cover class less probable than this is called low-confidence in answers (below
the facts' own threshold a class is ``"unknown"``, and answers say so too)."""
UNIT_M2 = {"m2": 1.0, "ha": 1e4, "km2": 1e6, "acre": 4046.8564224, "mi2": 2589988.110336}
"""Square metres in each area unit."""
UNIT_NAMES = {"m2": "m2", "ha": "ha", "km2": "km2", "acre": "acres", "mi2": "square miles"}
CANT_TELL = "I can't tell that from these images, because "


@dataclass(frozen=True)
class Answer:
    """The answer to one question about a change result.

    Attributes:
        text: the answer in a sentence or two.
        value: the answer as data: a number, ``True``/``False``, a place or class name,
            a list of object ids, or None when the images cannot answer.
        unit: the unit of ``value`` (``objects``, ``m2``, ``ha``, ``km2``, ``px``, ``%``) or None.
        evidence: ids of the change objects the answer rests on.
        question_type: what was asked (``presence``, ``count``, ``area``, ``location``,
            ``class``, ``comparison``, ``listing``) or ``unanswerable``.
        caveats: what the answer cannot vouch for (unreliable images, low-confidence classes).
        notes: how the question was read.
        answerable: False when the images cannot answer ("I can't tell ...").
        warnings: the result's warnings, as ``terrasight change`` prints them (reflectance,
            resampling...).

    Example:
        >>> Answer("3 changes.", 3, "objects", (1, 2, 3), "count").to_dict()["answer"]
        '3 changes.'
    """

    text: str
    value: Any
    unit: str | None
    evidence: tuple[int, ...]
    question_type: QuestionType
    caveats: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    answerable: bool = True
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``answer``, ``value``, ``unit``, ``evidence``, ``question_type``,
        ``answerable``, ``caveats``, ``notes``, ``warnings``."""
        return {
            "answer": self.text,
            "value": self.value,
            "unit": self.unit,
            "evidence": list(self.evidence),
            "question_type": self.question_type,
            "answerable": self.answerable,
            "caveats": list(self.caveats),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


def cant_tell(reason: str, kind: QuestionType = "unanswerable") -> Answer:
    """The answer to a question these images cannot answer.

    Example:
        >>> cant_tell("they show two dates only").text
        "I can't tell that from these images, because they show two dates only."
    """
    return Answer(CANT_TELL + reason.rstrip(".") + ".", None, None, (), kind, answerable=False)


def class_match(f: ObjectFacts, q: Query) -> bool | None:
    """Whether an object has the classes a query names: True, False, or None when its
    land cover is unknown on the date that decides."""
    before, after = f.before_class, f.after_class
    checks: list[bool | None] = []
    if q.was:
        checks.append(None if before == UNKNOWN else (before in q.was and after not in q.was))
    if q.became:
        checks.append(None if after == UNKNOWN else (after in q.became and before not in q.became))
    if q.involves:
        hit = before in q.involves or after in q.involves
        checks.append(True if hit else (None if UNKNOWN in (before, after) else False))
    if False in checks:
        return False
    return None if None in checks else True


def area_in(value: float, unit: str, facts: ChangeFacts) -> float | None:
    """``value`` in ``unit`` as an area in the facts' unit (None: no conversion)."""
    if unit == facts.area_unit:
        return value
    if unit == "px":
        return value * facts.pixel_area
    if facts.area_unit == "m2" and unit in UNIT_M2:
        return value * UNIT_M2[unit]
    return None


def select(
    facts: ChangeFacts, q: Query, cells: frozenset[str] | None = None
) -> tuple[list[ObjectFacts], list[ObjectFacts]]:
    """(matching, uncertain) objects of a query, largest first; uncertain ones pass every
    filter but have no known class on the date that decides.

    ``cells`` overrides the query's places (a comparison selects one side at a time).
    """
    cells = q.cells if cells is None else cells
    lo = area_in(*q.min_area, facts) if q.min_area else None
    hi = area_in(*q.max_area, facts) if q.max_area else None
    sizes = {"large": ("large", "very large"), "small": ("tiny", "small")}.get(q.size or "")
    matching, uncertain = [], []
    for f in facts.objects:
        if cells is not None and f.location not in cells:
            continue
        if (sizes and f.size not in sizes) or (q.shape and f.shape != q.shape):
            continue
        if (lo is not None and f.area <= lo) or (hi is not None and f.area >= hi):
            continue
        hit = class_match(f, q) if q.classes else True
        if hit:
            matching.append(f)
        elif hit is None:
            uncertain.append(f)
    return matching, uncertain


def number_text(value: float) -> str:
    """A measure with the digits it needs: three significant ones, whole numbers from 1,000.

    Example:
        >>> number_text(0.01234), number_text(12.345), number_text(123456.7)
        ('0.0123', '12.3', '123,457')
    """
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def area_text(area: float, unit: str, want: str | None = None) -> str:
    """An area in words: in ``want`` (``m2``, ``ha``, ``km2``, ``acre``, ``mi2``) when given,
    else m2 below a hectare, hectares below a km2, then km2; or pixels.

    Example:
        >>> area_text(640.0, "m2"), area_text(2.5e6, "m2"), area_text(2.5e6, "m2", "ha")
        ('640 m2', '2.5 km2', '250 ha')
    """
    if unit == "m2" and want in UNIT_M2:
        return f"{number_text(area / UNIT_M2[want])} {UNIT_NAMES[want]}"
    if unit != "m2":
        return f"{area:,.0f} {unit}"
    if area >= 1e6:
        return f"{area / 1e6:.3g} km2"
    if area >= 1e4:
        return f"{area / 1e4:.3g} ha"
    return f"{area:,.0f} m2"


def percent_text(value: float) -> str:
    """A percentage with the digits it needs.

    Example:
        >>> percent_text(12.345), percent_text(0.042)
        ('12.3%', '0.042%')
    """
    return f"{value:.1f}%" if value >= 0.1 or value == 0 else f"{value:.2g}%"


def ids_text(ids: list[int] | tuple[int, ...], limit: int = 12) -> str:
    """``"object 3"``, ``"objects 1, 4, 7"`` or the first ``limit`` and how many more."""
    ids = list(ids)
    if len(ids) == 1:
        return f"object {ids[0]}"
    shown = ", ".join(str(i) for i in ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"objects {shown}{more}"


def unknown_ids(unknown: Iterable[int], known: Iterable[int]) -> str:
    """The message for object ids that name no object, with the valid ones.

    Example:
        >>> unknown_ids([9], [1, 2, 3])
        'no change object 9; the ids are 1 to 3.'
    """
    known = list(known)
    valid = f"1 to {max(known)}" if known else "none: no change was found"
    return f"no change object {', '.join(map(str, unknown))}; the ids are {valid}."


def plural(n: int, word: str = "change") -> str:
    """``"1 change"``, ``"3 changes"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(q: Query, with_place: bool = True) -> str:
    """What the query is about, after the word "change": ``" to built-up in the north"``.

    Starts with a space, or is empty for a plain question; sizes and shapes are in
    :func:`changes`.
    """
    parts = [""]
    if q.was and q.became:
        parts.append(f" from {_or(q.was)} to {_or(q.became)}")
    elif q.became:
        parts.append(f" to {_or(q.became)}")
    elif q.was:
        parts.append(f" losing {_or(q.was)}")
    elif q.involves:
        parts.append(f" involving {_or(q.involves)}")
    if q.min_area:
        parts.append(f" larger than {q.min_area[0]:g} {q.min_area[1]}")
    if q.max_area:
        parts.append(f" smaller than {q.max_area[0]:g} {q.max_area[1]}")
    if with_place and q.regions and q.kind != "comparison":
        parts.append(" in " + _or([r.name for r in q.regions]))
    return "".join(parts)


def changes(q: Query, n: int | None = None, with_place: bool = True, many: bool = False) -> str:
    """``"3 large elongated changes to road in the south"``; without ``n``: ``"change ..."``.

    Example:
        >>> from terrasight.tasks.interpret.ask_parse import parse_question
        >>> changes(parse_question("how many large new roads?", model=False), 2)
        '2 large changes to road'
    """
    words = " ".join(w for w in (q.size, q.shape) if w)
    noun = f"{words} change" if words else "change"
    head = (noun + "s" if many else noun) if n is None else plural(n, noun)
    return head + describe(q, with_place)


def _or(names: tuple[str, ...] | list[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def common_caveats(
    facts: ChangeFacts, q: Query, matching: list[ObjectFacts], uncertain: list[ObjectFacts]
) -> list[str]:
    """Caveats every answer carries: unreliable images, classes unknown or low-confidence."""
    out = []
    if facts.unreliable:
        issues = "; ".join(facts.quality_issues) or "the result is marked unreliable"
        out.append(
            f"The images could not be fully compared ({issues}): no change may mean not seen."
        )
    if q.classes and uncertain:
        area = area_text(sum(f.area for f in uncertain), facts.area_unit)
        out.append(
            f"{plural(len(uncertain), 'more change')} ({area}, {ids_text([f.id for f in uncertain])}) "
            f"{'has' if len(uncertain) == 1 else 'have'} no confident land-cover class and might also be {_or(q.classes)}."
        )
    if q.classes:
        low = [f.id for f in matching if _low(f, q)]
        if low:
            out.append(
                f"The land cover of {ids_text(low)} was classified with low confidence "
                f"(below {LOW_CONFIDENCE:.0%})."
            )
        out += [n for n in facts.notes if "classified" in n and "not classified" not in n]
    if facts.area_unit == "px" and (q.kind == "area" or q.min_area or q.max_area):
        out.append("The images have no map coordinates: areas are in pixels.")
    return out


def _low(f: ObjectFacts, q: Query) -> bool:
    confidences = []
    if q.was or q.involves:
        confidences.append(f.before_confidence)
    if q.became or q.involves:
        confidences.append(f.after_confidence)
    return any(c is not None and c < LOW_CONFIDENCE for c in confidences)
