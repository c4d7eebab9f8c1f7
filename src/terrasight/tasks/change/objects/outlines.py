"""The largest change objects as the report draws and lists them, read once from the store.

The report outlines the 500 largest objects and lists them in a table. Those
are the objects with the longest outlines: at 8192 px they take about 15 MB
of JSON, and parsing it into Python lists cost more than drawing them. Here
outlines are parsed by GEOS (:func:`shapely.from_geojson`) into coordinate
arrays, and the table's objects are read without their geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeObject


@dataclass(frozen=True)
class Outline:
    """An object as the change overlay draws it.

    Attributes:
        id: the object's id.
        centroid: ``(x, y)`` in the image CRS (or pixels), where its id is written.
        rings: exterior rings, each ``(n, 2)`` float64 coordinates in the image CRS.
    """

    id: int
    centroid: tuple[float, float]
    rings: tuple[np.ndarray, ...]


def outlines(objects: Sequence[ChangeObject], limit: int) -> list[Outline]:
    """The first ``limit`` objects' outlines (their exterior rings, polygons only).

    Example:
        >>> [o.id for o in outlines(result.objects, 3)]  # doctest: +SKIP
        [1, 2, 3]
    """
    raw = getattr(objects, "raw_records", None)
    if raw is None:
        return [
            Outline(o.id, _pair(o.centroid_image_crs), dict_rings(o.geometry))
            for o in objects[:limit]
        ]
    records = list(islice(raw(), limit))
    geometries = shapely.from_geojson([text for _, text in records])
    return [
        Outline(int(r["id"]), _pair(r["centroid_image_crs"]), _geos_rings(g))
        for (r, _), g in zip(records, geometries, strict=True)
    ]


def without_geometry(objects: Sequence[ChangeObject], limit: int) -> list[ChangeObject]:
    """The first ``limit`` objects, for their attributes: objects in a store are read
    without parsing their outlines (their ``geometry`` is ``{}``).

    Example:
        >>> without_geometry(result.objects, 2)[0].geometry  # doctest: +SKIP
        {}
    """
    heads = getattr(objects, "without_geometry", None)
    return list(heads(limit)) if heads is not None else list(objects[:limit])


def _pair(values: Sequence[float]) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def dict_rings(geometry: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """Exterior rings of a GeoJSON-like Polygon or MultiPolygon (none for other types)."""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        parts = [coords[0]] if coords else []
    elif kind == "MultiPolygon":
        parts = [poly[0] for poly in coords if poly]
    else:
        parts = []
    return tuple(np.asarray(ring, dtype=np.float64).reshape(-1, 2) for ring in parts)


def _geos_rings(geometry: Any) -> tuple[np.ndarray, ...]:
    """Exterior rings of a shapely Polygon or MultiPolygon (none for other types)."""
    if geometry is None or shapely.get_type_id(geometry) not in (3, 6):  # Polygon, MultiPolygon
        return ()
    rings = shapely.get_exterior_ring(shapely.get_parts(geometry))
    return tuple(shapely.get_coordinates(ring) for ring in rings if not ring.is_empty)
