"""The archive tool: look for places in an archive index (``terrasight index build``).

The index is the session's (``Agent(..., db=PATH)``, ``terrasight chat ... --db PATH``);
without one, or when the filters match no tile, the tool says so in its error,
which the brain passes on. Registered like the other tools.

Example:
    >>> session = Session("changes/", db="archive.lance")  # doctest: +SKIP
    >>> search_archive(session, "an airport", k=3)["text"]  # doctest: +SKIP
    'Best match for "an airport": airport_1.jpg (score 0.31); 3 tiles: airport_1.jpg, ...'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from terrasight.agent.registry import needs
from terrasight.agent.session import Session
from terrasight.errors import ToolArgumentError

MAX_K = 50
"""Most tiles one call returns."""
NAMED_IN_TEXT = 3
"""Files named in the one-line text; the rest are in ``hits``."""


@needs("archive")
def search_archive(
    session: Session,
    text: str,
    k: int = 5,
    bbox: list[float] | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    """Search the archive index for the tiles that best match a description, best first.

    Args:
        text: what to look for, e.g. "a harbour with many boats" or "an airport".
        k: how many tiles (1 to 50).
        bbox: only tiles overlapping [west, south, east, north], in WGS84 degrees.
        since: only tiles acquired on or after this date (YYYY-MM-DD).
    """
    if not text or not text.strip():
        raise ToolArgumentError("search_archive: say what to look for, e.g. 'an airport'.")
    if not 1 <= k <= MAX_K:
        raise ToolArgumentError(f"search_archive: k is {k}; give 1 to {MAX_K}.")
    if bbox is not None and len(bbox) != 4:
        raise ToolArgumentError(
            f"search_archive: bbox has {len(bbox)} numbers; give [west, south, east, north]."
        )
    box = None if bbox is None else (bbox[0], bbox[1], bbox[2], bbox[3])
    found = session.archive().search(text, bbox=box, since=since, k=k, cache=session.cache)
    if not found.hits:
        raise ToolArgumentError(
            f"search_archive: {found.message or 'the archive index holds no tile.'}"
        )
    hits = [hit_dict(h) for h in found.hits]
    return {
        "text": hits_text(text, hits),
        "value": hits[0]["source"],
        "unit": None,
        "evidence": [],
        "hits": hits,
    }


def hit_dict(hit: Any) -> dict[str, Any]:
    """One :class:`~terrasight.index.search.Hit` as JSON-ready data; ``bbox`` is WGS84
    (west, south, east, north), None for a tile without a CRS."""
    bounds = None if hit.footprint is None else [round(v, 7) for v in hit.footprint.bounds]
    return {
        "rank": hit.rank,
        "source": hit.source,
        "score": round(hit.score, 4),
        "tile": hit.tile,
        "bbox": bounds,
        "date": hit.date,
    }


def hits_text(text: str, hits: list[dict[str, Any]]) -> str:
    """One line naming the best match and the first files.

    Example:
        >>> hits_text("an airport", [{"source": "/a/airport_1.jpg", "score": 0.3123, "bbox": None}])
        'Best match for "an airport": airport_1.jpg (score 0.31, no place on the map); 1 tile: airport_1.jpg.'
    """
    best = hits[0]
    where = (
        "at " + ",".join(f"{v:.4f}" for v in best["bbox"])
        if best["bbox"] is not None
        else "no place on the map"
    )
    names = [Path(h["source"]).name for h in hits[:NAMED_IN_TEXT]]
    more = f" and {len(hits) - NAMED_IN_TEXT} more" if len(hits) > NAMED_IN_TEXT else ""
    tiles = f"{len(hits)} tile{'s' if len(hits) != 1 else ''}"
    return (
        f'Best match for "{text.strip()}": {Path(best["source"]).name} '
        f"(score {best['score']:.2f}, {where}); {tiles}: {', '.join(names)}{more}."
    )
