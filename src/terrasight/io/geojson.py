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


def features_in_wgs84(
    geometries: Sequence[Any],
    properties: Sequence[dict[str, Any]],
    ids: Sequence[int | str | None],
    crs: CRS | None,
    decimals: int,
) -> list[dict[str, Any]]:
    """GeoJSON features of (Multi)Polygons, reprojected from ``crs`` to WGS84 in one call.

    The dict form of :func:`feature_lines` (same arguments).

    Example:
        >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (0, 2), (2, 2), (0, 0)]]}
        >>> features_in_wgs84([square], [{}], [1], None, 7)[0]["geometry"]["coordinates"][0]
        [[0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]
    """
    return [json.loads(line) for line in feature_lines(geometries, properties, ids, crs, decimals)]


def feature_lines(
    geometries: Sequence[Any],
    properties: Sequence[dict[str, Any]],
    ids: Sequence[int | str | None],
    crs: CRS | None,
    decimals: int,
) -> list[str]:
    """GeoJSON features as compact JSON text, geometries written by GEOS (no Python coordinates).

    Geometries are reprojected to WGS84 in one call for the batch, rounded to
    ``decimals``, exterior rings counter-clockwise and holes clockwise, and a
    one-part MultiPolygon becomes a Polygon.

    Args:
        geometries: shapely geometries or GeoJSON-like mappings in ``crs`` (pixel
            space when it is None).
        properties: JSON-ready properties of each feature.
        ids: feature ids (None: no ``id`` member).
        crs: the geometries' CRS, or None to keep them as they are.
        decimals: decimals kept in coordinates.

    Example:
        >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (0, 2), (2, 2), (0, 0)]]}
        >>> feature_lines([square], [{"a": 1}], [7], None, 7)[0][:40]
        '{"type":"Feature","id":7,"geometry":{"ty'
    """
    texts = shapely.to_geojson(_prepared(geometries, crs, decimals)) if len(geometries) else []
    lines = []
    for text, props, fid in zip(texts, properties, ids, strict=True):
        head = '{"type":"Feature",' + (f'"id":{json.dumps(fid)},' if fid is not None else "")
        body = json.dumps(props, allow_nan=False, separators=(",", ":"))
        lines.append(f'{head}"geometry":{text},"properties":{body}}}')
    return lines


def _prepared(geometries: Sequence[Any], crs: CRS | None, decimals: int) -> np.ndarray:
    """Shapely (Multi)Polygons in WGS84 (or as given without a CRS), rounded and oriented."""
    geoms = np.array([polygonal(g) for g in geometries], dtype=object)
    # Building a transformer takes about 0.3 ms: one per batch costs nothing worth caching.
    transformer = (
        Transformer.from_crs(crs.to_wkt(), "EPSG:4326", always_xy=True) if crs is not None else None
    )

    def convert(xy: np.ndarray) -> np.ndarray:
        if transformer is not None:
            xy = np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        return np.round(xy, decimals)

    geoms = shapely.orient_polygons(shapely.transform(geoms, convert), exterior_cw=False)
    single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    return geoms


def polygonal(geometry: Any) -> shapely.Geometry:
    """A shapely geometry of a GeoJSON-like mapping (or the geometry itself); fast for polygons.

    Example:
        >>> polygonal({"type": "Polygon", "coordinates": [[(0, 0), (1, 0), (1, 1), (0, 0)]]}).area
        0.5
    """
    if isinstance(geometry, shapely.Geometry):
        return geometry
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
        self.write_lines(json.dumps(f, allow_nan=False, separators=(",", ":")) for f in features)

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append features given as JSON text (see :func:`feature_lines`)."""
        for line in lines:
            if self.count:
                self._fh.write(",\n")
            self._fh.write(line)
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
