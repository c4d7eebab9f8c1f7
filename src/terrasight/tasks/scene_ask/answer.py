"""Answers to questions about one image, computed from its land-cover objects.

Example:
    >>> SceneAnswer("Yes.", True, None, (3,), "presence").to_dict()["evidence"]
    [3]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from terrasight.tasks.interpret.ask_select import Answer
from terrasight.tasks.questions import QuestionType
from terrasight.tasks.scene_ask.instances import SceneObjects, shape_word
from terrasight.tasks.scene_ask.parse import SceneQuery, Target
from terrasight.tasks.scene_ask.targets import (
    Selection,
    cell_areas,
    class_area,
    region,
    select,
    touching,
)
from terrasight.tasks.scene_ask.words import M2_PER, in_place

CANT_TELL = "I can't tell"
URBAN_BUILT_SHARE = 0.15
"""Rural or urban: urban when buildings and roads cover at least this share of the image..."""
URBAN_BUILDINGS_PER_KM2 = 100.0
"""... or (with a CRS) there are at least this many buildings per km2."""
COARSE_METRES = 2.0
"""Pixels wider than this (m) cannot separate single houses; building counts say so."""
UNSURE_SHARE = 0.2
"""A map with more ``unknown`` than this share gets a caveat on every answer."""
PLURAL = {"building": "buildings", "road": "roads", "water": "water areas",
          "vegetation": "vegetation areas", "bare": "bare areas"}  # fmt: skip
MASS = {"building": "buildings", "road": "roads", "water": "water",
        "vegetation": "vegetation", "bare": "bare land"}  # fmt: skip


@dataclass(frozen=True)
class SceneAnswer(Answer):
    """The answer to one question about one image: the pair :class:`Answer` and its evidence
    polygons.

    ``value`` is a number, ``True``/``False``, a place or a dict of shares (None when
    unanswerable); ``unit`` one of ``objects``, ``m2``, ``ha``, ``km2``, ``acre``, ``px``,
    ``%``; ``evidence`` the ids of the land-cover objects the answer rests on;
    ``question_type`` one of ``presence``, ``count``, ``area``, ``comparison``,
    ``rural_urban``, ``what``, ``where`` or ``unanswerable``.

    Attributes:
        geojson: the evidence polygons: a file path, or a FeatureCollection (WGS84, or
            pixel coordinates without a CRS); None when there are none.
        guess: only beside "I can't tell" about a kind the classes cannot see: the value
            the question gets when that kind is read as its whole class (every building
            taken as commercial). For scoring benchmarks; never the answer, never in
            ``text``, ``value`` or :meth:`to_dict`.
    """

    geojson: str | dict[str, Any] | None = None
    guess: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields of :meth:`Answer.to_dict` and ``geojson``."""
        return {**super().to_dict(), "geojson": self.geojson}


def cant_tell(reason: str, kind: QuestionType = "unanswerable") -> SceneAnswer:
    """ "I can't tell ... because ..." with ``answerable`` False.

    Example:
        >>> cant_tell("cars are too small").text
        "I can't tell that from this image's land cover, because cars are too small."
    """
    return SceneAnswer(
        f"{CANT_TELL} that from this image's land cover, because {reason}.",
        None,
        None,
        (),
        kind,
        answerable=False,
    )


