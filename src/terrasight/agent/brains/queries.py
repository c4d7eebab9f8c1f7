"""Tool arguments to a :class:`~terrasight.tasks.interpret.ask_parse.Query`, and back.

The tools that count, measure and locate take the same slots as a question
(places, classes gained or lost, size, shape, extreme, unit) as typed
arguments, so a brain that is a language model fills them in, and the offline
brain passes the slots of the questions it has read. Answers come back as one
JSON-ready dict: ``text``, ``value``, ``unit``, ``evidence``, ``caveats``.

Example:
    >>> q = make_query("count", places=["north"], became=["houses"])
    >>> q.kind, [r.name for r in q.regions], q.became
    ('count', ['the north'], ('built-up',))
    >>> query_arguments(q)
    {'places': ['north'], 'became': ['built-up']}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terrasight.errors import ToolArgumentError, UnknownClassError
from terrasight.tasks.interpret.ask_parse import Query, normalise
from terrasight.tasks.interpret.ask_slots import Region, find_classes, find_regions
from terrasight.tasks.interpret.vocabulary import CELL_NAMES, DIRECTIONS, LAND_COVER
from terrasight.tasks.questions import question_type

if TYPE_CHECKING:
    from terrasight.tasks.interpret.ask_select import Answer


PLACES = (*DIRECTIONS, *CELL_NAMES)
"""Place names the tools take: the four sides and the nine cells of a 3 x 3 grid."""
SLOTS = ("places", "became", "was", "involves", "size", "shape", "extreme", "unit")
"""Query slots a tool may take as arguments, in this order."""


def regions(places: list[str] | None) -> tuple[Region, ...]:
    """Grid regions of place names ("north", "upper left", "centre").

    Raises:
        ToolArgumentError: a name is no place on the grid.

    Example:
        >>> [r.cells for r in regions(["south-east"])]
        [('south-east',)]
    """
    out: list[Region] = []
    for place in places or []:
        found = find_regions(normalise(place if " " in place else f"the {place}"))
        if not found:
            raise ToolArgumentError(
                f"{place!r} is no place on the scene's 3 x 3 grid; use one of {', '.join(PLACES)}."
            )
        out += [r for r in found if r not in out]
    return tuple(out)


def class_names(words: list[str] | None, role: str = "class") -> tuple[str, ...]:
    """Land-cover class names of words ("houses" -> "built-up").

    Raises:
        ToolArgumentError: a word names no land-cover class.

    Example:
        >>> class_names(["forest", "water"])
        ('vegetation', 'water')
    """
    out: list[str] = []
    for word in words or []:
        if word in LAND_COVER:
            names: tuple[str, ...] = (word,)
        else:
            was, became, involves, _ = find_classes(normalise(word))
            names = was + became + involves
        if not names:
            raise UnknownClassError(
                f"{role} {word!r} is no land-cover class ({', '.join(LAND_COVER)}), so a "
                "change to or from it would not be told apart from any other"
            )
        out += [n for n in names if n not in out]
    return tuple(out)


def make_query(kind: str, text: str = "", **slots: Any) -> Query:
    """The :class:`Query` of a question type and tool arguments (None: not given).

    Raises:
        ToolArgumentError: a place or class that does not exist.
    """
    return Query(
        text=text or kind,
        kind=question_type(kind),
        regions=regions(slots.get("places")),
        became=class_names(slots.get("became"), "became"),
        was=class_names(slots.get("was"), "was"),
        involves=class_names(slots.get("involves"), "involves"),
        size=slots.get("size"),
        shape=slots.get("shape"),
        extreme=slots.get("extreme"),
        unit=slots.get("unit"),
    )


def query_arguments(q: Query) -> dict[str, Any]:
    """The tool arguments holding a query's slots (only those set).

    Example:
        >>> query_arguments(make_query("area", extreme="largest", unit="ha"))
        {'extreme': 'largest', 'unit': 'ha'}
    """
    values: dict[str, Any] = {
        "places": [r.name.removeprefix("the ") for r in q.regions],
        "became": list(q.became),
        "was": list(q.was),
        "involves": list(q.involves),
        "size": q.size,
        "shape": q.shape,
        "extreme": q.extreme,
        "unit": q.unit,
    }
    return {k: v for k, v in values.items() if v}


def answer_dict(answer: Answer, **more: Any) -> dict[str, Any]:
    """A tool result of an answer: ``text``, ``value``, ``unit``, ``evidence``, ``caveats``.

    Example:
        >>> from terrasight.tasks.interpret.ask_select import Answer
        >>> answer_dict(Answer("2 changes.", 2, "objects", (1, 2), "count"))["evidence"]
        [1, 2]
    """
    out = {
        "text": answer.text,
        "value": answer.value,
        "unit": answer.unit,
        "evidence": list(answer.evidence),
        "question_type": answer.question_type,
    }
    if answer.caveats:
        out["caveats"] = list(answer.caveats)
    if not answer.answerable:
        out["answerable"] = False
    if answer.notes:
        out["notes"] = list(answer.notes)
    return {**out, **more}
