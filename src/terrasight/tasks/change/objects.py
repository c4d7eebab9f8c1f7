"""Changed regions of a change mask as :class:`ChangeObject` s, in bounded memory.

The mask may be far larger than memory, so it is read in non-overlapping tiles,
twice:

1. :func:`~terrasight.tasks.change.components.label_components` labels each
   tile, merges labels across tile borders and sums per object its pixels,
   probabilities, pixel positions and bounding box.
2. Each tile is labelled again (labelling is deterministic): pixels of objects
   below the size filter are set to 0 in the mask file, in place, and the kept
   objects are traced into polygons, in scene pixel coordinates so pieces from
   neighbouring tiles share exact vertices and union cleanly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import shapes
from shapely.affinity import affine_transform
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

from terrasight.io.vectors import (
    apply_transform,
    as_crs,
    bounds_to_lonlat,
    geometry_area,
    location_words,
    pixel_area,
    to_lonlat,
)
from terrasight.tasks.change.components import (
    Components,
    global_labels,
    label_components,
    open_raster_quietly,
)
from terrasight.tasks.change.result import ChangeObject

Pieces = dict[int, list[shapely.Geometry]]


def extract_objects(
    mask_path: Path,
    probability_path: Path,
    min_pixels: int,
    crs: str | None,
    transform: Affine,
    tile_size: int = 2048,
    connectivity: int = 8,
) -> tuple[tuple[ChangeObject, ...], int]:
    """Connected changed regions of a mask file, largest first; drops the small ones in place.

    Args:
        mask_path: single-band uint8 GeoTIFF, 1 changed, 0 unchanged, 255 no data.
            Pixels of objects smaller than ``min_pixels`` are set to 0 in it.
        probability_path: float32 probability raster on the same grid, NaN no data.
        min_pixels: smallest object kept, in pixels.
        crs: the image CRS (WKT or ``"EPSG:xxxx"``), or None for pixel space.
        transform: the grid's affine transform (identity for pixel space).
        tile_size: side of the tiles read at a time; bounds memory.
        connectivity: 8 (pixels touching at a corner join) or 4.

    Returns:
        The objects, sorted by area descending with ids 1..n, and the number of
        changed pixels left in the mask after the size filter.

    Example:
        >>> objects, changed = extract_objects(
        ...     Path("change_mask.tif"), Path("change_probability.tif"), 10,
        ...     "EPSG:32633", from_origin(500000, 5000000, 10, 10))  # doctest: +SKIP
        >>> objects[0].area, objects[0].location  # doctest: +SKIP
        (2400.0, 'north-east')
    """
    comps = label_components(Path(mask_path), Path(probability_path), tile_size, connectivity)
    keep = _keep_flags(comps, min_pixels)
    pieces = _filter_and_trace(Path(mask_path), comps, keep)
    objects = _build_objects(comps, pieces, as_crs(crs), transform)
    return objects, int(sum(o.pixels for o in objects))


def _keep_flags(comps: Components, min_pixels: int) -> np.ndarray:
    """For every component id, whether it passes the size filter."""
    return comps.stats["pixels"] >= max(1, int(min_pixels))


def _filter_and_trace(mask_path: Path, comps: Components, keep: np.ndarray) -> Pieces:
    """Second pass: zero the small objects in the mask file and trace the kept ones per tile."""
    pixels = comps.stats["pixels"]
    removes = bool(np.any((pixels > 0) & ~keep))
    pieces: Pieces = defaultdict(list)
    with open_raster_quietly(mask_path, "r+" if removes else "r") as ds:
        for tile in comps.grid:
            offset, end = int(comps.offsets[tile.index]), int(comps.offsets[tile.index + 1])
            if end == offset:
                continue
            window = tile.core
            tile_mask = ds.read(1, window=window)
            ids = comps.roots[global_labels(tile_mask, offset, comps.connectivity)]
            kept = keep[ids] & (ids > 0)
            small = (ids > 0) & ~kept
            if small.any():
                tile_mask[small] = 0
                ds.write(tile_mask, 1, window=window)
            _trace(ids, kept, int(window.col_off), int(window.row_off), pieces)
    return pieces


def _trace(ids: np.ndarray, kept: np.ndarray, col_off: int, row_off: int, pieces: Pieces) -> None:
    """Polygons of the kept objects of one tile, in scene pixel coordinates, into ``pieces``."""
    if not kept.any():
        return
    kept_ids = ids[kept]
    uniq = np.unique(kept_ids)  # only the kept pixels: far fewer than the tile
    compact = np.zeros(ids.shape, dtype=np.int32)
    compact[kept] = np.searchsorted(uniq, kept_ids).astype(np.int32) + 1
    tile_transform = Affine.translation(col_off, row_off)
    for geom, value in shapes(compact, mask=kept, connectivity=4, transform=tile_transform):
        pieces[int(uniq[int(value) - 1])].append(shape(geom))


def _merge(parts: list[shapely.Geometry], transform: Affine) -> dict:
    """Union one object's pieces into a valid (Multi)Polygon mapped into the image CRS."""
    geom = parts[0] if len(parts) == 1 else unary_union(parts)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polygons = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    geom = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    geom = geom.simplify(0)  # drop the vertices left on former tile borders
    t = transform
    return mapping(affine_transform(geom, [t.a, t.b, t.d, t.e, t.c, t.f]))