def answer_query(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    """Answer a parsed question from the objects of one land-cover map."""
    handler = {
        "presence": _presence,
        "count": _count,
        "area": _area,
        "comparison": _comparison,
        "rural_urban": _rural_urban,
        "what": _what,
        "where": _where,
    }.get(q.kind)
    if handler is None:
        if q.reason:
            return cant_tell(q.reason)
        return cant_tell(
            "I do not read this kind of question; ask whether there is, how many, how much "
            "area or what share, more X than Y, rural or urban, what is in a place, or where X is"
        )
    return handler(objs, q)


def _sel(objs: SceneObjects, q: SceneQuery, i: int = 0) -> tuple[Target, Selection]:
    t = q.targets[i]
    return t, select(objs, t)


def _presence(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    t, s = _sel(objs, q)
    if s.reason:
        return cant_tell(s.reason, "presence")
    if t.place and not s.filtered:  # any object reaching into the place, not only centred there
        s = Selection(touching(objs, s.name, t.place), s.name)
    n = len(s.ids)
    t = _coarse_target(objs, t, s.name)
    text = f"Yes: {_count_words(n, t)}." if n else f"No: no {noun(t.words, 0)} found."
    return SceneAnswer(text, n > 0, None, s.ids, "presence", _caveats(objs, s.name))


def _count(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    t, s = _sel(objs, q)
    if s.reason:
        return cant_tell(s.reason, "count")
    text = f"{_count_words(len(s.ids), _coarse_target(objs, t, s.name)).capitalize()}."
    return SceneAnswer(text, len(s.ids), "objects", s.ids, "count", _caveats(objs, s.name, True))


def _area(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    t, s = _sel(objs, q)
    if s.reason:
        return cant_tell(s.reason, "area")
    area = class_area(objs, s, t.place)
    value, unit, caveats = convert(area, q.unit, objs)
    share = 100 * area / objs.map.valid_area if objs.map.valid_area else 0.0
    where = f" in the {t.place}" if t.place else ""
    of = "the cloud-free image" if objs.map.cloud_share > 0 else "the image"
    extra = "" if unit == "%" else f" ({share:.1f}% of {of})"
    label = f"the {t.extreme} {t.words}" if t.extreme else t.words
    text = f"{label[0].upper()}{label[1:]}{where}: {_amount(value, unit)}{extra}."
    return SceneAnswer(
        text, value, unit, s.ids, "area", (*caveats, *_caveats(objs, s.name, s.filtered))
    )


def convert(
    area: float, unit: str | None, objs: SceneObjects
) -> tuple[float, str, tuple[str, ...]]:
    """An area in the map's unit as the unit asked (default ``m2``, ``px`` without a CRS).

    Example:
        >>> import numpy as np
        >>> from terrasight.tasks.scene_ask.instances import find_objects
        >>> from terrasight.tasks.scene_ask.landcover_map import LandCoverMap
        >>> lc = LandCoverMap(np.zeros((10, 10), np.uint8), ("water",), np.full(10, 100.0), "m2")
        >>> convert(5000.0, "ha", find_objects(lc))[:2], convert(5000.0, "%", find_objects(lc))[:2]
        ((0.5, 'ha'), (50.0, '%'))
    """
    total = objs.map.valid_area
    if unit == "%":
        return (100 * area / total if total else 0.0), "%", ()
    if objs.map.unit == "px":
        note = (
            ()
            if unit in (None, "px")
            else (f"the map has no CRS, so the area is in pixels, not in {unit}",)
        )
        return area, "px", note
    unit = unit or "m2"
    return area / M2_PER[unit], unit, ()


def _comparison(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    (ta, a), (tb, b) = _sel(objs, q, 0), _sel(objs, q, 1)
    reason = a.reason or b.reason
    if reason:
        return cant_tell(reason, "comparison")
    if q.measure == "area":
        va, vb = class_area(objs, a, ta.place), class_area(objs, b, tb.place)
        sa, sb = _amount(va, objs.map.unit), _amount(vb, objs.map.unit)
    else:
        va, vb = float(len(a.ids)), float(len(b.ids))
        sa = _count_words(len(a.ids), _coarse_target(objs, ta, a.name))
        sb = _count_words(len(b.ids), _coarse_target(objs, tb, b.name))
    result = {"more": va > vb, "less": va < vb, "equal": va == vb}[q.op or "equal"]
    text = f"{'Yes' if result else 'No'}: {ta.words} {sa} against {tb.words} {sb}."
    if q.measure == "count":
        text = f"{'Yes' if result else 'No'}: {sa} against {sb}."
    caveats = (*_caveats(objs, a.name, q.measure == "count"), *_caveats(objs, b.name, False))
    return SceneAnswer(
        text, result, None, (*a.ids, *b.ids), "comparison", tuple(dict.fromkeys(caveats))
    )


def _rural_urban(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    lc = objs.map
    total = lc.valid_area
    built = lc.total("building") + lc.total("road")
    share = built / total if total else 0.0
    buildings = objs.of("building")
    density = len(buildings) / (total / 1e6) if lc.unit == "m2" and total else None
    urban = share >= URBAN_BUILT_SHARE or (
        density is not None and density >= URBAN_BUILDINGS_PER_KM2
    )
    dens = f", {density:.0f} buildings per km2" if density is not None else ""
    text = f"{'Urban' if urban else 'Rural'}: buildings and roads cover {100 * share:.1f}% of the image{dens}."
    rule = (
        f"rule: urban when buildings and roads cover at least {100 * URBAN_BUILT_SHARE:.0f}% "
        f"of the image or there are at least {URBAN_BUILDINGS_PER_KM2:.0f} buildings per km2"
    )
    return SceneAnswer(
        text,
        "urban" if urban else "rural",
        None,
        tuple(i.id for i in buildings),
        "rural_urban",
        _caveats(objs, "building"),
        (rule,),
    )


def _what(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    lc = objs.map
    inside = region(lc.shape, q.place) & lc.valid
    total = lc.area_of(inside)
    shares: dict[str, float] = {}
    for code, name in enumerate(lc.names):
        area = lc.area_of(inside & (lc.classes == code))
        if total and area:
            shares[name] = round(100 * area / total, 1)
    shares = dict(sorted(shares.items(), key=lambda kv: -kv[1]))
    ids = tuple(i.id for i in objs.instances if _in(i.place, q.place))
    parts = []
    for name, pct in shares.items():
        if pct < 5:
            continue
        n = sum(1 for i in objs.by_id(list(ids)) if i.name == name)
        mass, count = MASS.get(name, name), ""
        if name == "building" and n:
            word = PLURAL[name] if n != 1 else name
            if _pixel_side(objs) > COARSE_METRES:  # single buildings are not visible
                mass, word = "built-up land", "patches" if n != 1 else "patch"
            count = f" ({n} {word})"
        parts.append(f"{mass} {pct:.0f}%{count}")
    text = f"In the {q.place}: {', '.join(parts) or 'nothing classified'}."
    return SceneAnswer(text, shares, "%", ids, "what", _caveats(objs, None))


def _where(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    t, s = _sel(objs, q)
    if s.reason:
        return cant_tell(s.reason, "where")
    insts = objs.by_id(list(s.ids))
    if not insts:
        return SceneAnswer(f"There are no {t.words} in this image.", None, None, (), "where",
                           _caveats(objs, s.name))  # fmt: skip
    if q.extreme:
        pick = insts[0]  # the selection holds the one largest or smallest object
        shape = shape_word(objs, pick)
        desc = ", ".join(x for x in (_amount(pick.area, objs.map.unit), shape) if x)
        text = f"The {q.extreme} {t.words} (object {pick.id}, {desc}) is in the {pick.place}."
        return SceneAnswer(text, pick.place, None, (pick.id,), "where", _caveats(objs, s.name))
    by_cell: dict[str, float] = {}
    if s.filtered or t.place:
        for i in insts:
            by_cell[i.place] = by_cell.get(i.place, 0.0) + i.area
    else:  # the class's own pixels, cell by cell: a lake spanning three cells is in all three
        by_cell = cell_areas(objs, s.name)
    total = sum(by_cell.values())
    cells = [
        (c, a / total)
        for c, a in sorted(by_cell.items(), key=lambda kv: -kv[1])
        if a / total >= 0.1
    ]
    words = ", ".join(f"the {c} ({100 * f:.0f}%)" for c, f in cells)
    text = f"{t.words.capitalize()}: mostly in {words}."
    return SceneAnswer(text, [c for c, _ in cells], None, s.ids, "where", _caveats(objs, s.name))


def _in(cell: str, place: str | None) -> bool:
    return place is None or in_place(cell, place)


_MASS_WORDS = ("water", "vegetation", "bare", "land", "ground", "soil", "greenery", "bareland")


def _pixel_side(objs: SceneObjects) -> float:
    """The map's pixel side in metres (0 without ground units)."""
    return float(np.sqrt(np.median(objs.map.row_area))) if objs.map.unit == "m2" else 0.0


def _coarse_target(objs: SceneObjects, t: Target, name: str | None) -> Target:
    """``t`` worded as built-up patches where buildings are asked of a map too coarse to
    show single buildings (the answer names what was counted, not what was asked)."""
    if name != "building" or _pixel_side(objs) <= COARSE_METRES:
        return t
    return replace(t, words="built-up patches")


def _count_words(n: int, t: Target) -> str:
    """``3 buildings``, ``1 building``, ``2 water areas``, ``1 water area``."""
    return f"{n} {noun(t.words, n)}"


def noun(words: str, n: int) -> str:
    """A phrase in the number ``n`` asks for.

    Example:
        >>> noun("water", 2), noun("large buildings", 1), noun("road", 0)
        ('water areas', 'large building', 'roads')
    """
    last = words.split()[-1] if words.split() else words
    if last in _MASS_WORDS:
        return f"{words} {'area' if n == 1 else 'areas'}"
    if n == 1 and last.endswith("s") and not last.endswith("ss"):
        return words[:-1]
    if n != 1 and not last.endswith("s"):
        return f"{words}s"
    return words


def _amount(value: float, unit: str) -> str:
    if unit in ("px", "objects"):
        return f"{value:,.0f} {unit}"
    if unit == "%":
        return f"{value:.1f}%"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def _caveats(objs: SceneObjects, name: str | None, counted: bool = False) -> tuple[str, ...]:
    out = []
    unknown = objs.map.code("unknown")
    if unknown is not None and objs.map.valid_area:
        share = objs.map.area_of(objs.map.classes == unknown) / objs.map.valid_area
        if share > UNSURE_SHARE:
            out.append(f"{100 * share:.0f}% of the map is 'unknown' (the model was unsure there)")
    if counted and name == "road":
        out.append(
            "roads are counted as connected stretches of road pixels: a joined network is one"
        )
    elif counted and name == "building":
        out.append("touching buildings are split only where they join through a narrow neck")
        side = _pixel_side(objs)
        if side > COARSE_METRES:
            out.append(
                f"at about {side:.0f} m per pixel neighbouring buildings merge: this counts "
                "built-up patches, not single buildings"
            )
    elif counted and name in ("water", "vegetation", "bare"):
        out.append(f"{MASS[name]} is counted as separate patches of the class")
    return tuple(out)
