"""The archive search: ``GET /api/search`` over the index the server was started with (``--db``).

Example:
    >>> client.get("/api/search", params={"q": "an airport", "k": 5}).json()["features"][0]  # doctest: +SKIP
    {'type': 'Feature', 'id': 1, 'geometry': {...}, 'properties': {'rank': 1, 'source': 'airport.tif', ...}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from terrasight.io.remote import source_name
from terrasight.io.vectors import jsonable
from terrasight.server.routes_jobs import Context

if TYPE_CHECKING:
    from terrasight.index.search import SearchResult

router = APIRouter(prefix="/api", tags=["archive"])
MAX_K = 100
"""Most tiles one search returns."""


@router.get("/search")
async def search(
    ctx: Context,
    q: Annotated[str, Query(min_length=1, max_length=500, examples=["an airport"])],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    bbox: Annotated[str | None, Query(max_length=200, examples=["14.2,45.1,14.6,45.4"])] = None,
    since: Annotated[str | None, Query(max_length=10, examples=["2023-01-01"])] = None,
) -> dict[str, Any]:
    """Search the archive index for the tiles that best match ``q``, best first.

    The answer is a GeoJSON FeatureCollection (WGS84): each tile's footprint, or no
    geometry for a tile without a CRS; ``properties.bbox`` is its (west, south, east,
    north), ``properties.source`` its file name. ``bbox=W,S,E,N`` keeps tiles overlapping
    that box and ``since=YYYY-MM-DD`` those acquired on or after that day; when nothing
    matches them, ``terrasight:message`` says why. 404 when the server has no ``--db``.
    """
    from terrasight.index.search import parse_bbox

    index = ctx.archive()
    box = parse_bbox(bbox) if bbox else None
    found = await run_in_threadpool(index.search, q, bbox=box, since=since, k=k, cache=ctx.models)
    return jsonable(feature_collection(found))


def feature_collection(found: SearchResult) -> dict[str, Any]:
    """The hits as GeoJSON with a WGS84 ``bbox`` per feature and file names only (the
    server's folders are its own)."""
    collection = found.to_geojson()
    for feature, hit in zip(collection["features"], found.hits, strict=True):
        props = feature["properties"]
        props["source"] = source_name(hit.source)
        props["bbox"] = None if hit.footprint is None else list(hit.footprint.bounds)
    return collection
