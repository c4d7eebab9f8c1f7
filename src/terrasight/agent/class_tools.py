"""The agent's tool over the measured land-cover changes: what was built, lost, or became what.

It reads the result's ``change_classes.json`` and its objects cut by class
(:meth:`~terrasight.agent.session.Session.class_changes`, which measures them first
on a detected pair that has none), so "how many buildings were built?", "what did the
fields become?" and "how much vegetation was lost?" are answered from the pixels the
land-cover network classified, not guessed from a crop.

Example:
    >>> land_cover_changes(session, became="houses")["value"]  # doctest: +SKIP
    12
"""

from __future__ import annotations

from typing import Any

from terrasight.agent.registry import needs
from terrasight.agent.session import Session
from terrasight.errors import ToolArgumentError, UnknownClassError
from terrasight.tasks.interpret.facts_data import LANDCOVER_WORDS

NETWORK_CLASSES = tuple(k for k in LANDCOVER_WORDS if k != "unknown")
"""What the land-cover network tells apart."""
FIELDS = "farmland"
SHOWN = 5
"""Classes named in a sentence, the largest first."""


def network_class(word: str | None) -> tuple[str | None, str | None]:
    """The land-cover network's class of a word ("houses" -> "building"), and a caveat when
    the word had to be read as a nearby class (fields are vegetation, or bare when ploughed).

    Raises:
        ToolArgumentError: a word that names no land-cover class.

    Example:
        >>> network_class("houses"), network_class("fields")[0]
        (('building', None), 'vegetation')
    """
    if word is None or not str(word).strip():
        return None, None
    name = str(word).strip().lower()
    if name in NETWORK_CLASSES:
        return name, None
    from terrasight.agent.brains.queries import class_names

    try:
        found = class_names([name])
    except UnknownClassError as exc:
        raise ToolArgumentError(str(exc)) from None
    back = {v: k for k, v in LANDCOVER_WORDS.items()}
    if found and found[0] == FIELDS:
        caveat = (
            "the land-cover network has no farmland class: fields are read as vegetation "
            "(a ploughed field reads as bare land)"
        )
        return "vegetation", caveat
    if not found or found[0] not in back:
        raise ToolArgumentError(
            f"{word!r} is no class of the land-cover network ({', '.join(NETWORK_CLASSES)})."
        )
    return back[found[0]], None


@needs("pair")
def land_cover_changes(
    session: Session, was: str | None = None, became: str | None = None
) -> dict[str, Any]:
    """What the changed land was and became, measured per pixel: buildings built or removed, what a class lost or gained and to what.

    Args:
        was: the land cover before, e.g. "vegetation", "fields", "buildings", "water"
            (what did it become, how much of it was lost; removed buildings).
        became: the land cover after, e.g. "buildings", "road", "bare land" (how many
            buildings were built, how much of it was gained and from what).
    """
    before, c1 = network_class(was)
    after, c2 = network_class(became)
    data = session.class_changes()
    caveats = [c for c in (c1, c2) if c]
    if not data.get("measured"):
        return {
            "text": " ".join(data.get("notes", [])) or "no land-cover classes were measured.",
            "value": None,
            "unit": None,
            "evidence": [],
            "answerable": False,
        }
    if not data.get("complete", True):
        caveats += [n for n in data.get("notes", []) if n.startswith("classes not computed")]
    unit = data.get("area_unit") or "px"
    rows = [r for r in data["transitions"] if r["from"] != r["to"]]
    if "building" in (before, after) and not (before and after):
        out = _buildings(data, built=after == "building", unit=unit)
    elif before and after:
        area = sum(r["area"] for r in rows if r["from"] == before and r["to"] == after)
        text = f"{_area(area, unit)} changed from {before} to {after}."
        out = {"text": text, "value": round(area, 2), "unit": unit, "evidence": []}
    elif before is not None or after is not None:
        name = before if before is not None else str(after)
        out = _one_class(rows, data, name, lost=before is not None, unit=unit)
    else:
        top = sorted(
            (r for r in rows if "unknown" not in (r["from"], r["to"])), key=lambda r: -r["area"]
        )
        parts = [f"{r['from']} -> {r['to']} {_area(r['area'], unit)}" for r in top[:SHOWN]]
        text = "The largest land-cover changes: " + ("; ".join(parts) or "none measured") + "."
        out = {"text": text, "value": len(top), "unit": "transitions", "evidence": []}
    out["transitions"] = rows[:30]
    if caveats:
        out["caveats"] = caveats
        out["text"] += " Note: " + "; ".join(caveats) + "."
    return out


def _buildings(data: dict[str, Any], built: bool, unit: str) -> dict[str, Any]:
    found = data.get("buildings") or {}
    key = "built" if built else "removed"
    n = int(found.get(key, 0))
    area = data["by_class"]["building"]["gained" if built else "lost"]
    if built:
        verb = "built (another class before, a building after)"
        moved = f"{_area(area, unit)} changed from another known class to building"
    else:
        verb = "removed (a building before, another class after)"
        moved = f"{_area(area, unit)} changed from building to another known class"
    text = f"{n} building{'s' if n != 1 else ''} {verb}; {moved}."
    return {"text": text, "value": n, "unit": "buildings", "evidence": found.get(f"{key}_ids", [])}


def _one_class(
    rows: list[dict[str, Any]], data: dict[str, Any], name: str, lost: bool, unit: str
) -> dict[str, Any]:
    side, other = ("from", "to") if lost else ("to", "from")
    mine = sorted(
        (r for r in rows if r[side] == name and r[other] != "unknown"), key=lambda r: -r["area"]
    )
    total = data["by_class"][name]["lost" if lost else "gained"]
    parts = [f"{r[other]} {_area(r['area'], unit)}" for r in mine[:SHOWN]]
    unsure = data["by_class"][name]["to_unknown" if lost else "from_unknown"]
    if not parts:
        text = f"{name} {'lost' if lost else 'gained'} {_area(0.0, unit)} to or from another known class."
    elif lost:
        text = f"{name} lost {_area(total, unit)}: it became " + ", ".join(parts) + "."
    else:
        text = f"{name} gained {_area(total, unit)}: it was " + ", ".join(parts) + "."
    if unsure:
        text += f" Another {_area(unsure, unit)} changed where the network was unsure of one date."
    return {"text": text, "value": round(total, 2), "unit": unit, "evidence": []}


def _area(value: float, unit: str) -> str:
    if unit == "m2" and value >= 10_000:
        return f"{value / 10_000:,.2f} ha"
    return f"{value:,.0f} {'m²' if unit == 'm2' else unit}"
