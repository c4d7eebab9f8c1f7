"""What a saved result's changes were and became, read back for the server and the agent.

:func:`class_changes` reads ``change_classes.json`` (pixels and area of each from -> to
pair) and the recut objects (``change_objects.jsonl``) of a result folder and answers the
usual questions in one JSON-ready dict: how many buildings were built or removed, what
each land-cover class lost and gained, and how much of the change was classified at all
(a budget may have left some of it out: then ``complete`` is false and ``notes`` say so).

Example:
    >>> class_changes("no/such/folder")["measured"]
    False
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from terrasight.tasks.change.names import STORE_NAME, TRANSITIONS_NAME
from terrasight.tasks.change.store import ObjectsView

BUILDING = "building"
UNSURE = ("unknown", None)
MAX_IDS = 200
"""Object ids listed per group; the count covers them all."""


def class_changes(folder: str | Path) -> dict[str, Any]:
    """The land-cover changes of the result in ``folder`` (``measured`` false without them).

    Keys: ``measured``, ``complete``, ``area_unit``, ``transitions`` (from, to, pixels,
    area; unchanged classes included), ``by_class`` (per class: ``lost`` and ``gained`` area
    to or from another known class, ``to_unknown`` / ``from_unknown`` where one date is
    unsure), ``buildings`` (``built`` and ``removed`` counts of objects and their ids),
    ``objects_classified``, ``objects_total``, ``classified_share`` and ``notes``.

    Example:
        >>> class_changes("out")["buildings"]["built"]  # doctest: +SKIP
        12
    """
    folder = Path(folder)
    table_path, store_path = folder / TRANSITIONS_NAME, folder / STORE_NAME
    if not table_path.is_file():
        return _not_measured(folder, "the job ran without land-cover classes")
    objects = ObjectsView.open(store_path) if store_path.is_file() else None
    if objects is not None and len(objects) and objects[0].parent_id is None:
        return _not_measured(folder, f"{TRANSITIONS_NAME} is older than the objects")
    data = json.loads(table_path.read_text(encoding="utf-8"))
    rows = data.get("transitions", [])
    out = {
        "measured": True,
        "complete": bool(data.get("complete", True)),
        "area_unit": data.get("area_unit"),
        "transitions": rows,
        "by_class": by_class(rows, data.get("classes", [])),
        "buildings": buildings(objects) if objects is not None else None,
        "only": data.get("only"),
        "notes": list(data.get("notes", [])),
    }
    for key in ("objects_classified", "objects_total", "classified_share", "budget_s"):
        out[key] = data.get(key)
    return out


def by_class(rows: list[dict[str, Any]], classes: list[str]) -> dict[str, dict[str, float]]:
    """Per land-cover class, the area it lost and gained among the changed pixels.

    Example:
        >>> rows = [{"from": "vegetation", "to": "bare", "area": 5.0},
        ...         {"from": "vegetation", "to": "unknown", "area": 2.0}]
        >>> by_class(rows, ["vegetation", "bare", "unknown"])["vegetation"]
        {'lost': 5.0, 'gained': 0.0, 'to_unknown': 2.0, 'from_unknown': 0.0}
    """
    out = {}
    for name in classes:
        if name in UNSURE:
            continue
        out[name] = {
            "lost": _area(rows, lambda r, n=name: r["from"] == n and r["to"] not in (n, *UNSURE)),
            "gained": _area(rows, lambda r, n=name: r["to"] == n and r["from"] not in (n, *UNSURE)),
            "to_unknown": _area(rows, lambda r, n=name: r["from"] == n and r["to"] in UNSURE),
            "from_unknown": _area(rows, lambda r, n=name: r["to"] == n and r["from"] in UNSURE),
        }
    return out


def buildings(objects: ObjectsView) -> dict[str, Any]:
    """Objects that became a building (from another class, ``unknown`` included) and those
    that were one and became another class; objects without classes are counted apart."""
    built, removed, unclassified = [], [], 0
    for obj in objects.without_geometry():
        if obj.from_class is None or obj.to_class is None:
            unclassified += 1
        elif obj.to_class == BUILDING and obj.from_class != BUILDING:
            built.append(obj.id)
        elif obj.from_class == BUILDING and obj.to_class not in (BUILDING, "unknown"):
            removed.append(obj.id)
    return {
        "built": len(built),
        "removed": len(removed),
        "built_ids": built[:MAX_IDS],
        "removed_ids": removed[:MAX_IDS],
        "objects_without_classes": unclassified,
    }


def _area(rows: list[dict[str, Any]], keep: Any) -> float:
    return round(float(sum(r.get("area", 0.0) for r in rows if keep(r))), 2)


def _not_measured(folder: Path, why: str) -> dict[str, Any]:
    return {
        "measured": False,
        "complete": False,
        "notes": [
            f"{folder.name or folder}: no land-cover classes of the changes ({why}); run the "
            "change with classes (terrasight change without --no-classes, or classes=true "
            "in the API) to know what changed into what."
        ],
    }
