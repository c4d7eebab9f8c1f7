"""Answer questions about a series of dates: "when did it change?", "what changed since 2021?".

A series result (``terrasight series -o DIR``) knows, for each change object,
the last clear date it was seen unchanged and the first date it was seen
changed (and stayed so). Answers rest on those dates only: a change "since
2021" is one first seen on a date of 2021 or later, and when its last
unchanged date lies before the span the answer says it may have happened
earlier. Questions the dates cannot answer (causes, land-cover classes, dates
outside the series) get "I can't tell ..." with the reason.

Example:
    >>> ask_series("series_out/", "when did the largest change happen?").text  # doctest: +SKIP
    'Object 1 (2.1 ha, north-west) changed between 2020-06-01 and 2021-06-01 ...'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from terrasight.errors import QuestionError
from terrasight.tasks.interpret.ask_parse import no_class_reason, normalise, unknown_thing
from terrasight.tasks.interpret.ask_select import (
    Answer,
    area_text,
    cant_tell,
    ids_text,
    percent_text,
    plural,
    unknown_ids,
)
from terrasight.tasks.interpret.ask_slots import find_classes, find_regions, is_english
from terrasight.tasks.interpret.ask_words import UNSUPPORTED_THINGS, WHY
from terrasight.tasks.interpret.when import WHEN_WORDS, DateSpan, find_span
from terrasight.tasks.questions import QuestionType
from terrasight.tasks.series.result import SERIES_JSON, SeriesObject, SeriesResult, load_series

__all__ = ["ask_series", "is_series_folder"]

LOW_CLEAR = 0.5
"""A date observed clear over less than this share of the scene is named in the caveats."""

_CLASS_WORDS = re.compile(
    r"\b(?:become|became|turn(?:ed|s)? into|converted (?:to|into)|land[- ]?cover"
    r"|what (?:kind|type|class)\b)"
)
"""Words of a question about what a place became, which a series does not record."""
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (
            "when",
            rf"{WHEN_WORDS}|\bwhich image\b|\bat what (?:date|time)\b",
        ),
        ("area", r"\bhow many (?:hectares|square|km|m2|ha\b|sq|acres|pixels)"),
        ("count", r"\bhow many\b|\bnumber of\b|^count\b"),
        (
            "area",
            r"\bhow (?:much|large|big)\b|\b(?:area|hectares|percentage|percent|share|km2|m2)\b",
        ),
        ("presence", r"^(?:has|have|did|was|were|is|are|does|do)\b"),
    )
)


@dataclass(frozen=True)
class _Pick:
    """The objects a question is about, and what limited them."""

    objects: list[SeriesObject]
    span: DateSpan | None
    about: str  # " in the north since 2021", or ""
    extreme: str | None
    maybe: list[SeriesObject]  # left out by the span, but their interval overlaps it


def is_series_folder(path: str | Path) -> bool:
    """Whether ``path`` is the folder of a finished ``terrasight series`` job.

    Example:
        >>> is_series_folder("no/such/folder")
        False
    """
    return Path(path, SERIES_JSON).is_file()


def ask_series(
    source: SeriesResult | str | Path, question: str, object_ids: Sequence[int] | None = None
) -> Answer:
    """Answer a question about when things changed over a series of dates.

    Question types: ``when`` ("when did it change?", "when did the largest change
    happen?", "when did the north change?"), ``listing`` ("what changed since 2021?"),
    ``count`` ("how many changes after June 2020?"), ``area`` ("how much changed
    between 2019 and 2021?") and ``presence`` ("did anything change in 2022?").
    Places on the 3 x 3 grid ("in the north-west") and "largest"/"smallest" narrow
    the objects.

    Args:
        source: a :class:`~terrasight.tasks.series.result.SeriesResult` or its folder.
        question: an English question.
        object_ids: only among these objects (e.g. those of an earlier answer).

    Raises:
        QuestionError: the question is empty or not English, or an id names no object.
        RasterReadError: the folder holds no finished series job.

    Example:
        >>> ask_series("series_out/", "what changed since 2021?").evidence  # doctest: +SKIP
        (1, 4)
    """
    result = source if isinstance(source, SeriesResult) else load_series(source)
    if object_ids is not None:
        result = _only(result, object_ids)
    text = normalise(question)
    if not text or not is_english(text):
        raise QuestionError(f"{question!r} is not a question in English.")
    if re.search(WHY, text):
        return cant_tell("images show when a place changed, not why or by whom")
    if re.search(r"\bclouds?\b|\bcloudy\b|\bcloud[- ]?(?:cover|free|mask)\b", text):
        return _clouds(result)
    things = re.findall(rf"\b(?:{UNSUPPORTED_THINGS})\b", text)
    if things or (thing := unknown_thing(text)):
        return cant_tell(no_class_reason(things[0] if things else str(thing)))
    if any(find_classes(text)[:3]) or _CLASS_WORDS.search(text):
        return cant_tell(
            "a series records when places changed, not their land cover; run "
            "'terrasight ask' on one pair of its dates for what they became"
        )
    try:
        span = find_span(text)
    except ValueError as exc:
        raise QuestionError(f"{question!r}: {exc}.") from None
    outside = _outside(result, span)
    if outside:
        return cant_tell(outside)
    pick = _pick(result, text, span)
    kind = next((k for k, pattern in _KINDS if pattern.search(text)), "listing")
    answer = {"when": _when, "count": _count, "area": _area, "presence": _presence}.get(
        kind, _listing
    )(result, pick)
    return Answer(
        answer.text,
        answer.value,
        answer.unit,
        answer.evidence,
        answer.question_type,
        caveats=(*answer.caveats, *_caveats(result, pick)),
        notes=(f"read as a {answer.question_type} question about a series of dates",),
    )


def _clouds(result: SeriesResult) -> Answer:
    """Each date's cloud share where a cloud mask ran; where none ran, that it did not."""
    checked = [k for k in range(len(result.dates)) if result.clouds_checked(k)]
    if not checked:
        why = next((c for c in result.cloud_check if c != "checked"), "not checked")
        return cant_tell(f"no cloud mask ran on the images of this series: clouds {why}", "cloud")
    parts = [f"{result.dates[k]} {percent_text(100 * result.cloud_share[k])}" for k in checked]
    text = "Share of the scene masked as cloud or cloud shadow: " + "; ".join(parts) + "."
    unchecked = [d for k, d in enumerate(result.dates) if k not in checked]
    if unchecked:
        text += f" Not checked: {', '.join(unchecked)}."
    value = {result.dates[k]: round(100 * result.cloud_share[k], 3) for k in checked}
    return Answer(text, value, "%", (), "cloud")


def _only(result: SeriesResult, ids: Sequence[int]) -> SeriesResult:
    known = {o.id for o in result.objects}
    unknown = sorted(set(ids) - known)
    if unknown:
        raise QuestionError(unknown_ids(unknown, known))
    return replace(result, objects=tuple(o for o in result.objects if o.id in set(ids)))


def _outside(result: SeriesResult, span: DateSpan | None) -> str | None:
    """Why the series cannot answer for ``span``, or None."""
    if span is None or not result.dates:
        return None
    first, last = result.dates[0], result.dates[-1]
    covered = f"the series covers {first} to {last} only"
    if span.start is not None and span.start > last:
        return covered
    if span.end is not None and span.end <= first:
        return f"{covered}, and a change can first be seen on its second date"
    return None


def _pick(result: SeriesResult, text: str, span: DateSpan | None) -> _Pick:
    objects = list(result.objects)
    about = ""
    regions = find_regions(text)
    if regions:
        cells = {c for r in regions for c in r.cells}
        objects = [o for o in objects if o.location in cells]
        about += " in " + " or ".join(r.name for r in regions)
    maybe: list[SeriesObject] = []
    if span is not None:
        maybe = [o for o in objects if not span.contains(o.first_seen) and _overlaps(o, span)]
        objects = [o for o in objects if span.contains(o.first_seen)]
        about += " " + span.words
    extreme = None
    match = re.search(r"\b(largest|biggest|smallest)\b", text)
    if match and objects:
        extreme = "smallest" if match.group(1) == "smallest" else "largest"
        ordered = sorted(objects, key=lambda o: o.area)
        objects = [ordered[0] if extreme == "smallest" else ordered[-1]]
    return _Pick(objects, span, about, extreme, maybe)


def _overlaps(o: SeriesObject, span: DateSpan) -> bool:
    """Whether the time an object may have changed in, after its last unchanged date up to
    its first changed date, overlaps ``span``."""
    after_start = span.start is None or o.first_seen >= span.start
    before_end = span.end is None or (o.last_unchanged or "") < span.end
    return after_start and before_end


def _interval(o: SeriesObject) -> str:
    if o.last_unchanged is None:
        return f"by {o.first_seen} (no clear date before it)"
    return f"between {o.last_unchanged} and {o.first_seen}"


def _area_of(result: SeriesResult, objects: Sequence[SeriesObject]) -> str:
    return area_text(sum(o.area for o in objects), result.area_unit)


def _when(result: SeriesResult, pick: _Pick) -> Answer:
    objects = pick.objects
    if not objects:
        return _none(result, pick, "when")
    if len(objects) == 1:
        o = objects[0]
        name = f"The {pick.extreme} change, object {o.id}" if pick.extreme else f"Object {o.id}"
        text = (
            f"{name} ({area_text(o.area, o.area_unit)}, {o.location}) changed {_interval(o)}: "
            f"first seen changed on {o.first_seen}, confirmed on {plural(o.confirmations, 'clear date')}."
        )
        return Answer(text, o.first_seen, "date", (o.id,), "when")
    groups: dict[str, list[SeriesObject]] = {}
    for o in sorted(objects, key=lambda o: o.first_seen):
        groups.setdefault(o.first_seen, []).append(o)
    parts = []
    for date, members in groups.items():
        before = members[0].last_unchanged
        after = f" (after {before})" if before else ""
        parts.append(
            f"{date}{after}: {_area_of(result, members)} in {plural(len(members))} "
            f"({ids_text([m.id for m in members], 6)})"
        )
    busiest = max(groups, key=lambda d: sum(o.area for o in groups[d]))
    text = (
        f"Changes{pick.about} were first seen on {plural(len(groups), 'date')}: "
        + "; ".join(parts)
        + f". Most change area was first seen on {busiest}."
    )
    return Answer(text, list(groups), "date", tuple(o.id for o in objects), "when")


def _listing(result: SeriesResult, pick: _Pick) -> Answer:
    objects = sorted(pick.objects, key=lambda o: -o.area)
    if not objects:
        return _none(result, pick, "listing")
    lines = [
        f"object {o.id}: {area_text(o.area, o.area_unit)} in the {o.location}, changed {_interval(o)}"
        for o in objects[:10]
    ]
    more = f"; and {len(objects) - 10} more" if len(objects) > 10 else ""
    text = (
        f"{plural(len(objects))}{pick.about} ({_area_of(result, objects)}): "
        + "; ".join(lines)
        + more
        + "."
    )
    ids = tuple(o.id for o in objects)
    return Answer(text[0].upper() + text[1:], list(ids), "objects", ids, "listing")


def _count(result: SeriesResult, pick: _Pick) -> Answer:
    ids = tuple(o.id for o in pick.objects)
    where = f": {ids_text(ids)}" if ids else ""
    text = f"{plural(len(ids))}{pick.about}{where}."
    return Answer(text[0].upper() + text[1:], len(ids), "objects", ids, "count")


def _area(result: SeriesResult, pick: _Pick) -> Answer:
    total = sum(o.area for o in pick.objects)
    scene = result.width * result.height * result.pixel_area
    share = 100.0 * total / scene if scene else 0.0
    ids = tuple(o.id for o in pick.objects)
    where = ids_text(ids) if ids else "no object"
    text = f"{area_text(total, result.area_unit)} ({percent_text(share)} of the scene) changed{pick.about}: {where}."
    return Answer(text, total, result.area_unit, ids, "area")


def _presence(result: SeriesResult, pick: _Pick) -> Answer:
    if not pick.objects:
        return _none(result, pick, "presence")
    ids = tuple(o.id for o in pick.objects)
    text = (
        f"Yes: {plural(len(ids))}{pick.about} ({_area_of(result, pick.objects)}): {ids_text(ids)}."
    )
    return Answer(text, True, None, ids, "presence")


def _none(result: SeriesResult, pick: _Pick, kind: QuestionType) -> Answer:
    dates = f"{result.dates[0]} to {result.dates[-1]}" if result.dates else "no dates"
    text = f"No change was found{pick.about} over the series ({dates}, {len(result.dates)} dates)."
    value: object = False if kind == "presence" else ([] if kind in ("listing", "when") else None)
    return Answer(text, value, None, (), kind)


def _caveats(result: SeriesResult, pick: _Pick) -> list[str]:
    out = list(result.warnings)
    span = pick.span
    if span is not None and span.start is not None:
        early = [o.id for o in pick.objects if (o.last_unchanged or "") < span.start]
        if early:
            out.append(
                f"{ids_text(early).capitalize()} may have changed before {span.start}: "
                "the last clear date before they were seen changed is earlier."
            )
    if pick.maybe:
        out.append(
            f"{ids_text([o.id for o in pick.maybe]).capitalize()} changed at a time that "
            f"overlaps {span.words if span else 'it'} but were first seen outside it: not counted."
        )
    unchecked = [d for k, d in enumerate(result.dates) if not result.clouds_checked(k)]
    if unchecked:
        why = next((c for c in result.cloud_check if c != "checked"), "not checked")
        out.append(
            f"Clouds of {', '.join(unchecked)}: {why}; a cloud there may be dated as a change."
        )
    for date, share in zip(result.dates, result.clear_share, strict=False):
        if share < LOW_CLEAR and not any(date in w for w in result.warnings):
            out.append(
                f"The image of {date} was observed clear over {percent_text(100 * share)} of "
                "the scene only; changes there may be dated later than they happened."
            )
    return out
