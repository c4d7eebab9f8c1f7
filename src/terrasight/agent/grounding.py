"""Grounding: a number, place or land-cover class in a reply must come from a tool result.

A language model may answer without calling a tool, or say something its tool results
do not hold ("There are 10 changes." where the tool said 6). :func:`unsupported`
lists the claims of a reply that no tool result of the same turn (nor the question
itself) gives; the agent marks such a reply as not grounded, or replaces it by the
offline brain's answer (see :class:`~terrasight.agent.agent.Agent`).

Numbers match when they agree to the precision the reply gives them (18.2 for
18.234) or within 5 %; places and classes when the results name them. It is a
check of what the reply names, not of what it means: a reply that names only
numbers the results hold passes even if it puts them together wrongly.

Example:
    >>> unsupported("There are 10 changes.", [{"text": "6 changes.", "value": 6}])
    ['10']
    >>> unsupported("6 changes, the largest in the north.", [{"value": 6, "text": "north"}])
    []
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from terrasight.tasks.interpret.vocabulary import CELL_NAMES, DIRECTIONS, LAND_COVER

NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w])")
WORD_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
WORD_NUMBER = re.compile(r"\b(" + "|".join(WORD_NUMBERS) + r")\b")
PLACES = sorted({*CELL_NAMES, *DIRECTIONS, "center"}, key=len, reverse=True)
PLACE = re.compile(r"\b(" + "|".join(re.escape(p).replace(r"\-", "[- ]?") for p in PLACES) + r")\b")
CLASS = re.compile(r"\b(" + "|".join(re.escape(c) for c in LAND_COVER) + r")\b")
TOLERANCE = 0.05
"""Relative difference within which a number of the reply matches one of a result."""


def claims(text: str) -> list[tuple[str, Any]]:
    """What a reply asserts: ``("number", (value, decimals))``, ``("place", name)`` and
    ``("class", name)``, in order, each once.

    Example:
        >>> claims("Object 2 (17.6 ha) in the north-east became water.")
        [('number', (2.0, 0)), ('number', (17.6, 1)), ('place', 'north-east'), ('class', 'water')]
    """
    low = text.lower()
    out: list[tuple[str, Any]] = []
    for m in NUMBER.finditer(low):
        decimals = len(m.group(2) or "")
        value = float(m.group(1).replace(",", "") + (f".{m.group(2)}" if m.group(2) else ""))
        out.append(("number", (value, decimals)))
    out += [("number", (float(WORD_NUMBERS[m.group(1)]), 0)) for m in WORD_NUMBER.finditer(low)]
    out += [("place", _place(m.group(1))) for m in PLACE.finditer(low)]
    out += [("class", m.group(1)) for m in CLASS.finditer(low)]
    unique: list[tuple[str, Any]] = []
    for claim in out:
        if claim not in unique:
            unique.append(claim)
    return unique


def unsupported(text: str, results: Iterable[dict[str, Any]], question: str = "") -> list[str]:
    """The claims of ``text`` that neither ``results`` nor ``question`` give, as written.

    Example:
        >>> unsupported("It is in the south, 3 ha.", [{"text": "3.0 ha in the north"}])
        ['south']
    """
    results = list(results)
    dump = (json.dumps(results, default=str) + " " + question).lower()
    numbers = list(_numbers([*results, question]))
    missing: list[str] = []
    for kind, claim in claims(text):
        if kind == "number":
            value, decimals = claim
            if not any(_same(value, decimals, n) for n in numbers):
                missing.append(f"{value:.{decimals}f}")
        elif kind == "place":
            names = {claim, *DIRECTIONS.get(claim, ())}
            if not any(re.search(rf"\b{re.escape(n)}\b", dump) for n in names):
                missing.append(claim)
        elif not re.search(rf"\b{re.escape(claim)}\b", dump):
            missing.append(claim)
    return missing


def _place(word: str) -> str:
    word = word.replace(" ", "-")
    if word == "center":
        return "centre"
    if "-" not in word and word not in DIRECTIONS and len(word) > 5:  # "northeast"
        for side in ("north", "south"):
            if word.startswith(side):
                return f"{side}-{word[len(side) :]}"
    return word


def _same(value: float, decimals: int, found: float) -> bool:
    if math.isclose(round(found, decimals), value, abs_tol=1e-9):
        return True
    return abs(found - value) <= TOLERANCE * max(abs(found), 1e-9)


def _numbers(values: Iterable[Any]) -> Iterator[float]:
    """Every number in nested results, those written in their texts included."""
    for v in values:
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            yield float(v)
        elif isinstance(v, str):
            for value, _ in (c for k, c in claims(v) if k == "number"):
                yield value
        elif isinstance(v, dict):
            yield from _numbers(v.values())
        elif isinstance(v, (list, tuple)):
            yield from _numbers(v)
