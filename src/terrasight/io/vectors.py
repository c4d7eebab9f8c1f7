"""Vectors out: pixel and polygon areas, scene locations in words, GeoJSON.

Areas are in square metres wherever the image has a CRS. In a projected CRS a
pixel's area is the same everywhere (the affine determinant times the square of
the CRS unit in metres). In a geographic CRS (degrees) it shrinks towards the
poles, so :func:`pixel_area` gives the geodesic area of the pixel at the grid's
centre (a representative value) and :func:`geometry_area` computes the area of
each object's polygon geodesically on the WGS84 ellipsoid. Without a CRS areas
are pixel counts (unit ``"px"``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import transform as transform_points
from shapely.geometry import shape
from shapely.geometry.polygon import orient

from terrasight.io.geojson import features_in_wgs84

WGS84 = "EPSG:4326"
GEOD = Geod(ellps="WGS84")
COORDINATE_DECIMALS = 7
"""Decimals kept in GeoJSON coordinates (about 1 cm in degrees)."""
PIXEL_MEMBER = "terrasight:coordinates"
"""Foreign member marking a FeatureCollection whose coordinates are pixel (column, row)."""
IMAGE_CRS_MEMBER = "terrasight:image_crs"
"""Foreign member holding the CRS of properties named ``*_image_crs`` (``"EPSG:n"`` or WKT)."""

_ROWS = ("north", "", "south")
_COLS = ("west", "", "east")


def as_crs(crs: CRS | str | None) -> CRS | None:
    """A rasterio :class:`~rasterio.crs.CRS` from a CRS, WKT or ``"EPSG:xxxx"`` string, or None.

    Example:
        >>> as_crs("EPSG:32633").is_projected, as_crs(None)
        (True, None)
    """
    if crs is None or isinstance(crs, CRS):
        return crs
    return CRS.from_user_input(crs)


def apply_transform(transform: Affine, col: float, row: float) -> tuple[float, float]:
    """Map a pixel position through an affine transform (without affine's ``*``/``@`` churn).

    Example:
        >>> apply_transform(Affine(10, 0, 500000, 0, -10, 5000000), 1, 2)
        (500010.0, 4999980.0)
    """
    t = transform
    return (float(t.a * col + t.b * row + t.c), float(t.d * col + t.e * row + t.f))


def pixel_area(
    crs: CRS | str | None, transform: Affine, *, shape: tuple[int, int] | None = None
) -> tuple[float, str]:
    """Ground area of one pixel and its unit.

    Args:
        crs: the image CRS (object, WKT or ``"EPSG:xxxx"``), or None for pixel space.
        transform: the image's affine transform.
        shape: ``(height, width)`` of the grid; in a geographic CRS (and a projected one
            that stretches areas) the pixel at its centre is measured (the pixel at the
            origin when not given).

    Returns:
        ``(area, "m2")`` for a projected or geographic CRS, ``(1.0, "px")`` without one.
        A projected CRS whose grid area differs from the ground's by more than
        :data:`AREA_TOLERANCE` (Web Mercator: by 1 / cos(latitude)^2) gets the geodesic area.

    Example:
        >>> from rasterio.transform import from_origin
        >>> pixel_area("EPSG:32633", from_origin(500000, 5000000, 10, 10))
        (100.0, 'm2')
        >>> round(pixel_area("EPSG:3857", from_origin(0, 8399738, 10, 10))[0])  # 60 N: not 100
        25
        >>> pixel_area(None, Affine.identity())
        (1.0, 'px')
    """
    crs = as_crs(crs)
    if crs is None:
        return 1.0, "px"
    row, col = (0, 0) if shape is None else (shape[0] // 2, shape[1] // 2)
    if crs.is_geographic:
        return _geodesic_pixel(crs, transform, row, col), "m2"
    det = abs(transform.a * transform.e - transform.b * transform.d)
    grid = det * _metres_per_unit(crs) ** 2
    ground = _geodesic_pixel(crs, transform, row, col)
    if math.isfinite(ground) and ground > 0 and abs(grid / ground - 1) > AREA_TOLERANCE:
        return ground, "m2"
    return grid, "m2"


AREA_TOLERANCE = 0.01
"""A projected CRS whose pixel area on the grid is off the ground's by more than this share
is measured geodesically (UTM is within 0.1 %)."""


def _geodesic_pixel(crs: CRS, transform: Affine, row: int, col: int) -> float:
    """The ground area (m2) of pixel (row, col), its corners taken to WGS84."""
    ring = ((col, row), (col + 1, row), (col + 1, row + 1), (col, row + 1))
    xs, ys = zip(*(apply_transform(transform, *xy) for xy in ring), strict=True)
    if not crs.is_geographic:
        try:
            xs, ys = transform_points(crs, "EPSG:4326", list(xs), list(ys))
        except (CRSError, ValueError):
            return math.nan
    area, _ = GEOD.polygon_area_perimeter(xs, ys)
    return abs(float(area))


def _metres_per_unit(crs: CRS) -> float:
    """Length of the CRS's linear unit in metres (1 when the CRS does not say)."""
    try:
        return float(crs.linear_units_factor[1])
    except CRSError:
        return 1.0


def geometry_area(
    geom: dict[str, Any], crs: CRS | str | None, pixel_count: int, pixel_area: float
) -> float:
    """Area of an object: geodesic polygon area in a geographic CRS, else pixels x pixel area.

    Args:
        geom: GeoJSON-like Polygon or MultiPolygon in the image CRS.
        crs: the image CRS, or None for pixel space.
        pixel_count: number of pixels in the object.
        pixel_area: area of one pixel, from :func:`pixel_area`.

    Example:
        >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]]}
        >>> geometry_area(square, "EPSG:32633", 4, 100.0)
        400.0
        >>> round(geometry_area(square, "EPSG:4326", 1, 0.0) / 1e9, 2)  # km2 x 1000
        12.31
    """
    crs = as_crs(crs)
    if crs is None or not crs.is_geographic:
        return float(pixel_count * pixel_area)
    parts = shapely.get_parts(shape(geom))
    total = sum(GEOD.geometry_area_perimeter(orient(p, 1.0))[0] for p in parts)
    return abs(float(total))


def location_words(col: float, row: float, width: int, height: int) -> str:
    """Where a pixel position lies in the scene, in words, on a 3 x 3 grid.

    Assumes a north-up image: row 0 is north, column 0 is west.

    Example:
        >>> location_words(5, 5, 100, 100), location_words(50, 50, 100, 100)
        ('north-west', 'centre')
        >>> location_words(99, 60, 100, 100)
        'east'
    """
    return cell_words(grid_cell(col, row, width, height))


def grid_cell(col: float, row: float, width: int, height: int) -> tuple[int, int]:
    """The (row, column) of the 3 x 3 grid cell holding a pixel position (north up).

    Example:
        >>> grid_cell(5, 5, 90, 90), grid_cell(89, 50, 90, 90)
        ((0, 0), (1, 2))
    """
    return _third(row, height), _third(col, width)


def cell_words(cell: tuple[int, int]) -> str:
    """The compass name of a 3 x 3 grid cell.

    Example:
        >>> cell_words((0, 0)), cell_words((1, 1)), cell_words((2, 1))
        ('north-west', 'centre', 'south')
    """
    words = [w for w in (_ROWS[cell[0]], _COLS[cell[1]]) if w]
    return "-".join(words) or "centre"


def _third(value: float, size: int) -> int:
    if size <= 0:
        return 1
    return min(2, max(0, int(3 * value / size)))


@dataclass(frozen=True)
class VectorFeature:
    """One feature to write: a geometry in the image CRS (or pixel space) and its properties.

    Example:
        >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (1, 0), (1, 1), (0, 0)]]}
        >>> VectorFeature(square, {"area": 1.0}, id=1).id
        1
    """

    geometry: Mapping[str, Any]
    properties: Mapping[str, Any] = field(default_factory=dict)
    id: int | str | None = None


def crs_id(crs: CRS | str | None) -> str | None:
    """A CRS as ``"EPSG:n"`` when it has an EPSG code, else as WKT; None without one.

    Example:
        >>> crs_id(CRS.from_epsg(32633).to_wkt()), crs_id(None)
        ('EPSG:32633', None)
    """
    crs = as_crs(crs)
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def features_to_geojson(
    features: Iterable[VectorFeature | Mapping[str, Any]], crs: CRS | str | None
) -> dict[str, Any]:
    """Features as an RFC 7946 FeatureCollection in WGS84 longitude/latitude.

    Geometries are reprojected from ``crs``, exterior rings are counter-clockwise
    and holes clockwise, coordinates keep 7 decimals; there is no ``crs`` member.
    The image CRS is recorded once in the foreign member ``"terrasight:image_crs"``
    (``"EPSG:n"`` or WKT; null in pixel space), for properties given in it. When
    ``crs`` is None the geometries stay in pixel (column, row) coordinates and the
    collection also carries ``"terrasight:coordinates": "pixel"`` (RFC 7946
    section 6.1 allows foreign members), so readers can tell.

    Args:
        features: :class:`VectorFeature` s, or mappings with ``geometry`` and
            optional ``properties`` and ``id``.
        crs: the CRS of the geometries, or None for pixel space.

    Example:
        >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (2, 0), (2, 2), (0, 0)]]}
        >>> fc = features_to_geojson([{"geometry": square, "id": 7}], None)
        >>> fc["features"][0]["id"], fc["terrasight:coordinates"], fc["terrasight:image_crs"]
        (7, 'pixel', None)
    """
    crs = as_crs(crs)
    items = [f if isinstance(f, VectorFeature) else _as_feature(f) for f in features]
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features_in_wgs84(
            [f.geometry for f in items],
            [jsonable(dict(f.properties)) for f in items],
            [f.id for f in items],
            crs,
            COORDINATE_DECIMALS,
        ),
    }
    collection.update(collection_members(crs))
    return collection


