"""The land-cover check: a change whose land cover is the same, and sure, on both dates.

A change detector that compares colours marks harvest, ploughing, green-up and the
light of another season as change. After the change objects are cut by class
(:mod:`~terrasight.tasks.semantic.objects`), a piece whose decided class is the same
on both dates (vegetation -> vegetation, bare -> bare, ...) *and* whose pixels the
network itself called that class, sure of it, on both dates (at least ``min_share`` of
them) is taken for a change of tone, not of land cover:

- ``flag``: it stays in the mask and the objects; it is listed, with its id, in
  ``cover_unchanged.geojson`` and counted in the result's notes;
- ``drop``: it is cleared from the mask (and ``change_classes.tif``), removed from
  the objects, and kept in ``cover_unchanged.geojson`` so nothing is hidden;
- ``off``: nothing is checked.

Pixels the network was unsure of (``unknown``) in either date do not count towards
``min_share``, so a piece that is mostly unsure is kept. ``building -> building`` is
not checked by default: a rebuilt or re-roofed building keeps its class, and the
network's errors on covered roofs make it so on the benchmark pairs (see
``docs/semantic-change.md``).

Example:
    >>> check = CoverCheck.of("drop")
    >>> rec = {"from_class": "vegetation", "to_class": "vegetation"}
    >>> raw = np.array([[3, 3, 3, 5], [3, 3, 3, 3]], np.uint8)
    >>> check.judge(rec, raw)
    0.75
    >>> check.judge(rec, np.array([[3, 5, 5, 5], [3, 3, 3, 3]], np.uint8)) is None
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import InvalidOptionError
from terrasight.io.vectors import features_to_geojson, write_geojson
from terrasight.tasks.landcover.classes import CLASSES

CHECK_MODES = ("off", "flag", "drop")
"""What the check does with a change of the same land cover on both dates."""
CHECKED_CLASSES = ("road", "water", "vegetation", "bare")
"""Classes checked by default (``building`` left out: see the module docstring)."""
MIN_SHARE = 0.5
"""Share of a piece's pixels the network must call its class, sure, on both dates."""
UNCHANGED_NAME = "cover_unchanged.geojson"
"""The layer of checked pieces, beside the change mask."""


@dataclass(frozen=True)
class CoverCheck:
    """How the land-cover check runs (see the module docstring).

    Example:
        >>> CoverCheck.of("flag", classes=("vegetation",)).classes
        ('vegetation',)
    """

    mode: str = "off"
    min_share: float = MIN_SHARE
    classes: tuple[str, ...] = CHECKED_CLASSES

    @classmethod
    def of(
        cls,
        mode: str | CoverCheck | None,
        min_share: float = MIN_SHARE,
        classes: tuple[str, ...] | None = None,
    ) -> CoverCheck:
        """A checked :class:`CoverCheck` from a mode name (None: ``off``).

        Raises:
            InvalidOptionError: an unknown mode or class, or a share outside 0-1.
        """
        if isinstance(mode, CoverCheck):
            return mode
        name = str(mode or "off").strip().lower()
        if name not in CHECK_MODES:
            raise InvalidOptionError(
                f"landcover_check={mode!r} is not a mode; choose one of {', '.join(CHECK_MODES)}."
            )
        chosen = tuple(classes) if classes is not None else CHECKED_CLASSES
        wrong = [c for c in chosen if c not in CLASSES or c == "unknown"]
        if wrong:
            raise InvalidOptionError(
                f"land-cover check classes {wrong} are not land-cover classes; choose from "
                f"{', '.join(c for c in CLASSES if c != 'unknown')}."
            )
        if not 0.0 <= float(min_share) <= 1.0:
            raise InvalidOptionError(f"check share {min_share} must be between 0 and 1.")
        return cls(name, float(min_share), chosen)

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def judge(self, record: dict[str, Any], raw: np.ndarray) -> float | None:
        """The sure same-class share of a piece when the check takes it (else None).

        ``record`` holds the piece's decided ``from_class`` and ``to_class``; ``raw`` is
        the network's own codes of its pixels, shape ``(2, n)`` (5: unsure).
        """
        name = record.get("from_class")
        if not self.active or name != record.get("to_class") or name not in self.classes:
            return None
        code = CLASSES.index(str(name))
        sure = float(np.mean((raw[0] == code) & (raw[1] == code))) if raw.size else 0.0
        return round(sure, 4) if sure >= self.min_share else None


