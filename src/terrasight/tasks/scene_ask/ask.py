"""``ask_image(image, question)``: answer a question about one image from its land cover.

The answers rest on a land-cover map (``landcover.tif``: building, road, water,
vegetation, bare, unknown). ``image`` may be that file itself (or the folder
holding it); any other image is first classified by the ``landcover`` callable,
``landcover(image, outdir)``, which must write ``outdir/landcover.tif``.

Example:
    >>> ask_image("out/landcover.tif", "how many buildings are there?").value  # doctest: +SKIP
    12
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from terrasight.errors import MissingDependencyError
from terrasight.io.vectors import features_to_geojson, write_geojson
from terrasight.tasks.landcover import landcover
from terrasight.tasks.landcover.clouds import CLOUDED_OUT_SHARE
from terrasight.tasks.scene_ask.answer import SceneAnswer, cant_tell
from terrasight.tasks.scene_ask.bounds import answer_scene
from terrasight.tasks.scene_ask.instances import SceneObjects, find_objects
from terrasight.tasks.scene_ask.landcover_map import (
    LANDCOVER_NAME,
    LandCoverMap,
    is_landcover_file,
    read_landcover,
)
from terrasight.tasks.scene_ask.parse import parse

LandCoverFn = Callable[[Any, Path], Any]
"""Makes a land-cover map: called as ``fn(image, outdir)``, it writes ``outdir/landcover.tif``."""
SPECK_CONTENT_PIXELS = 2
"""Patches smaller than this many of the image's own pixels are specks, not objects, on a
map made from the image resampled finer (a 10 m image classified at 2 m)."""
MAX_EVIDENCE = 2000
"""At most this many objects' polygons go into an answer's GeoJSON (the largest first)."""


def default_landcover() -> LandCoverFn | None:
    """The land-cover model this install ships (:func:`terrasight.tasks.landcover.landcover`)."""
    return partial(landcover, report=False)


def ask_image(
    image: str | Path | LandCoverMap,
    question: str,
    *,
    landcover: LandCoverFn | None = None,
    outdir: str | Path | None = None,
    min_pixels: int = 4,
) -> SceneAnswer:
    """Answer one question about one image.

    Args:
        image: an image, its ``landcover.tif`` (or the folder holding it), or a read map.
        question: presence, count, area or share, comparison, rural or urban, what is
            at a place, or where something is (see ``docs/ask-image.md``).
        landcover: ``fn(image, outdir)`` writing ``outdir/landcover.tif``; needed only
            when ``image`` is not a land-cover map already.
        outdir: where the land cover (``landcover/``) and the evidence GeoJSON go;
            without it the evidence polygons stay in the answer.
        min_pixels: patches smaller than this are not counted as objects (nor, on a map
            made finer than its image, smaller than :data:`SPECK_CONTENT_PIXELS` of the
            image's own pixels).

    Raises:
        QuestionError: the question is empty.
        MissingDependencyError: ``image`` needs classifying and there is no land-cover model.

    Example:
        >>> a = ask_image("landcover.tif", "is there water in the north?")  # doctest: +SKIP
        >>> a.value, a.question_type  # doctest: +SKIP
        (True, 'presence')
    """
    return ask_image_many(
        image, [question], landcover=landcover, outdir=outdir, min_pixels=min_pixels
    )[0]


def ask_image_many(
    image: str | Path | LandCoverMap,
    questions: Sequence[str],
    *,
    landcover: LandCoverFn | None = None,
    outdir: str | Path | None = None,
    min_pixels: int = 4,
) -> list[SceneAnswer]:
    """Answer several questions about one image, its land cover computed once.

    Example:
        >>> [a.value for a in ask_image_many("lc.tif", ["is there water?", "how many roads?"])]  # doctest: +SKIP
        [True, 3]
    """
    out = None if outdir is None else Path(outdir)
    lc = image if isinstance(image, LandCoverMap) else land_cover_of(image, landcover, out)
    clouded = [clouded_out(lc, q) for q in questions]
    if all(a is not None for a in clouded):
        return [a for a in clouded if a is not None]
    objs = find_objects(lc, max(min_pixels, SPECK_CONTENT_PIXELS * lc.content_pixels))
    answers = [answer_with_evidence(objs, q, out, k) for k, q in enumerate(questions)]
    return [replace(a, caveats=(*a.caveats, *lc.caveats)) for a in answers]


def clouded_out(lc: LandCoverMap, question: str) -> SceneAnswer | None:
    """ "I can't tell" where more than :data:`CLOUDED_OUT_SHARE` of the image was left out
    as cloud or cloud shadow, else None (answer from the map, with its caveats).

    Example:
        >>> import numpy as np
        >>> lc = LandCoverMap(np.zeros((2, 2), np.uint8), ("water",), np.ones(2), "px",
        ...                   cloud_share=0.95)
        >>> clouded_out(lc, "is there water?").text[-48:]
        '95% of the image is under cloud or cloud shadow.'
    """
    if lc.cloud_share <= CLOUDED_OUT_SHARE:
        return None
    why = f"{100 * lc.cloud_share:.0f}% of the image is under cloud or cloud shadow"
    return cant_tell(why, parse(question).kind)


def land_cover_of(
    image: str | Path, landcover: LandCoverFn | None, outdir: Path | None
) -> LandCoverMap:
    """The land-cover map of ``image``: read when it is one, else made by ``landcover``.

    A map already in ``outdir/landcover/`` is reused.
    """
    if is_landcover_file(image):
        return read_landcover(image)
    if outdir is not None and is_landcover_file(outdir / "landcover"):
        return read_landcover(outdir / "landcover")
    fn = landcover or default_landcover()
    if fn is None:
        raise MissingDependencyError(
            f"{image} is not a land-cover map and this install has no land-cover model to "
            "make one: give the landcover.tif that 'terrasight landcover IMAGE -o DIR' writes "
            "(or --landcover FILE), or pass landcover=fn(image, outdir)."
        )
    if outdir is not None:
        work = outdir / "landcover"
        fn(image, work)
        return read_landcover(work / LANDCOVER_NAME)
    with tempfile.TemporaryDirectory(prefix="terrasight-landcover-") as tmp:
        fn(image, Path(tmp) / "landcover")
        return read_landcover(Path(tmp) / "landcover" / LANDCOVER_NAME)


def answer_with_evidence(
    objs: SceneObjects, question: str, outdir: Path | None = None, k: int = 0
) -> SceneAnswer:
    """Answer ``question`` from ``objs`` with its evidence polygons: inline GeoJSON, or
    ``outdir/evidence_NN_<question>.geojson`` (NN = ``k + 1``) when ``outdir`` is given.

    Example:
        >>> import numpy as np
        >>> from terrasight.tasks.scene_ask.landcover_map import LandCoverMap
        >>> c = np.zeros((8, 8), np.uint8); c[2:5, 2:5] = 1
        >>> objs = find_objects(LandCoverMap(c, ("bare", "water"), np.ones(8), "px"))
        >>> a = answer_with_evidence(objs, "is there water?")
        >>> a.value, len(a.geojson["features"])
        (True, 1)
    """
    answer = answer_scene(objs, parse(question))
    if not answer.evidence or not answer.answerable:
        return answer
    ids = _largest(objs, answer.evidence)
    collection = features_to_geojson(objs.features(ids), objs.map.crs)
    collection["terrasight:question"] = question
    geojson: str | dict[str, Any] = collection
    caveats = answer.caveats
    if len(ids) < len(answer.evidence):
        caveats = (
            *caveats,
            f"the GeoJSON holds the {len(ids)} largest of {len(answer.evidence)} objects",
        )
    if outdir is not None:
        geojson = str(
            write_geojson(outdir / f"evidence_{k + 1:02d}_{_slug(question)}.geojson", collection)
        )
    return replace(answer, caveats=caveats, geojson=geojson)


def _largest(objs: SceneObjects, ids: tuple[int, ...]) -> list[int]:
    if len(ids) <= MAX_EVIDENCE:
        return list(ids)
    return [i.id for i in sorted(objs.by_id(list(ids)), key=lambda i: -i.area)[:MAX_EVIDENCE]]


def _slug(question: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", question.lower()).strip("_")[:40]
    return f"{words}_{hashlib.sha1(question.encode()).hexdigest()[:6]}"