def collection_members(crs: CRS | str | None) -> dict[str, Any]:
    """The foreign members of a FeatureCollection of geometries in ``crs``.

    Example:
        >>> collection_members(None)
        {'terrasight:image_crs': None, 'terrasight:coordinates': 'pixel'}
    """
    crs = as_crs(crs)
    members: dict[str, Any] = {IMAGE_CRS_MEMBER: crs_id(crs)}
    if crs is None:
        members[PIXEL_MEMBER] = "pixel"
    return members


def _as_feature(item: Mapping[str, Any]) -> VectorFeature:
    return VectorFeature(item["geometry"], item.get("properties") or {}, item.get("id"))


def to_lonlat(
    points: Sequence[tuple[float, float]], crs: CRS | str | None
) -> list[tuple[float, float] | None]:
    """Points of ``crs`` as WGS84 (lon, lat) with 7 decimals, in one call; Nones without a CRS.

    Example:
        >>> to_lonlat([(500000.0, 5000000.0)], "EPSG:32633")
        [(15.0, 45.1534772)]
    """
    crs = as_crs(crs)
    if crs is None or not points:
        return [None] * len(points)
    xs, ys = zip(*points, strict=True)
    lons, lats = transform_points(crs, WGS84, list(xs), list(ys))
    decimals = COORDINATE_DECIMALS
    return [
        (round(float(lo), decimals), round(float(la), decimals))
        for lo, la in zip(lons, lats, strict=True)
    ]