@dataclass
class CheckLog:
    """The pieces the check took, kept for :data:`UNCHANGED_NAME` and the notes."""

    check: CoverCheck
    items: list[tuple[dict[str, Any], str, float]] = field(default_factory=list)

    def add(self, record: dict[str, Any], geometry: str, share: float) -> None:
        self.items.append((dict(record), geometry, share))

    def finish(self, folder: Path, objects: Any, crs: Any) -> dict[str, Any]:
        """Write :data:`UNCHANGED_NAME` into ``folder``; the summary for ``params``.

        In ``flag`` mode the pieces are found again among the written ``objects`` (by
        parent, pixel box and size) to give their ids.
        """
        ids = self._ids(objects) if self.check.mode == "flag" else {}
        features = []
        for k, (record, geometry, share) in enumerate(self.items):
            props = _properties(record, share, self.check.mode, ids.get(_key(record)))
            features.append({"geometry": json.loads(geometry), "properties": props, "id": k + 1})
        path = write_geojson(Path(folder) / UNCHANGED_NAME, features_to_geojson(features, crs))
        return self.summary(path, sorted(i for i in ids.values() if i is not None))

    def summary(self, path: Path, ids: list[int]) -> dict[str, Any]:
        by_class: dict[str, int] = {}
        for record, _, _ in self.items:
            by_class[str(record["from_class"])] = by_class.get(str(record["from_class"]), 0) + 1
        return {
            "mode": self.check.mode,
            "min_share": self.check.min_share,
            "classes": list(self.check.classes),
            "objects": len(self.items),
            "pixels": int(sum(int(r["pixels"]) for r, _, _ in self.items)),
            "area": float(sum(float(r["area"]) for r, _, _ in self.items)),
            "by_class": by_class,
            "flagged_ids": ids,
            "layer": str(path),
        }

    def _ids(self, objects: Any) -> dict[tuple[Any, ...], int]:
        wanted = {_key(r) for r, _, _ in self.items}
        out = {}
        for obj in objects.without_geometry():
            key = (obj.parent_id, tuple(int(v) for v in obj.pixel_bbox), int(obj.pixels))
            if key in wanted:
                out[key] = int(obj.id)
        return out


def check_note(summary: dict[str, Any], unit: str) -> str | None:
    """The sentence the result's warnings carry (None when the check took nothing).

    Example:
        >>> s = {"mode": "drop", "objects": 2, "area": 50.0, "by_class": {"vegetation": 2},
        ...      "layer": "out/cover_unchanged.geojson"}
        >>> check_note(s, "m2")[:60]
        'land cover unchanged: 2 changes (50 m2) are vegetation on bo'
    """
    if not summary.get("objects"):
        return None
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary["by_class"].items()))
    what = (
        "removed from the mask and the objects"
        if summary["mode"] == "drop"
        else "kept in the mask and the objects"
    )
    n = int(summary["objects"])
    changes, verb, they = ("change", "is", "It is") if n == 1 else ("changes", "are", "They are")
    return (
        f"land cover unchanged: {n} {changes} ({summary['area']:,.0f} {unit}) {verb} "
        f"{_classes_words(summary['by_class'])} on both dates ({kinds}): seasonal or tonal "
        f"change? {they} {what}, and listed in {Path(summary['layer']).name}."
    )


def _classes_words(by_class: dict[str, int]) -> str:
    names = sorted(by_class)
    return names[0] if len(names) == 1 else "the same class"


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record.get("parent_id"),
        tuple(int(v) for v in record["pixel_bbox"]),
        int(record["pixels"]),
    )


def _properties(
    record: dict[str, Any], share: float, mode: str, object_id: int | None
) -> dict[str, Any]:
    keep = ("pixels", "area", "area_unit", "location", "mean_probability", "from_class",
            "to_class", "from_share", "to_share", "parent_id", "pixel_bbox")  # fmt: skip
    props = {k: record.get(k) for k in keep}
    props["sure_share"] = share
    props["action"] = "removed" if mode == "drop" else "flagged"
    props["object_id"] = object_id
    props["note"] = (
        f"land cover unchanged: {record['from_class']} on both dates; seasonal or tonal change?"
    )
    return props
