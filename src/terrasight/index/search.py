"""Search an index: by text, by an example image, or both, within a bounding box and after a date.

Scores are cosine similarities (higher is closer). Filters run before the
vector search (LanceDB's pre-filter), so ``k`` tiles inside the box are
returned whenever the box holds that many; a box that holds none gives an
empty answer that says so, never tiles from elsewhere. Tiles of plain images
(no CRS, no place on the map) never match a box.

Example:
    >>> from terrasight import index
    >>> hits = index.open("archive.lance").search("a harbour with many boats", k=5)  # doctest: +SKIP
    >>> hits.save_geojson("harbours.geojson")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from terrasight.errors import InvalidOptionError, RasterReadError
from terrasight.index import store
from terrasight.io.remote import is_remote

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

NPROBES = 48
"""IVF partitions searched per query once the table has an approximate index."""
REFINE = 8
"""The approximate index's candidates, ``REFINE * k``, are re-ranked with the full vectors."""


@dataclass(frozen=True)
class Hit:
    """One tile found: where it comes from, where it lies and how well it matches."""

    rank: int
    score: float
    source: str
    tile: int
    window: tuple[int, int, int, int]
    bbox: tuple[float, float, float, float]
    crs: str | None
    footprint: Any  # a shapely Polygon in WGS84, or None in pixel space
    date: str | None

    def properties(self) -> dict[str, Any]:
        """The GeoJSON properties of this hit."""
        col, row, width, height = self.window
        return {
            "rank": self.rank,
            "score": round(self.score, 5),
            "source": self.source,
            "tile": self.tile,
            "col": col,
            "row": row,
            "width": width,
            "height": height,
            "bbox_image_crs": list(self.bbox),
            "image_crs": self.crs,
            "date": self.date,
        }


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits, best first; ``message`` says why when there are none."""

    hits: list[Hit]
    query: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Any:
        return iter(self.hits)

    def to_geojson(self) -> dict[str, Any]:
        """The hits as an RFC 7946 FeatureCollection (WGS84; tiles without a CRS have no geometry)."""
        import shapely

        features = [
            {
                "type": "Feature",
                "id": h.rank,
                "geometry": None if h.footprint is None else _geojson(shapely, h.footprint),
                "properties": h.properties(),
            }
            for h in self.hits
        ]
        return {
            "type": "FeatureCollection",
            "terrasight:query": self.query,
            "terrasight:message": self.message,
            "features": features,
        }

    def save_geojson(self, path: str | Path) -> Path:
        """Write :meth:`to_geojson` to ``path`` (atomically)."""
        from terrasight.io.vectors import write_geojson

        return write_geojson(path, self.to_geojson())


def _geojson(shapely: Any, geom: Any) -> dict[str, Any]:
    import json

    return json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-7)))


class Index:
    """An index folder opened for search; see :func:`terrasight.index.open`."""

    def __init__(self, db: str | Path, table: Any) -> None:
        self.db = Path(db)
        self.table = table
        self.model = store.table_model(table)

    def __len__(self) -> int:
        return int(self.table.count_rows())

    def extent(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) of all georeferenced tiles, or None when there are none."""
        return table_extent(self.table)

    def query_vector(
        self,
        text: str | None = None,
        image: str | Path | np.ndarray | None = None,
        cache: ModelCache | None = None,
    ) -> np.ndarray:
        """The unit query vector of a text, an example image (a file or a uint8 array), or both
        (their normalised mean).

        Raises:
            InvalidOptionError: neither is given.
            RasterReadError: the example image cannot be read.
        """
        from terrasight.tasks.embed import embed_images, embed_texts, load_model

        if not text and image is None:
            raise InvalidOptionError(
                "index search: give a text, an example image (--image), or both."
            )
        if isinstance(image, (str, Path)) and not is_remote(image) and not Path(image).is_file():
            raise RasterReadError(f"example image {image}: file not found. Check the path.")
        if text and image is None and self.model.checkpoint is None:
            fast = _text_vector(self.model.ref, text)
            if fast is not None:
                return fast
        vl = load_model(self.model.ref, self.model.checkpoint, cache=cache)
        parts = []
        if text:
            parts.append(embed_texts(text, vl)[0])
        if image is not None:
            parts.append(embed_images([image], vl)[0])
        vec = np.mean(parts, axis=0)
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    def search(
        self,
        text: str | None = None,
        *,
        image: str | Path | np.ndarray | None = None,
        vector: np.ndarray | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        since: str | date | None = None,
        k: int = 20,
        exact: bool = False,
        cache: ModelCache | None = None,
    ) -> SearchResult:
        """The ``k`` tiles closest to the query, best first.

        Args:
            text: what to look for, in words.
            image: an example image (a file, a URL or STAC Item, or a uint8 array); with
                ``text``, both count equally.
            vector: a query vector instead (unit length, the index's dimension).
            bbox: ``(west, south, east, north)`` in WGS84 degrees: only tiles that overlap it.
            since: only tiles acquired on or after this date (``YYYY-MM-DD``).
            k: how many tiles.
            exact: compare with every vector even when the table has an approximate index.
            cache: keeps the model for later searches.

        Raises:
            InvalidOptionError: no query, a bad box or date, or ``k`` < 1.

        Example:
            >>> idx = open("archive.lance")  # doctest: +SKIP
            >>> idx.search("an airport", bbox=(14.0, 45.0, 15.0, 46.0), since="2023-01-01")  # doctest: +SKIP
        """
        if k < 1:
            raise InvalidOptionError(f"index search: k is {k}; give 1 or more.")
        where, query = _filters(bbox, since)
        query.update({"text": text, "image": None if image is None else str(image), "k": k})
        if where and self.table.count_rows(where) == 0:
            return SearchResult([], query, _empty_message(self, bbox, since))
        if vector is None:
            vector = self.query_vector(text, image, cache)
        builder = self.table.search(np.asarray(vector, np.float32)).distance_type("cosine")
        if where:
            builder = builder.where(where, prefilter=True)
        if exact:
            builder = builder.bypass_vector_index()
        elif store.has_vector_index(self.table):
            builder = builder.nprobes(NPROBES).refine_factor(REFINE)
        data = builder.limit(k).select(_COLUMNS).to_arrow().to_pylist()
        return SearchResult([_hit(i + 1, row) for i, row in enumerate(data)], query)