def bounds_to_lonlat(
    boxes: Sequence[tuple[float, float, float, float]],
    crs: CRS | str | None,
    points_per_side: int = 9,
) -> list[tuple[float, float, float, float] | None]:
    """Boxes ``(minx, miny, maxx, maxy)`` of ``crs`` as WGS84 ``(west, south, east, north)``.

    Each side is sampled at ``points_per_side`` points (straight lines of a
    projected CRS curve in longitude and latitude), all boxes in one call, and
    the bounds are rounded outwards to 7 decimals: for boxes up to a few
    kilometres they enclose the box to well under a centimetre. Nones without a CRS.

    Example:
        >>> bounds_to_lonlat([(500000.0, 4999000.0, 501000.0, 5000000.0)], "EPSG:32633")
        [(14.9999999, 45.1444747, 15.012722, 45.1534772)]
    """
    crs = as_crs(crs)
    if crs is None or not boxes:
        return [None] * len(boxes)
    steps = np.array([i / (points_per_side - 1) for i in range(points_per_side)])
    x0, y0, x1, y1 = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).T[:, :, None]
    x, y = x0 + steps * (x1 - x0), y0 + steps * (y1 - y0)  # (boxes, points_per_side)
    ones = np.ones_like(x)
    xs = np.concatenate([x, x, x0 * ones, x1 * ones], axis=1)  # the four sides of each box
    ys = np.concatenate([y0 * ones, y1 * ones, y, y], axis=1)
    lons, lats = transform_points(crs, WGS84, xs.ravel().tolist(), ys.ravel().tolist())
    scale = 10**COORDINATE_DECIMALS
    lo, la = np.reshape(lons, xs.shape), np.reshape(lats, xs.shape)
    west, south = np.floor(lo.min(1) * scale) / scale, np.floor(la.min(1) * scale) / scale
    east, north = np.ceil(lo.max(1) * scale) / scale, np.ceil(la.max(1) * scale) / scale
    return list(zip(west.tolist(), south.tolist(), east.tolist(), north.tolist(), strict=True))


def jsonable(value: Any, decimals: int | None = None) -> Any:
    """Tuples to lists, numpy scalars to Python, non-finite floats to None, floats rounded."""
    if isinstance(value, dict):
        return {k: jsonable(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, decimals) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, decimals) if decimals is not None else value
    return value


def write_geojson(path: str | Path, collection: dict[str, Any]) -> Path:
    """Write a FeatureCollection atomically (to ``path.part``, then replace ``path``).

    Example:
        >>> write_geojson("out/changes.geojson", features_to_geojson([], None))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(jsonable(collection), allow_nan=False))
    tmp.replace(path)
    return path
