"""The agent's tools: typed functions over the change tasks, each returning a JSON-ready dict.

Every tool takes the conversation's :class:`~terrasight.agent.session.Session`
first (given by the agent) and then the arguments a brain fills in; its schema
comes from its signature and docstring (:func:`~terrasight.agent.schema.tool_schema`).
Results carry ``text`` and, where there is one, ``value``, ``unit`` and
``evidence`` (the ids of the change objects it rests on). They are registered
as entry points of the group ``terrasight.tools`` (see
:mod:`terrasight.agent.registry`), as a third-party tool would be.

Example:
    >>> session = Session("demo/before.tif", "demo/after.tif")  # doctest: +SKIP
    >>> count_changes(session, places=["north"])["value"]  # doctest: +SKIP
    3
"""

from __future__ import annotations

import re
from typing import Any, Literal

from terrasight.agent.brains.queries import answer_dict, make_query
from terrasight.agent.ranking import ordinal, ranked_id
from terrasight.agent.registry import needs
from terrasight.agent.session import Session
from terrasight.errors import ToolArgumentError, UnknownClassError

Size = Literal["large", "small"]
Shape = Literal["elongated", "compact"]
Extreme = Literal["largest", "smallest"]
Unit = Literal["m2", "ha", "km2", "acre", "mi2", "px", "%", "m", "km", "mi"]
Kind = Literal["presence", "count", "area", "location", "class", "listing", "length"]
MAX_LISTED = 30
"""Objects listed one by one in a tool result; the rest are counted."""


@needs("pair")
def detect_changes(session: Session, method: str | None = None) -> dict[str, Any]:
    """Detect the changes between the two images (again, with another method).

    Args:
        method: a change method: "auto" (the default: the best for the images' kind),
            "learned", "cva", "irmad" or "sar";
            leave it out to keep the current result.
    """
    if method is not None and method != session.method:
        result = session.redetect(method)
    else:
        result = session.result()
    facts = session.facts()
    pct = 100.0 * facts.changed_area / facts.valid_area if facts.valid_area else 0.0
    from terrasight.tasks.interpret.ask_select import area_text, percent_text, plural

    text = (
        f"{plural(facts.object_count)} found with the {result.method} method: "
        f"{area_text(facts.changed_area, facts.area_unit)} ({percent_text(pct)} of the scene)."
    )
    ids = [f.id for f in facts.objects]
    return {"text": text, "value": facts.object_count, "unit": "objects", "evidence": ids}


@needs("pair")
def change_facts(session: Session, object_ids: list[int] | None = None) -> dict[str, Any]:
    """The facts of the changes: totals, counts per place, and each object's size, shape, place and land cover.

    Args:
        object_ids: only these change objects (all when left out).
    """
    facts = session.subset(object_ids)
    objects = [
        {
            "id": f.id,
            "area": round(f.area, 1),
            "size": f.size,
            "shape": f.shape,
            "location": f.location,
            "change": f.change,
        }
        for f in facts.objects[:MAX_LISTED]
    ]
    by_place = {k: v["count"] for k, v in facts.by_location.items() if v["count"]}
    pct = 100.0 * facts.changed_area / facts.valid_area if facts.valid_area else 0.0
    return {
        "text": f"{facts.object_count} change objects, {facts.changed_area:.0f} "
        f"{facts.area_unit} changed ({pct:.2f}% of the scene).",
        "object_count": facts.object_count,
        "changed_area": facts.changed_area,
        "area_unit": facts.area_unit,
        "changed_percent": round(pct, 4),
        "count_by_place": by_place,
        "objects": objects,
        "more_objects": max(0, facts.object_count - MAX_LISTED),
        "land_cover_classified": facts.model is not None,
        "unreliable": facts.unreliable,
        "evidence": [f.id for f in facts.objects],
    }


