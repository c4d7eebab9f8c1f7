"""Polygons of change objects, one mask tile at a time: the work done in worker processes.

:func:`trace_tile` takes one tile of the mask (read by the main process, which
alone writes the mask file) and the component ids of its labels. It returns
the tile with the too-small objects zeroed, the finished records of the
objects that lie wholly inside the tile, and the polygons (WKB) of the pieces
of objects that span several tiles, which the main process unions once their
last tile is done. Everything here is plain data, so it pickles to and from
worker processes, and it is deterministic: any number of workers gives the
same objects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import shapes
from shapely.affinity import affine_transform
from shapely.geometry import mapping
from shapely.ops import unary_union

from terrasight.io.vectors import apply_transform, geometry_area, location_words
from terrasight.tasks.change.objects import components


@dataclass(frozen=True)
class Scene:
    """What every tile needs to know about the scene (pickled once per task)."""

    crs: CRS | None
    transform: tuple[float, ...]
    width: int
    height: int
    unit_area: float
    unit: str
    connectivity: int
    tile_size: int

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform[:6])

    def tile_of(self, col: np.ndarray | int, row: np.ndarray | int) -> np.ndarray | int:
        """Index of the tile holding pixel (col, row), row-major."""
        cols = -(-self.width // self.tile_size)
        return (row // self.tile_size) * cols + col // self.tile_size


@dataclass
class TileTask:
    """One tile of the mask and how its labels map to components.

    ``roots[k]`` is the component id of local label ``k + 1`` and ``keep[k]``
    whether it passes the size filter; ``stats`` holds the accumulators of the
    kept components present in the tile (see
    :data:`~terrasight.tasks.change.objects.components.STATS`), with their ids in ``"id"``.
    """

    index: int
    col_off: int
    row_off: int
    mask: np.ndarray
    roots: np.ndarray
    keep: np.ndarray
    stats: dict[str, np.ndarray]


@dataclass
class TileOutcome:
    """What :func:`trace_tile` returns: see the module docstring."""

    index: int
    filtered: np.ndarray | None
    finished: list[tuple[int, dict[str, Any], str]] = field(default_factory=list)
    pieces: dict[int, list[bytes]] = field(default_factory=dict)


def trace_tile(task: TileTask, scene: Scene) -> TileOutcome:
    """Filter and trace one tile (see the module docstring).

    Example:
        >>> outcome = trace_tile(task, scene)  # doctest: +SKIP
        >>> [record["pixels"] for _, record in outcome.finished]  # doctest: +SKIP
        [40, 25]
    """
    labels, _ = components.label_tile(task.mask, scene.connectivity)
    ids = np.concatenate([[0], task.roots])[labels]
    kept = np.concatenate([[False], task.keep])[labels]
    small = (labels > 0) & ~kept
    filtered = None
    if small.any():
        filtered = task.mask.copy()
        filtered[small] = 0
    outcome = TileOutcome(task.index, filtered)
    if not kept.any():
        return outcome
    pieces = _trace(ids, kept, task.col_off, task.row_off)
    row_of = {int(c): i for i, c in enumerate(task.stats["id"])}
    whole: list[tuple[int, dict[str, Any], shapely.Geometry]] = []
    for comp, parts in pieces.items():
        s = {k: v[row_of[comp]] for k, v in task.stats.items()}
        last = scene.tile_of(int(s["col1"]) - 1, int(s["row1"]) - 1)
        if scene.tile_of(int(s["col0"]), int(s["row0"])) == last:
            whole.append((comp, s, _one_tile_geometry(parts)))
        else:
            outcome.pieces[comp] = [shapely.to_wkb(p) for p in parts]
    if whole:  # the objects inside the tile: mapped and written as text all at once
        geoms = to_image_crs(np.array([g for _, _, g in whole], dtype=object), scene)
        texts = shapely.to_geojson(geoms)
        for (comp, s, _), geom, text in zip(whole, geoms, texts, strict=True):
            outcome.finished.append((comp, draft_record(s, geom, scene), str(text)))
    return outcome


def _one_tile_geometry(parts: list[shapely.Geometry]) -> shapely.Geometry:
    """An object's pieces from one tile as one valid geometry in scene pixel coordinates.

    The pieces are 4-connected regions of one 8-connected object: they touch at
    corners only, so they form a valid MultiPolygon as they are (else, unioned).
    """
    geom = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return geom if geom.is_valid else _union(parts)


def to_image_crs(geoms: np.ndarray, scene: Scene) -> np.ndarray:
    """Geometries in scene pixel coordinates mapped into the image CRS, all in one call.

    The same arithmetic as :func:`shapely.affinity.affine_transform` with the
    scene's transform (``a * x + b * y + c``), so the same coordinates.

    Example:
        >>> to_image_crs(np.array([shapely.box(0, 0, 1, 1)]), scene)[0].bounds  # doctest: +SKIP
        (500000.0, 4999990.0, 500010.0, 5000000.0)
    """
    t = scene.affine

    def mapped(coords: np.ndarray) -> np.ndarray:
        x, y = coords.T
        return np.stack([t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f]).T

    return shapely.transform(geoms, mapped)


def _trace(ids: np.ndarray, kept: np.ndarray, col_off: int, row_off: int) -> dict[int, list]:
    """Polygons of the kept components of one tile, in scene pixel coordinates, by component."""
    kept_ids = ids[kept]
    uniq = np.unique(kept_ids)  # only the kept pixels: far fewer than the tile
    compact = np.zeros(ids.shape, dtype=np.int32)
    compact[kept] = np.searchsorted(uniq, kept_ids).astype(np.int32) + 1
    pieces: dict[int, list] = defaultdict(list)
    tile_transform = Affine.translation(col_off, row_off)
    values, rings, counts = [], [], []
    for geom, value in shapes(compact, mask=kept, connectivity=4, transform=tile_transform):
        values.append(int(value))
        rings.extend(geom["coordinates"])
        counts.append(len(geom["coordinates"]))
    for value, polygon in zip(values, _polygons(rings, counts), strict=True):
        pieces[int(uniq[value - 1])].append(polygon)
    return pieces


def _polygons(rings: list[Any], counts: list[int]) -> np.ndarray:
    """Polygons of rings (lists of (x, y)), ``counts[i]`` rings for polygon ``i`` (its shell
    first, then its holes), built in a few vectorised calls.

    Example:
        >>> square = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)]
        >>> _polygons([square], [1])[0].area
        1.0
    """
    if not rings:
        return np.empty(0, dtype=object)
    coords = np.array(list(chain.from_iterable(rings)), dtype=np.float64)
    ring_of = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    linear = shapely.linearrings(coords, indices=ring_of)
    return shapely.polygons(linear, indices=np.repeat(np.arange(len(counts)), counts))


def merge_pieces(
    parts: list[shapely.Geometry], scene: Scene, one_tile: bool = False
) -> shapely.Geometry:
    """Union one object's pieces into a valid (Multi)Polygon mapped into the image CRS.

    Pieces traced from one tile are 4-connected regions of one 8-connected
    object: they touch at corners only, so with ``one_tile`` they form a valid
    MultiPolygon as they are, and the union (and simplification of tile
    borders) is skipped.

    Example:
        >>> merge_pieces([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], scene)  # doctest: +SKIP
    """
    geom = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts) if one_tile else None
    if geom is None or not geom.is_valid:
        geom = _union(parts)
    t = scene.affine
    return affine_transform(geom, [t.a, t.b, t.d, t.e, t.c, t.f])


def _union(parts: list[shapely.Geometry]) -> shapely.Geometry:
    """The union of pieces as a valid Polygon or MultiPolygon without tile-border vertices."""
    geom = parts[0] if len(parts) == 1 else unary_union(parts)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polygons = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    geom = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    return geom.simplify(0)  # drop the vertices left on former tile borders


def draft_record(s: dict[str, Any], geometry: shapely.Geometry, scene: Scene) -> dict[str, Any]:
    """The record of one object without its geometry (id 0 and no WGS84 values until sorted).

    ``s`` holds the component's accumulators; the keys are the fields of
    :class:`~terrasight.tasks.change.result.ChangeObject` but ``geometry``
    (written beside the record as GeoJSON text, see :func:`shapely.to_geojson`).
    """
    n = int(s["pixels"])
    col, row = float(s["col_sum"]) / n + 0.5, float(s["row_sum"]) / n + 0.5
    pbox = (int(s["col0"]), int(s["row0"]), int(s["col1"]), int(s["row1"]))
    transform = scene.affine
    mean = float(s["prob_sum"] / s["prob_n"]) if s["prob_n"] else float("nan")
    crs = scene.crs
    if crs is not None and crs.is_geographic:  # geodesic area of the polygon
        area = geometry_area(mapping(geometry), crs, n, scene.unit_area)
    else:
        area = float(n * scene.unit_area)
    return {
        "id": 0,
        "pixels": n,
        "area": area,
        "area_unit": scene.unit,
        "location": location_words(col, row, scene.width, scene.height),
        "mean_probability": round(mean, 4),
        "centroid_lonlat": None,
        "bbox_wgs84": None,
        "centroid_image_crs": apply_transform(transform, col, row),
        "bbox_image_crs": crs_bbox(pbox, transform),
        "pixel_bbox": pbox,
    }


def crs_bbox(
    pbox: tuple[int, int, int, int], transform: Affine
) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a pixel bbox's corners mapped through ``transform``.

    Example:
        >>> crs_bbox((0, 0, 2, 1), Affine(10, 0, 500000, 0, -10, 5000000))
        (500000.0, 4999990.0, 500020.0, 5000000.0)
    """
    c0, r0, c1, r1 = pbox
    xs, ys = zip(
        *(apply_transform(transform, c, r) for c in (c0, c1) for r in (r0, r1)), strict=True
    )
    return (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
