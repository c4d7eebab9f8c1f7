"""GeoJSON written feature by feature: memory stays flat however many features there are.

:class:`GeoJSONWriter` writes an RFC 7946 FeatureCollection incrementally;
:func:`features_in_wgs84` turns a batch of features into GeoJSON feature dicts
with one reprojection call for the whole batch (WGS84, counter-clockwise
exterior rings, clockwise holes, 7 decimals). Both
:func:`terrasight.io.vectors.features_to_geojson` and the writer use it, so a
collection built in memory and one streamed to disk hold the same features.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry import shape

BATCH = 512
"""Features reprojected and written per batch."""


@lru_cache(maxsize=8)
def _transformer(wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(wkt).to_wkt(), "EPSG:4326", always_xy=True)


def features_in_wgs84(
    geometries: Sequence[Any],
    properties: Sequence[dict[str, Any]],
    ids: Sequence[int | str | None],
    crs: CRS | None,
    decimals: int,
) -> list[dict[str, Any]]:
    """GeoJSON features of (Multi)Polygons, reprojected from ``crs`` to WGS84 in one call.

    Args:
        geometries: GeoJSON-like mappings in ``crs`` (pixel space when it is None).
        properties: JSON-ready properties of each feature.
        ids: feature ids (None: no ``id`` member).
        crs: the geometries' CRS, or None to keep them as they are.
        decimals: decimals kept in coordinates.

    Example:
        >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (0, 2), (2, 2), (0, 0)]]}
        >>> features_in_wgs84([square], [{}], [1], None, 7)[0]["geometry"]["coordinates"][0]
        [[0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]
    """
    geoms = np.array([polygonal(g) for g in geometries], dtype=object)
    if crs is not None and len(geoms):
        transformer = _transformer(crs.to_wkt())

        def to_wgs84(xy: np.ndarray) -> np.ndarray:
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        geoms = shapely.transform(geoms, to_wgs84)
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    coords = _nested_coordinates(geoms, decimals)
    out = []
    for geom_coords, props, fid in zip(coords, properties, ids, strict=True):
        feature: dict[str, Any] = {"type": "Feature"}
        if fid is not None:
            feature["id"] = fid
        kind = "Polygon" if len(geom_coords) == 1 else "MultiPolygon"  # one part: a Polygon
        feature["geometry"] = {
            "type": kind,
            "coordinates": geom_coords[0] if kind == "Polygon" else geom_coords,
        }
        feature["properties"] = props
        out.append(feature)
    return out


def _nested_coordinates(geoms: np.ndarray, decimals: int) -> list[list[list[list[list[float]]]]]:
    """For each (Multi)Polygon its polygons' rings as lists of [x, y], rounded, in few calls."""
    polygons, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_owner = shapely.get_rings(polygons, return_index=True)
    counts = shapely.get_num_coordinates(rings).tolist()
    points = np.round(shapely.get_coordinates(rings), decimals).tolist()
    out: list[list[list[list[list[float]]]]] = [[] for _ in range(len(geoms))]
    poly_rings: list[list[list[list[float]]]] = [[] for _ in range(len(polygons))]
    start = 0
    for poly, n in zip(ring_owner.tolist(), counts, strict=True):
        poly_rings[poly].append(points[start : start + n])
        start += n
    for geom, rings_of in zip(owner.tolist(), poly_rings, strict=True):
        out[geom].append(rings_of)
    return out


def polygonal(geometry: Any) -> shapely.Geometry:
    """A shapely geometry of a GeoJSON-like mapping; (Multi)Polygons through numpy (fast).

    Example:
        >>> polygonal({"type": "Polygon", "coordinates": [[(0, 0), (1, 0), (1, 1), (0, 0)]]}).area
        0.5
    """
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon" and coords:
        return _polygon(coords)
    if kind == "MultiPolygon" and coords:
        return shapely.MultiPolygon([_polygon(p) for p in coords])
    return shape(geometry)


def _polygon(rings: Sequence[Any]) -> shapely.Polygon:
    holes = [np.asarray(r, dtype=np.float64) for r in rings[1:]]
    return shapely.Polygon(np.asarray(rings[0], dtype=np.float64), holes or None)


class GeoJSONWriter:
    """Write a FeatureCollection feature by feature to ``path`` (via ``path.part``, then renamed).

    Args:
        path: the file to write.
        members: collection members written before ``"features"``
            (e.g. ``{"terrasight:image_crs": "EPSG:32633"}``).

    Example:
        >>> with GeoJSONWriter(Path("out/changes.geojson"), {}) as out:  # doctest: +SKIP
        ...     out.write_features(features)
    """

    def __init__(self, path: Path, members: dict[str, Any]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._part = self.path.with_name(self.path.name + ".part")
        self._fh: IO[str] = open(self._part, "w", encoding="utf-8")  # noqa: SIM115
        head = {"type": "FeatureCollection", **members}
        self._fh.write(json.dumps(head, allow_nan=False)[:-1] + ', "features": [\n')
        self.count = 0

    def write_features(self, features: Iterable[dict[str, Any]]) -> None:
        """Append JSON-ready feature dicts."""
        for feature in features:
            if self.count:
                self._fh.write(",\n")
            self._fh.write(json.dumps(feature, allow_nan=False, separators=(",", ":")))
            self.count += 1

    def close(self, ok: bool = True) -> None:
        """Finish the collection and move it into place (or drop it when not ``ok``)."""
        if self._fh.closed:
            return
        if ok:
            self._fh.write("\n]}\n")
        self._fh.close()
        if ok:
            self._part.replace(self.path)
        else:
            self._part.unlink(missing_ok=True)

    def __enter__(self) -> GeoJSONWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(ok=exc_type is None)


def batches(items: Iterable[Any], size: int = BATCH) -> Iterable[list[Any]]:
    """Lists of up to ``size`` consecutive items.

    Example:
        >>> [len(b) for b in batches(range(5), 2)]
        [2, 2, 1]
    """
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