@needs("pair")
def count_changes(
    session: Session,
    places: list[str] | None = None,
    became: list[str] | None = None,
    was: list[str] | None = None,
    size: Size | None = None,
    shape: Shape | None = None,
    object_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Count the change objects, all or those matching the filters.

    Args:
        places: parts of the scene, e.g. "north", "south-east", "centre".
        became: land-cover classes gained, e.g. "built-up", "water".
        was: land-cover classes lost, e.g. "vegetation".
        size: only large or only small changes.
        shape: only elongated (roads, strips) or only compact changes.
        object_ids: count among these change objects only.
    """
    return query_changes(
        session, "count", places, became, was, size=size, shape=shape, object_ids=object_ids
    )


@needs("pair")
def measure(
    session: Session,
    object_ids: list[int] | None = None,
    places: list[str] | None = None,
    became: list[str] | None = None,
    was: list[str] | None = None,
    extreme: Extreme | None = None,
    unit: Unit | None = None,
    rank: int | None = None,
) -> dict[str, Any]:
    """Measure the area (and length) of change objects: given ones, matching ones, or all.

    Args:
        object_ids: measure these change objects.
        places: only changes in these parts of the scene, e.g. "north".
        became: only changes to these land-cover classes.
        was: only changes from these land-cover classes.
        extreme: only the largest or the smallest of them.
        unit: the unit of the answer: m2, ha, km2, acre, mi2, px, or % of the scene.
        rank: with extreme, which one: 2 for the second largest (or smallest), 3 for the third.
    """
    from terrasight.tasks.interpret.ask_select import number_text

    facts = session.facts()
    if rank is not None and rank != 1:
        listed = query_changes(session, "listing", places, became, was, object_ids=object_ids)
        chosen = ranked_id(listed, lambda i: facts.object(i).area, extreme, rank)
        out = query_changes(session, "area", unit=unit, object_ids=[chosen])
        where = f" in the {' and '.join(places)}" if places else ""
        said = str(out["text"]).removesuffix(f": object {chosen}.").removesuffix(".")
        out["text"] = f"The {ordinal(rank)} {extreme} change{where} is object {chosen}: {said}."
    else:
        out = query_changes(
            session, "area", places, became, was, extreme=extreme, unit=unit, object_ids=object_ids
        )
    if out.get("answerable") is False:
        return out
    out["objects"] = [
        {"id": i, "area": facts.object(i).area, "area_unit": facts.area_unit, **_length(facts, i)}
        for i in out["evidence"][:MAX_LISTED]
    ]
    long = [
        f"{number_text(o['length'])} {o['length_unit']}" for o in out["objects"] if "length" in o
    ]
    if len(long) == 1:
        out["text"] += f" It is {long[0]} long."
    elif 1 < len(long) <= 3:
        out["text"] += " They are " + ", ".join(long) + " long."
    return out


def _length(facts: Any, object_id: int) -> dict[str, Any]:
    """The long side of an object's minimum rotated rectangle, from its facts: in metres on
    every CRS (never degrees), in pixels without one."""
    f = facts.object(object_id)
    if f.length is None:
        return {}
    return {"length": f.length, "width": f.width, "length_unit": f.length_unit}


@needs("pair")
def locate(
    session: Session,
    object_ids: list[int] | None = None,
    places: list[str] | None = None,
    became: list[str] | None = None,
    was: list[str] | None = None,
    extreme: Extreme | None = None,
) -> dict[str, Any]:
    """Say where change objects are: given ones, matching ones, or where most change is.

    Args:
        object_ids: locate these change objects.
        places: only changes in these parts of the scene.
        became: only changes to these land-cover classes.
        was: only changes from these land-cover classes.
        extreme: only the largest or the smallest change.
    """
    if object_ids is None or places or became or was or extreme:
        return query_changes(
            session, "location", places, became, was, extreme=extreme, object_ids=object_ids
        )
    from terrasight.tasks.interpret.ask_select import area_text

    facts = session.subset(object_ids)
    found = sorted(facts.objects, key=lambda f: -f.area)
    parts = []
    for f in found[:MAX_LISTED]:
        where = f"the {f.location}"
        if f.centroid_lonlat:
            lon, lat = f.centroid_lonlat
            ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
            where += f", centred at {abs(lat):.5f} {ns}, {abs(lon):.5f} {ew}"
        parts.append(f"object {f.id} ({area_text(f.area, f.area_unit)}) is in {where}")
    by_area: dict[str, float] = {}
    for f in found:
        by_area[f.location] = by_area.get(f.location, 0.0) + f.area
    text = "; ".join(parts) + "." if parts else "No change object was given."
    places_of = [{"id": f.id, "location": f.location, "lonlat": f.centroid_lonlat} for f in found]
    return {
        "text": text[0].upper() + text[1:],
        "value": max(by_area, key=lambda k: by_area[k]) if found else None,
        "unit": None,
        "evidence": [f.id for f in found],
        "objects": places_of[:MAX_LISTED],
    }


@needs("pair")
def query_changes(
    session: Session,
    kind: Kind,
    places: list[str] | None = None,
    became: list[str] | None = None,
    was: list[str] | None = None,
    involves: list[str] | None = None,
    size: Size | None = None,
    shape: Shape | None = None,
    extreme: Extreme | None = None,
    unit: Unit | None = None,
    object_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Answer a question about the changes from typed parts: what is asked and about which changes.

    Args:
        kind: presence (yes or no), count, area, location, class (what land cover), listing,
            length (how long or wide).
        places: parts of the scene, e.g. "north", "south-east", "centre".
        became: land-cover classes gained.
        was: land-cover classes lost.
        involves: land-cover classes before or after.
        size: only large or only small changes.
        shape: only elongated or only compact changes.
        extreme: only the largest or the smallest change.
        unit: the unit of the answer: of area m2, ha, km2, acre, mi2, px or %; of length
            m, km, mi or px.
        object_ids: only among these change objects.
    """
    from terrasight.tasks.interpret.ask_answer import answer_query
    from terrasight.tasks.interpret.ask_select import cant_tell

    try:
        q = make_query(
            kind,
            places=places,
            became=became,
            was=was,
            involves=involves,
            size=size,
            shape=shape,
            extreme=extreme,
            unit=unit,
        )
    except UnknownClassError as exc:  # "a new airport": no class, so no yes from counts
        return answer_dict(cant_tell(str(exc), kind))
    facts = session.subset(object_ids, classes=bool(q.classes) or kind == "class")
    return answer_dict(answer_query(facts, q))


@needs("pair")
def answer_question(
    session: Session, question: str, object_ids: list[int] | None = None
) -> dict[str, Any]:
    """Answer an English question about what changed, from the change facts.

    Args:
        question: the question, e.g. "how many new buildings are in the north?".
        object_ids: only among these change objects.
    """
    from terrasight.tasks.interpret.ask import needs_classes
    from terrasight.tasks.interpret.ask_answer import answer_query
    from terrasight.tasks.interpret.ask_parse import parse_question
    from terrasight.tasks.interpret.ask_select import cant_tell

    q = parse_question(question, session.cache, session.sentence_model)
    if q.kind == "unanswerable":
        return answer_dict(cant_tell(q.unanswerable or "the question is unclear"))
    facts = session.subset(object_ids, classes=needs_classes(q))
    return answer_dict(answer_query(facts, q))


@needs("pair")
def describe_change(session: Session, object_ids: list[int] | None = None) -> dict[str, Any]:
    """Describe what changed in one to three sentences.

    Args:
        object_ids: describe only these change objects.
    """
    from terrasight.tasks.interpret.caption import caption_change

    facts = session.subset(object_ids, classes=True)  # words need what the ground became
    text = caption_change(facts)
    return {"text": text, "value": text, "unit": None, "evidence": [f.id for f in facts.objects]}


@needs("pair")
def classify_region(
    session: Session,
    labels: list[str],
    object_id: int | None = None,
    image: Literal["before", "after"] = "after",
) -> dict[str, Any]:
    """Classify a change object's surroundings (or the whole image) among the given labels.

    Args:
        labels: candidate classes, e.g. ["forest", "houses", "water"].
        object_id: the change object to look at (the whole scene when left out).
        image: which date to look at.
    """
    from rasterio.windows import Window

    from terrasight.tasks.embed import classify
    from terrasight.tasks.interpret.crops import context_window, open_crops

    if not labels:
        raise ToolArgumentError("classify_region: give at least one label.")
    result = session.result()
    window = Window(0, 0, result.width, result.height)
    if object_id is not None:
        facts = session.subset([object_id])
        window = context_window(facts.objects[0].pixel_bbox, result.width, result.height)
    with open_crops(result) as crops:
        picture = crops.crop(image, window)
    ranking = classify(picture, labels, cache=session.cache)
    best, p = ranking[0]
    where = f"around object {object_id}" if object_id is not None else "in the scene"
    return {
        "text": f"The {image} image {where} looks most like {best} (probability {p:.2f}).",
        "value": best,
        "unit": None,
        "evidence": [object_id] if object_id is not None else [],
        "ranking": [[label, round(q, 4)] for label, q in ranking],
    }


@needs("pair")
def export_geojson(
    session: Session, object_ids: list[int] | None = None, name: str | None = None
) -> dict[str, Any]:
    """Write change objects to a GeoJSON file (WGS84) and give its path and the change mask GeoTIFF's.

    Args:
        object_ids: the change objects to write (all when left out).
        name: the file name without extension (letters, digits, "-" and "_").
    """
    from terrasight.io.vectors import features_to_geojson, write_geojson
    from terrasight.tasks.change.output.vectors import object_feature

    facts = session.subset(object_ids)
    ids = [f.id for f in facts.objects]
    stem = name or f"selection-{len(session.exports) + 1}"
    if not re.fullmatch(r"[\w-]{1,80}", stem):
        raise ToolArgumentError(
            f"export_geojson: name {stem!r} must be 1-80 letters, digits, '-' or '_'."
        )
    result = session.result()
    wanted = set(ids)
    extra = {f.id: {"size": f.size, "shape": f.shape, "change": f.change} for f in facts.objects}
    features = []
    for obj in result.objects:
        if obj.id in wanted:
            feature = object_feature(obj)
            features.append(
                type(feature)(feature.geometry, {**feature.properties, **extra[obj.id]}, obj.id)
            )
    path = write_geojson(
        session.outdir / f"{stem}.geojson", features_to_geojson(features, result.crs)
    )
    session.exports.append(path)
    from terrasight.tasks.interpret.ask_select import ids_text, plural

    what = ids_text(ids) if ids else "no object"
    return {
        "text": f"Wrote {plural(len(ids))} ({what}) to {path}; the change mask is {result.mask_path}.",
        "value": str(path),
        "unit": None,
        "evidence": ids,
        "path": str(path),
        "mask": str(result.mask_path),
    }