def _build_objects(
    comps: Components, pieces: Pieces, crs: CRS | None, transform: Affine
) -> tuple[ChangeObject, ...]:
    """ChangeObjects of the traced components, largest area first, ids 1..n."""
    height, width = int(comps.grid.region.height), int(comps.grid.region.width)
    unit_area, unit = pixel_area(crs, transform, shape=(height, width))
    drafts = [
        _object(comps, i, _merge(parts, transform), crs, transform, (unit_area, unit))
        for i, parts in pieces.items()
    ]
    drafts.sort(key=lambda o: (-o.area, o.pixel_bbox[1], o.pixel_bbox[0]))
    lonlats = to_lonlat([o.centroid_image_crs for o in drafts], crs)
    boxes = bounds_to_lonlat([o.bbox_image_crs for o in drafts], crs)
    return tuple(
        replace(o, id=n, centroid_lonlat=ll, bbox_wgs84=box)
        for n, (o, ll, box) in enumerate(zip(drafts, lonlats, boxes, strict=True), start=1)
    )


def _object(
    comps: Components,
    i: int,
    geometry: dict,
    crs: CRS | None,
    transform: Affine,
    unit: tuple[float, str],
) -> ChangeObject:
    """The ChangeObject of component ``i`` (id 0 and no WGS84 values until sorted)."""
    s = {k: v[i] for k, v in comps.stats.items()}
    n = int(s["pixels"])
    col, row = s["col_sum"] / n + 0.5, s["row_sum"] / n + 0.5
    pbox = (int(s["col0"]), int(s["row0"]), int(s["col1"]), int(s["row1"]))
    height, width = int(comps.grid.region.height), int(comps.grid.region.width)
    centroid = apply_transform(transform, col, row)
    mean = float(s["prob_sum"] / s["prob_n"]) if s["prob_n"] else float("nan")
    return ChangeObject(
        id=0,
        pixels=n,
        area=geometry_area(geometry, crs, n, unit[0]),
        area_unit=unit[1],
        location=location_words(col, row, width, height),
        mean_probability=round(mean, 4),
        centroid_lonlat=None,
        bbox_wgs84=None,
        centroid_image_crs=centroid,
        bbox_image_crs=_crs_bbox(pbox, transform),
        pixel_bbox=pbox,
        geometry=geometry,
    )


def _crs_bbox(
    pbox: tuple[int, int, int, int], transform: Affine
) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a pixel bbox's corners mapped through ``transform``."""
    c0, r0, c1, r1 = pbox
    xs, ys = zip(
        *(apply_transform(transform, c, r) for c in (c0, c1) for r in (r0, r1)), strict=True
    )
    return (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
