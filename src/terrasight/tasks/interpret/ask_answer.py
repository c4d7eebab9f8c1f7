"""Answers to a typed :class:`~terrasight.tasks.interpret.ask_parse.Query` from change facts.

One function per question type; each reads only the facts, states every number
with the ids of the objects it rests on, and carries the caveats of
:func:`~terrasight.tasks.interpret.ask_select.common_caveats`.

Example:
    >>> answer_query(facts, parse_question("how many changes?", model=False)).value  # doctest: +SKIP
    3
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from terrasight.tasks.interpret.ask_more import clouds, dates, length
from terrasight.tasks.interpret.ask_select import (
    UNIT_M2,
    Answer,
    area_in,
    area_text,
    cant_tell,
    changes,
    common_caveats,
    ids_text,
    percent_text,
    plural,
    select,
)
from terrasight.tasks.interpret.ask_words import TYPE_WORDS
from terrasight.tasks.interpret.facts_data import UNKNOWN
from terrasight.tasks.interpret.vocabulary import CELL_NAMES

if TYPE_CHECKING:
    from terrasight.tasks.interpret.ask_parse import Query
    from terrasight.tasks.interpret.facts_data import ChangeFacts, ObjectFacts

NOT_COMPARED = "the images could not be fully compared"


def answer_query(facts: ChangeFacts, q: Query) -> Answer:
    """The answer of ``facts`` to a parsed question.

    Example:
        >>> answer_query(facts, parse_question("where is the largest change?")).value  # doctest: +SKIP
        'north-west'
    """
    if q.kind == "unanswerable":
        return cant_tell(q.unanswerable or "the question asks for nothing the change facts hold")
    needs_classes = bool(q.classes) or q.kind == "class"
    if needs_classes and facts.model is None:
        reason = "land cover was not classified for this result, so no change has a class"
        return cant_tell(reason, q.kind)
    unseen = [c for c in q.classes if facts.classes and c not in facts.classes]
    if unseen:
        reason = (
            f"the land cover of these changes was classified as {', '.join(facts.classes)}; "
            f"{' and '.join(unseen)} is not among them, so that class cannot be told apart"
        )
        return cant_tell(reason, q.kind)
    if any(limit and area_in(*limit, facts) is None for limit in (q.min_area, q.max_area)):
        return cant_tell("the images have no map coordinates, so areas are in pixels", q.kind)
    if q.unit in UNIT_M2 and facts.area_unit != "m2" and q.kind != "length":
        return cant_tell(
            f"the images have no map coordinates, so areas are known in pixels, not {q.unit}",
            q.kind,
        )
    answer = ANSWERS[q.kind](facts, q)
    return replace(read_as(answer, q), warnings=tuple(facts.warnings))


def read_as(answer: Answer, q: Query) -> Answer:
    """The answer, saying in its first words how the question was read when the sentence
    model (not the rules) chose its type: a guess is never passed off as a reading.

    Example:
        >>> from dataclasses import replace
        >>> from terrasight.tasks.interpret.ask_parse import parse_question
        >>> q = replace(parse_question("where?", model=False), typed_by="sentence model")
        >>> read_as(Answer("In the north.", "north", None, (), "location"), q).text
        'I read this as a question about where the changes are. In the north.'
    """
    if q.typed_by != "sentence model" or not answer.answerable:
        return answer
    head = f"I read this as a question about {TYPE_WORDS.get(q.kind, q.kind)}. "
    return replace(answer, text=head + answer.text)


def presence(facts: ChangeFacts, q: Query) -> Answer:
    """Yes or no: is there a change such as the question names?"""
    matching, uncertain = select(facts, q)
    caveats = common_caveats(facts, q, matching, uncertain)
    n, ids = len(matching), tuple(f.id for f in matching)
    if q.count_threshold:
        op, k = q.count_threshold
        yes = {">": n > k, ">=": n >= k, "<": n < k, "==": n == k}[op]
        verb = "is" if n == 1 else "are"
        text = f"{'Yes' if yes else 'No'}: there {verb} {changes(q, n)}."
    elif n:
        yes = True
        area = area_text(sum(f.area for f in matching), facts.area_unit)
        text = f"Yes: {changes(q, n)}, {area} in all ({ids_text(ids)})."
    else:
        yes = False
        text = f"No: no {changes(q)} was found."
    if facts.unreliable and not yes:
        text = text[:-1] + f", but {NOT_COMPARED}, so a change may not have been seen."
    return Answer(text, yes, None, ids, "presence", tuple(caveats))


def count(facts: ChangeFacts, q: Query) -> Answer:
    """How many change objects match."""
    matching, uncertain = select(facts, q)
    caveats = common_caveats(facts, q, matching, uncertain)
    if "built-up" in q.classes:
        caveats.append(building_caveat(matching))
    n, ids = len(matching), tuple(f.id for f in matching)
    text = changes(q, n) + (f" ({ids_text(ids)})." if n else ".")
    if facts.unreliable:
        text += f" But {NOT_COMPARED}, so there may be more."
    return Answer(text[0].upper() + text[1:], n, "objects", ids, "count", tuple(caveats))


def building_caveat(matching: list[Any]) -> str:
    """What a count of built-up changes counts: buildings one by one where the land-cover
    network split them, else changed areas."""
    if matching and all(f.class_source == "landcover" for f in matching):
        return (
            "The count is approximate: each building the land-cover model separated counts "
            "once; houses whose roofs make one plain rectangle count as one, a roof with "
            "wings as several."
        )
    return "This counts changed areas; one of them can hold several buildings."


def area(facts: ChangeFacts, q: Query) -> Answer:
    """How much area changed, in the unit asked for or as a share of the scene or place."""
    matching, uncertain = select(facts, q)
    if q.extreme and matching:
        matching = [matching[-1] if q.extreme == "smallest" else matching[0]]
    caveats = common_caveats(facts, q, matching, uncertain)
    plain = not (
        q.classes or q.regions or q.size or q.shape or q.min_area or q.max_area or q.extreme
    )
    total = facts.changed_area if plain else sum(f.area for f in matching)
    ids = tuple(f.id for f in (facts.objects if plain else matching))
    base, of = (
        (_region_area(facts, q.cells), "of " + q.regions[0].name)
        if q.cells
        else (
            facts.valid_area,
            "of the scene",
        )
    )
    share = 100.0 * total / base if base else 0.0
    amount, pct = area_text(total, facts.area_unit, q.unit), f"{percent_text(share)} {of}"
    where = ids_text(ids) if ids else "no object"
    if plain:
        text = f"{amount} changed ({pct}): {where}."
    elif q.extreme:
        text = f"The {q.extreme} {changes(q)} is {amount} ({pct}): {where}."
    else:
        text = f"{amount} ({pct}) in {changes(q, len(ids))}: {where}."
    if q.unit == "%":
        value, unit = round(share, 4), "%"
    elif q.unit in UNIT_M2:
        value, unit = total / UNIT_M2[q.unit], q.unit
    else:
        value, unit = total, facts.area_unit
    return Answer(text[0].upper() + text[1:], value, unit, ids, "area", tuple(caveats))


def _region_area(facts: ChangeFacts, cells: frozenset[str]) -> float:
    """Area of the grid cells ``cells`` (pixel centres in each third of the grid)."""

    def thirds(size: int) -> list[int]:
        idx = [min(2, int(3 * (i + 0.5) / size)) for i in range(size)]
        return [idx.count(k) for k in range(3)]

    rows, cols = thirds(facts.height), thirds(facts.width)
    pixels = sum(rows[i // 3] * cols[i % 3] for i, name in enumerate(CELL_NAMES) if name in cells)
    return (
        pixels * facts.pixel_area * (facts.valid_area / facts.scene_area if facts.scene_area else 1)
    )


def location(facts: ChangeFacts, q: Query) -> Answer:
    """Where the largest (smallest) change is, or where most of the change is."""
    matching, uncertain = select(facts, q)
    caveats = tuple(common_caveats(facts, q, matching, uncertain))
    if not matching:
        text = f"No {changes(q)} was found, so it is nowhere in the scene."
        if facts.unreliable:
            text = text[:-1] + f"; but {NOT_COMPARED}."
        return Answer(text, None, None, (), "location", caveats)
    if q.extreme:
        f = matching[-1] if q.extreme == "smallest" else matching[0]
        kind = "" if f.change == f"{UNKNOWN} -> {UNKNOWN}" else f", {f.change}"
        text = (
            f"The {q.extreme} {changes(q, None, False)} (object {f.id}, "
            f"{area_text(f.area, f.area_unit)}{kind}) is in the {f.location} of the scene."
        )
        return Answer(text, f.location, None, (f.id,), "location", caveats)
    by_cell: dict[str, list[ObjectFacts]] = {}
    for f in matching:
        by_cell.setdefault(f.location, []).append(f)
    total = sum(f.area for f in matching)
    ranked = sorted(by_cell.items(), key=lambda kv: -sum(f.area for f in kv[1]))
    parts = [
        f"the {cell} ({percent_text(100 * sum(f.area for f in objs) / total)}, "
        f"{ids_text([f.id for f in objs], 6)})"
        for cell, objs in ranked[:3]
    ]
    top = ranked[0][0]
    text = f"Most of the {changes(q)} is in " + parts[0]
    text += (", then " + " and ".join(parts[1:]) if len(parts) > 1 else "") + "."
    return Answer(text, top, None, tuple(f.id for f in matching), "location", caveats)


def classes(facts: ChangeFacts, q: Query) -> Answer:
    """What the changes were before or became after, by share of their area."""
    matching, uncertain = select(facts, q)
    caveats = common_caveats(facts, q, matching, uncertain)
    if not matching:
        text = f"No {changes(q)} was found, so there is no class to name."
        return Answer(text, None, None, (), "class", tuple(caveats))
    transitions = (
        not q.classes
        and q.target == "after"
        and not re.search(
            r"\b(?:become|became|now|after|today|turn(?:ed)? into|built|is there)\b", q.text.lower()
        )
    )
    key: Callable[[ObjectFacts], str] = (
        (lambda f: f.change) if transitions else (lambda f: getattr(f, f"{q.target}_class"))
    )
    groups: dict[str, list[ObjectFacts]] = {}
    for f in matching:
        groups.setdefault(key(f), []).append(f)
    total = sum(f.area for f in matching)
    ranked = sorted(groups.items(), key=lambda kv: -sum(f.area for f in kv[1]))
    known = [kv for kv in ranked if UNKNOWN not in kv[0]]
    if not known:
        ids = ids_text([f.id for f in matching])
        return cant_tell(f"the land cover of {ids} has no confident class", "class")
    parts = [
        f"{name} ({percent_text(100 * sum(f.area for f in objs) / total)}, "
        f"{ids_text([f.id for f in objs], 6)})"
        for name, objs in known[:4]
    ]
    unknown = sum(sum(f.area for f in objs) for name, objs in ranked if UNKNOWN in name)
    if unknown:
        caveats.append(
            f"{percent_text(100 * unknown / total)} of that area has no confident land-cover class."
        )
    if transitions:
        head = f"The {changes(q, many=True)} are mostly: "
    elif q.target == "before":
        head = f"Before, the {changes(q, many=True)} were mostly: "
    else:
        head = f"The {changes(q, many=True)} mostly became: "
    text = head + "; ".join(parts) + "."
    value = known[0][0]
    return Answer(text, value, None, tuple(f.id for f in matching), "class", tuple(caveats))


def comparison(facts: ChangeFacts, q: Query) -> Answer:
    """Which of two places (or classes) has more change: by area, or by number when asked."""
    sides = _sides(facts, q)
    by_count = bool(re.search(r"\bhow many\b|\bnumber\b|\bcount\b", q.text.lower()))
    measure = (
        (lambda objs: float(len(objs))) if by_count else (lambda objs: sum(f.area for f in objs))
    )
    values = [(name, measure(objs), objs) for name, objs in sides]
    caveats = common_caveats(facts, q, [f for _, objs in sides for f in objs], [])
    ids = tuple(sorted({f.id for _, objs in sides for f in objs}))
    parts = [
        f"{name}: {area_text(sum(f.area for f in objs), facts.area_unit)} in {plural(len(objs))}"
        for name, _, objs in values
    ]
    if len(values) < 2:
        text = (
            "I can't tell what to compare: name two places or two classes, e.g. 'is there "
            "more change in the north or in the south?'"
        )
        return Answer(text, None, None, (), "comparison", answerable=False)
    (a, va, _), (b, vb, _) = values[0], values[1]
    if va == vb:
        winner = "neither"
        text = f"Neither: {' and '.join(parts)}."
    else:
        winner = a if va > vb else b
        more = f"more {changes(q, None, False)}" if len(q.regions) >= 2 else "more"
        more += " by number" if by_count else " by area"
        text = f"{winner[0].upper() + winner[1:]} has {more} ({'; '.join(parts)})."
    return Answer(text, winner, None, ids, "comparison", tuple(caveats))


def _sides(facts: ChangeFacts, q: Query) -> list[tuple[str, list[ObjectFacts]]]:
    """The two sides compared: places, else classes in the role the question gives them."""
    from dataclasses import replace

    if len(q.regions) >= 2:
        return [(r.name, select(facts, q, frozenset(r.cells))[0]) for r in q.regions[:2]]
    role = max(("was", "became", "involves"), key=lambda r: len(getattr(q, r)))
    out = []
    for name in getattr(q, role)[:2]:
        slot: dict[str, Any] = {role: (name,)}
        single = replace(q, **slot)
        label = {"was": "lost ", "became": "new "}.get(role, "") + name
        out.append((label, select(facts, single)[0]))
    return out


def listing(facts: ChangeFacts, q: Query) -> Answer:
    """The matching changes, largest first (or the ``limit`` largest / smallest)."""
    matching, uncertain = select(facts, q)
    caveats = common_caveats(facts, q, matching, uncertain)
    if q.extreme == "smallest":
        matching = matching[::-1]
    if q.limit or q.extreme:
        matching = matching[: q.limit or 1]
    if not matching:
        text = f"No {changes(q)} was found."
        if facts.unreliable:
            text = text[:-1] + f", but {NOT_COMPARED}."
        return Answer(text, [], "objects", (), "listing", tuple(caveats))
    shown = matching[:20]
    lines = [_line(f) for f in shown]
    more = f"; and {len(matching) - len(shown)} more" if len(matching) > len(shown) else ""
    text = f"{changes(q, len(matching))}: " + "; ".join(lines) + more + "."
    ids = [f.id for f in matching]
    return Answer(text[0].upper() + text[1:], ids, "objects", tuple(ids), "listing", tuple(caveats))


def _line(f: ObjectFacts) -> str:
    kind = "" if f.change == f"{UNKNOWN} -> {UNKNOWN}" else f"{f.change}, "
    return f"object {f.id} ({kind}{area_text(f.area, f.area_unit)}, {f.shape}, {f.location})"


ANSWERS: dict[str, Callable[[ChangeFacts, Query], Answer]] = {
    "presence": presence,
    "count": count,
    "area": area,
    "location": location,
    "class": classes,
    "comparison": comparison,
    "listing": listing,
    "length": length,
    "date": dates,
    "cloud": clouds,
}
"""Question type -> the function answering it."""
