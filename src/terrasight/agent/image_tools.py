"""Tools for a conversation about one image (one date): its land cover, counts, areas, places.

Offered when the conversation holds one image (``Agent(IMAGE)``, ``terrasight chat
IMAGE``): the image is classified into land cover once, on the first question, and
every answer rests on that map's objects (see ``docs/ask-image.md``). Registered like
the other tools.

Example:
    >>> session = Session("scene.tif")  # doctest: +SKIP
    >>> ask_image(session, "how many buildings are in the north?")["value"]  # doctest: +SKIP
    4
"""

from __future__ import annotations

from typing import Any

from terrasight.agent.brains.queries import answer_dict
from terrasight.agent.registry import needs
from terrasight.agent.session import Session
from terrasight.errors import QuestionError, ToolArgumentError

CLASS_WORDS = {"building": "buildings", "road": "roads", "water": "water",
               "vegetation": "vegetation", "bare": "bare land", "unknown": "unsure"}  # fmt: skip
"""How the land-cover classes are named in a sentence."""


@needs("scene")
def ask_image(session: Session, question: str) -> dict[str, Any]:
    """Answer a question about the one image from its land cover: "is there water?", "how
    many buildings are in the north?", "what area do roads cover?", "are there more
    buildings than roads?", "is it rural or urban?", "what is in the south-east?", "where is
    the largest building?". The evidence polygons go to a GeoJSON file (``geojson``).

    Args:
        question: the question, in English.
    """
    from dataclasses import replace

    from terrasight.tasks.scene_ask.ask import answer_with_evidence, clouded_out

    objs = session.scene_objects()
    k = sum(1 for p in session.exports if p.name.startswith("evidence_"))
    try:
        clouded = clouded_out(objs.map, question)
        if clouded is not None:
            return answer_dict(clouded)
        answer = answer_with_evidence(objs, question, session.outdir / "evidence", k)
    except QuestionError as exc:
        raise ToolArgumentError(f"ask_image: {exc}") from None
    answer = replace(answer, caveats=(*answer.caveats, *objs.map.caveats))
    if isinstance(answer.geojson, str):
        from pathlib import Path

        session.exports.append(Path(answer.geojson))
    return answer_dict(answer, geojson=answer.geojson)


@needs("scene")
def image_landcover(session: Session) -> dict[str, Any]:
    """The land cover of the one image: the share and area of each class (building, road,
    water, vegetation, bare, unknown) and how many objects of each."""
    objs = session.scene_objects()
    lc = objs.map
    total = lc.valid_area
    shares = {n: (100 * lc.total(n) / total if total else 0.0) for n in lc.names}
    counts = {n: len(objs.of(n)) for n in lc.names if n != "unknown"}
    ranked = sorted(shares, key=lambda n: -shares[n])
    parts = [f"{CLASS_WORDS.get(n, n)} {shares[n]:.1f}%" for n in ranked if shares[n] >= 0.05]
    text = f"Land cover of {session.scene.name if session.scene else 'the image'}: " + ", ".join(
        parts
    )
    return {
        "text": text + ".",
        "value": {n: round(v, 2) for n, v in shares.items()},
        "unit": "%",
        "evidence": [],
        "areas": {n: round(lc.total(n), 1) for n in lc.names},
        "area_unit": lc.unit,
        "objects": counts,
    }


@needs("scene")
def describe_image(session: Session) -> dict[str, Any]:
    """Describe the one image in a few sentences from its land cover: what covers most of it,
    how many buildings and water areas, where they are, and whether it is rural or urban."""
    from terrasight.tasks.scene_ask.answer import PLURAL, noun
    from terrasight.tasks.scene_ask.ask import answer_with_evidence

    cover = image_landcover(session)
    objs = session.scene_objects()
    sentences = [str(cover["text"])]
    for name in ("building", "water"):
        found = objs.of(name)
        if found:
            places = sorted({i.place for i in found}, key=lambda p: -sum(
                i.area for i in found if i.place == p))  # fmt: skip
            sentences.append(
                f"{len(found)} {noun(PLURAL[name], len(found))}, most of their area in the "
                f"{places[0]}."
            )
    kind = answer_with_evidence(objs, "is it a rural or an urban area?")
    sentences.append(kind.text)
    caveats = [*kind.caveats, *objs.map.caveats]
    return {
        "text": " ".join(sentences),
        "value": kind.value,
        "unit": None,
        "evidence": [],
        "caveats": caveats,
        "land_cover": cover["value"],
        "objects": cover["objects"],
    }
