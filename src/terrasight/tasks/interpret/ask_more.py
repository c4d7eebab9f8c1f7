"""Answers about the images rather than the change objects' areas: lengths, dates, clouds.

* length: the long side (width, perimeter) of a change's minimum rotated
  rectangle, measured in metres on every CRS (pixels without one), in the unit
  asked for (m, km, miles);
* date: a pair has two dates, read from the files' metadata or names: the
  changes happened between them, and the answer says no more than that;
* cloud: what the cloud mask left out, or that no mask ran and why.

Example:
    >>> from terrasight.tasks.interpret.ask_parse import parse_question
    >>> length(facts, parse_question("how long is the largest change?")).text  # doctest: +SKIP
    'The largest change (object 1) is 300 m long (its minimum rotated rectangle: 300 m by 300 m).'
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

from terrasight.tasks.interpret.ask_select import (
    Answer,
    area_text,
    cant_tell,
    changes,
    common_caveats,
    number_text,
    percent_text,
    select,
)
from terrasight.tasks.interpret.facts_data import image_date_of

if TYPE_CHECKING:
    from terrasight.tasks.interpret.ask_parse import Query
    from terrasight.tasks.interpret.facts_data import ChangeFacts, ObjectFacts

UNIT_M = {"m": 1.0, "km": 1000.0, "mi": 1609.344}
"""Metres in each length unit."""
LENGTH_NAMES = {"m": "m", "km": "km", "mi": "miles", "px": "px"}
MAX_LISTED = 5
"""Objects whose lengths a question about several changes lists one by one."""


def length(facts: ChangeFacts, q: Query) -> Answer:
    """The length (or width, or perimeter) of the change asked about, or of the largest few."""
    text = q.text.lower()
    what = (
        "perimeter"
        if re.search(r"perimeter|circumference", text)
        else ("width" if re.search(r"\bwide|width|narrow", text) else "length")
    )
    matching, uncertain = select(facts, q)
    caveats = common_caveats(facts, q, matching, uncertain)
    if not matching:
        return Answer(f"No {changes(q)} was found, so there is no {what} to give.", None,
                      None, (), "length", tuple(caveats))  # fmt: skip
    if any(f.length is None for f in matching):
        return cant_tell(
            "these facts were written before lengths were measured; make them again "
            "(terrasight describe DIR) and ask again",
            "length",
        )
    unit = facts.objects[0].length_unit or "m"
    want = q.unit if q.unit in UNIT_M or q.unit == "px" else unit
    if unit == "px" and want != "px":
        return cant_tell(
            f"the images have no map coordinates, so lengths are known in pixels, not {want}",
            "length",
        )
    if unit == "m" and want == "px":
        want = "m"
    if unit == "px":
        caveats.append("The images have no map coordinates: lengths are in pixels.")
    chosen = _chosen(matching, q, text)
    scale = UNIT_M.get(want, 1.0)
    values = [float(getattr(f, what)) / scale for f in chosen]
    name = LENGTH_NAMES[want]
    words = {"length": "long", "width": "wide", "perimeter": "round"}[what]
    parts = [
        f"object {f.id} is {number_text(v)} {name} {words}" + _sides(f, what, scale, name)
        for f, v in zip(chosen, values, strict=True)
    ]
    if len(chosen) == 1 and (q.extreme or len(matching) == 1 or _ranked(text)):
        first = parts[0].replace(f"object {chosen[0].id} is ", "", 1)
        which = _which(q, text)
        subject = f"{which} {changes(q, None, False)}" if which else changes(q, None, False)
        body = f"The {subject}, object {chosen[0].id}, is {first}."
        value: object = round(values[0], 3)
    else:
        more = len(matching) - len(chosen)
        body = "; ".join(parts) + (f"; and {more} more" if more > 0 else "") + "."
        body = body[0].upper() + body[1:]
        value = [round(v, 3) for v in values]
    ids = tuple(f.id for f in chosen)
    return Answer(body, value, want, ids, "length", tuple(caveats))


def _chosen(matching: list[ObjectFacts], q: Query, text: str) -> list[ObjectFacts]:
    """The objects the question asks about: one extreme, or the largest few."""
    if re.search(r"\b(?:longest|widest)\b", text):
        key = "width" if "widest" in text else "length"
        return [max(matching, key=lambda f: getattr(f, key) or 0.0)]
    if re.search(r"\b(?:shortest|narrowest)\b", text):
        key = "width" if "narrowest" in text else "length"
        return [min(matching, key=lambda f: getattr(f, key) or 0.0)]
    if q.extreme:
        return [matching[-1] if q.extreme == "smallest" else matching[0]]
    return matching[:MAX_LISTED]


def _ranked(text: str) -> bool:
    return bool(re.search(r"\b(?:longest|widest|shortest|narrowest)\b", text))


def _which(q: Query, text: str) -> str:
    found = re.search(r"\b(longest|widest|shortest|narrowest)\b", text)
    return found.group(1) if found else (q.extreme or "")


def _sides(f: ObjectFacts, what: str, scale: float, name: str) -> str:
    if what != "length" or f.width is None:
        return ""
    return f" and {number_text(float(f.width) / scale)} {name} wide"


def dates(facts: ChangeFacts, q: Query) -> Answer:
    """The pair's two dates: the changes happened between them, and a pair says no more."""
    roles = (("before", facts.before), ("after", facts.after))
    if len(facts.dates) == 2:  # read from the files the job read (copies keep the tags)
        found = {role: _iso(facts.dates[k]) for k, (role, _) in enumerate(roles)}
    else:
        found = {role: image_date_of(path) for role, path in roles}
    names = {"before": Path(facts.before).name, "after": Path(facts.after).name}
    if None in found.values():
        missing = " and ".join(names[r] for r, d in found.items() if d is None)
        known = "; ".join(f"{names[r]} is dated {d}" for r, d in found.items() if d)
        return cant_tell(
            f"the dates of the images are unknown: neither the metadata nor the file name of "
            f"{missing} gives one"
            + (f" ({known})" if known else "")
            + "; the changes happened at some time between the before and the after image",
            "date",
        )
    before, after = found["before"], found["after"]
    text = (
        f"The before image ({names['before']}) is dated {before} and the after image "
        f"({names['after']}) {after}: the changes happened between those dates. Two images "
        "cannot say when in between (a series of dates can: terrasight series)."
    )
    ids = tuple(f.id for f in facts.objects)
    return Answer(text, [str(before), str(after)], "date", ids, "date")


def _iso(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def clouds(facts: ChangeFacts, q: Query) -> Answer:
    """What the cloud mask left out, or why no mask ran."""
    if facts.cloud_check != "checked":
        why = facts.cloud_check or "not checked (this result does not record it)"
        return cant_tell(f"no cloud mask ran on these images: clouds {why}", "cloud")
    area = facts.cloud_area or 0.0
    if not area:
        text = "The cloud mask found no cloud or cloud shadow in the pair."
    else:
        pct = percent_text(100 * area / facts.scene_area) if facts.scene_area else "?"
        text = (
            f"The cloud mask left out {area_text(area, facts.area_unit)} ({pct} of the scene) "
            "as cloud or cloud shadow; no change is reported there."
        )
    return Answer(text, area, facts.area_unit, (), "cloud", tuple(facts.warnings))


__all__ = ["clouds", "dates", "length"]
