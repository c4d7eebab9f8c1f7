"""Lengths of shapes in metres on every CRS: a local projection in metres, and the sides of
each shape's minimum rotated rectangle.

A geographic CRS has degrees for coordinates and a projected one may stretch
distances (Web Mercator by 1 / cos(latitude)), so neither is measured in its
own units: :func:`metric_frame` gives the azimuthal equidistant projection
centred on the scene (on the WGS84 ellipsoid; within 0.1 % over a few hundred
km of the centre), and :func:`rectangle_sides` measures there. Without a CRS
the shapes are in pixels, and so are their lengths.

Example:
    >>> import shapely
    >>> frame = metric_frame("EPSG:4326", (0.0, 45.0))
    >>> strip = shapely.box(0.0, 45.0, 0.01, 45.0001)  # 0.01 deg of longitude at 45 N
    >>> length, width, perimeter = rectangle_sides(frame(np.array([strip])))
    >>> round(float(length[0]))  # metres, not 0.01 "m"
    788
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from pyproj import CRS as ProjCRS
from pyproj import Transformer

from terrasight.io.vectors import as_crs

Frame = Callable[[np.ndarray], np.ndarray]
"""Shapely geometries in the image CRS -> the same in metres."""


def metric_frame(crs: Any, centre: tuple[float, float]) -> Frame | None:
    """A function that puts geometries of ``crs`` into metres around ``centre`` (a point in
    ``crs``), or None without a CRS (lengths stay in pixels).

    Example:
        >>> metric_frame(None, (0.0, 0.0)) is None
        True
    """
    parsed = as_crs(crs)
    if parsed is None:
        return None
    source = ProjCRS.from_wkt(parsed.to_wkt())
    lon, lat = Transformer.from_crs(source, "EPSG:4326", always_xy=True).transform(*centre)
    if not (np.isfinite(lon) and np.isfinite(lat)):
        lon, lat = 0.0, 0.0
    local = ProjCRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    to_local = Transformer.from_crs(source, local, always_xy=True)

    def frame(geometries: np.ndarray) -> np.ndarray:
        def move(xy: np.ndarray) -> np.ndarray:
            x, y = to_local.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geometries, move)

    return frame


def rectangle_sides(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(length, width, perimeter) of each geometry: the long and short side of its minimum
    rotated rectangle, and its outline's length; NaN for a missing or empty one.

    Example:
        >>> [a.tolist() for a in rectangle_sides(np.array([shapely.box(0, 0, 70, 4)]))]
        [[70.0], [4.0], [148.0]]
    """
    n = len(geometries)
    length, width = np.full(n, np.nan), np.full(n, np.nan)
    perimeter = np.asarray(shapely.length(geometries), dtype=float)
    usable = ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    perimeter[~usable] = np.nan
    rects = shapely.minimum_rotated_rectangle(geometries[usable])
    for i, rect in zip(np.flatnonzero(usable), rects, strict=True):
        coords = shapely.get_coordinates(rect)
        if shapely.get_type_id(rect) == 3 and len(coords) >= 4:
            sides = np.hypot(*np.diff(coords[:3], axis=0).T)
            length[i], width[i] = float(sides.max()), float(sides.min())
        else:  # a line or a point: its extent
            extent = np.ptp(coords, axis=0) if len(coords) else np.zeros(2)
            length[i], width[i] = float(np.hypot(*extent)), 0.0
    return length, width, perimeter