_COLUMNS = [
    "_distance",
    "source",
    "tile",
    "col",
    "row",
    "width",
    "height",
    "bbox",
    "crs",
    "footprint",
    "date",
]


def _hit(rank: int, row: dict[str, Any]) -> Hit:
    import shapely

    fp = row["footprint"]
    return Hit(
        rank=rank,
        score=1.0 - float(row["_distance"]),
        source=row["source"],
        tile=int(row["tile"]),
        window=(row["col"], row["row"], row["width"], row["height"]),
        bbox=tuple(row["bbox"]),
        crs=row["crs"],
        footprint=None if fp is None else shapely.from_wkb(fp),
        date=None if row["date"] is None else row["date"].isoformat(),
    )


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` as floats, checked.

    Example:
        >>> parse_bbox("14.5, 45, 15, 45.5")
        (14.5, 45.0, 15.0, 45.5)
    """
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidOptionError(
            f"--bbox {text!r}: give four numbers W,S,E,N in degrees (e.g. 14.2,45.1,14.6,45.4)."
        ) from None
    return _check_bbox((west, south, east, north))


def _check_bbox(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in box)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidOptionError(
            f"bbox {west},{south},{east},{north}: need -180 <= west < east <= 180 and "
            "-90 <= south < north <= 90 (WGS84 degrees; boxes across the antimeridian: "
            "search each side)."
        )
    return west, south, east, north


def _filters(bbox: Any, since: str | date | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    query: dict[str, Any] = {}
    if bbox is not None:
        w, s, e, n = _check_bbox(tuple(bbox))
        clauses.append(f"west <= {e!r} AND east >= {w!r} AND south <= {n!r} AND north >= {s!r}")
        query["bbox"] = [w, s, e, n]
    if since is not None:
        try:
            day = since if isinstance(since, date) else date.fromisoformat(str(since))
        except ValueError:
            raise InvalidOptionError(f"--since {since!r}: give a date as YYYY-MM-DD.") from None
        clauses.append(f"date >= date '{day.isoformat()}'")
        query["since"] = day.isoformat()
    return " AND ".join(f"({c})" for c in clauses), query


def _empty_message(idx: Index, bbox: Any, since: str | date | None) -> str:
    """Why nothing matched the filters, with what the index does cover."""
    parts = []
    if bbox is not None:
        extent = table_extent(idx.table)
        cover = (
            "its tiles with a CRS lie within " + ",".join(f"{v:.5f}" for v in extent)
            if extent
            else "it holds no tile with a CRS"
        )
        parts.append(f"no tile of the index lies in the box {','.join(map(str, bbox))} ({cover})")
    if since is not None:
        parts.append(f"no tile is dated {since} or later (tiles without a known date never match)")
    return "; ".join(parts) + ". The box is never widened: change the filters to search elsewhere."


def table_extent(table: Any) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of all georeferenced tiles, or None."""
    import pyarrow.compute as pc

    data = table.search().where("west IS NOT NULL").select(["west", "south", "east", "north"])
    arrow = data.limit(None).to_arrow()
    if arrow.num_rows == 0:
        return None
    return (
        pc.min(arrow["west"]).as_py(),
        pc.min(arrow["south"]).as_py(),
        pc.max(arrow["east"]).as_py(),
        pc.max(arrow["north"]).as_py(),
    )


def _text_vector(model: str, text: str) -> np.ndarray | None:
    """The query vector of ``text`` without PyTorch (:mod:`terrasight.models.text_onnx`), or None
    where the index's model has no such path (then the whole model is loaded)."""
    from terrasight.errors import MissingDependencyError
    from terrasight.models.text_onnx import text_embedder

    try:
        embedder = text_embedder(model)
        return None if embedder is None else embedder.embed([text])[0]
    except MissingDependencyError:
        return None
