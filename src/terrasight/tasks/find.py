"""Where is it? Score every tile of one scene against a text, at one or more scales.

:func:`find` walks a scene in square tiles of each scale (half-overlapping by
default), embeds a batch of tiles at a time with an image-text model and scores
each against the text (cosine similarity). Scores land on a coarse grid of
cells (the smallest scale's step): each cell keeps, per scale, the mean score
of the tiles covering it, and the heat map is the best scale's mean. Only the
grid and one batch of tiles are in memory, whatever the scene's size. The best
regions are the connected groups of cells in the top of the heat map, as
polygons in the scene's CRS (or pixels), strongest first.

Example:
    >>> found = find("a bridge over a river", "scene.tif", heatmap="heat.tif")  # doctest: +SKIP
    >>> found.regions[0].score, found.save_geojson("where.geojson")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from terrasight.errors import InvalidOptionError
from terrasight.io.chips import Scene, iter_chip_windows, open_scene, read_chips
from terrasight.tasks.embed import DEFAULT_MODEL, embed_images, embed_texts, load_model

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

SCALES = (224, 448)
"""Default tile sides in pixels."""
BATCH = 32
"""Tiles read and embedded at a time."""
TOP_FRACTION = 0.05
"""Cells in the top 5 % of the heat map (and within half of its range of the best) form regions."""


@dataclass(frozen=True)
class Region:
    """One region found: a polygon (GeoJSON-like, scene CRS or pixels), its best and mean score."""

    geometry: dict[str, Any]
    score: float
    mean: float
    cells: int


@dataclass(frozen=True)
class FindResult:
    """The heat map on disk, the best regions (strongest first) and what was searched."""

    text: str
    scene: Path | str
    """The scene as given: a local file, a URL or ``/vsi...`` path, or a STAC Item."""
    heatmap: Path
    crs: Any
    regions: list[Region] = field(default_factory=list)
    tiles: int = 0

    def to_geojson(self) -> dict[str, Any]:
        """The regions as an RFC 7946 FeatureCollection (WGS84, or pixels without a CRS)."""
        from terrasight.io.vectors import features_to_geojson

        feats = [
            {
                "geometry": r.geometry,
                "id": i + 1,
                "properties": {
                    "rank": i + 1,
                    "score": round(r.score, 5),
                    "mean_score": round(r.mean, 5),
                    "cells": r.cells,
                    "text": self.text,
                    "scene": str(self.scene),
                },
            }
            for i, r in enumerate(self.regions)
        ]
        return features_to_geojson(feats, self.crs)

    def save_geojson(self, path: str | Path) -> Path:
        """Write :meth:`to_geojson` to ``path`` (atomically)."""
        from terrasight.io.vectors import write_geojson

        return write_geojson(path, self.to_geojson())


def find(
    text: str,
    scene: str | Path,
    heatmap: str | Path,
    *,
    scales: Sequence[int] = SCALES,
    overlap: float = 0.5,
    top: int = 5,
    model: str | Any = DEFAULT_MODEL,
    checkpoint: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: ModelCache | None = None,
) -> FindResult:
    """Score the tiles of ``scene`` against ``text``; write the heat map; return the best regions.

    Args:
        text: what to look for.
        scene: a GeoTIFF (regions in its CRS, GeoJSON in WGS84) or a plain image (pixels);
            a local file, an ``http(s)``/``s3``/``gs`` URL, a ``/vsi...`` path or a STAC Item.
        heatmap: where to write the heat map GeoTIFF (float32, the scene's CRS, one cell
            per step of the smallest scale).
        scales: tile sides in pixels (each tile is resized to the model's input).
        overlap: fraction of a tile shared with its neighbour, in ``[0, 0.9]``.
        top: at most this many regions.
        model, checkpoint: the image-text model (see :func:`terrasight.tasks.embed.load_model`).
        progress: called as ``progress(tiles_done, tiles_total)`` after each batch.
        cache: keeps the model for later calls.

    Raises:
        InvalidOptionError: no text, a bad scale or overlap.
        RasterReadError: the scene cannot be read.

    Example:
        >>> found = find("a harbour", "scene.tif", "heat.tif", scales=(224,))  # doctest: +SKIP
        >>> len(found.regions) <= 5  # doctest: +SKIP
        True
    """
    if not text.strip():
        raise InvalidOptionError("find: give a text to look for.")
    if not scales or min(scales) < 16 or not 0 <= overlap <= 0.9:
        raise InvalidOptionError(
            f"find: scales {list(scales)} and overlap {overlap}: scales must be 16 px or more "
            "and the overlap a fraction between 0 and 0.9."
        )
    src = open_scene(scene)
    vl = load_model(model, checkpoint, cache=cache)
    query = embed_texts(text, vl)[0]
    cell = max(1, round(min(scales) * (1 - overlap)))
    grid = (-(-src.height // cell), -(-src.width // cell))
    total = sum(_count(src, s, overlap) for s in scales)
    heat = np.full(grid, np.nan, np.float32)
    done = 0
    for size in sorted(set(scales)):
        total_s = np.zeros(grid, np.float64)
        count = np.zeros(grid, np.int32)
        for windows in _batches(
            iter_chip_windows(src.width, src.height, size, round(size * overlap))
        ):
            scores = embed_images(read_chips(src, windows), vl) @ query
            for w, score in zip(windows, scores, strict=True):
                rows, cols = _cells(w, cell)
                total_s[rows, cols] += float(score)
                count[rows, cols] += 1
            done += len(windows)
            if progress is not None:
                progress(done, total)
        with np.errstate(invalid="ignore"):
            mean = (total_s / np.maximum(count, 1)).astype(np.float32)
        heat = np.fmax(heat, np.where(count > 0, mean, np.nan))
    transform = src.transform * Affine.scale(cell)
    path = _write_heatmap(Path(heatmap), heat, transform, src)
    regions = best_regions(heat, transform, top)
    return FindResult(text, src.path, path, src.crs, regions, total)


def _count(src: Scene, size: int, overlap: float) -> int:
    return sum(1 for _ in iter_chip_windows(src.width, src.height, size, round(size * overlap)))


def _batches(windows: Iterator[Window], size: int = BATCH) -> Iterator[list[Window]]:
    while batch := list(islice(windows, size)):
        yield batch


def _cells(w: Window, cell: int) -> tuple[slice, slice]:
    """The grid cells whose centres lie inside a window (at least one)."""
    r0, c0 = int(w.row_off), int(w.col_off)
    r1, c1 = r0 + int(w.height), c0 + int(w.width)
    rows = slice(round(r0 / cell), max(round(r0 / cell) + 1, round(r1 / cell)))
    cols = slice(round(c0 / cell), max(round(c0 / cell) + 1, round(c1 / cell)))
    return rows, cols


def _write_heatmap(path: Path, heat: np.ndarray, transform: Affine, src: Scene) -> Path:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(
        driver="GTiff",
        width=heat.shape[1],
        height=heat.shape[0],
        count=1,
        dtype="float32",
        nodata=float("nan"),
        compress="deflate",
        transform=transform,
    )
    if src.crs is not None:
        profile["crs"] = src.crs
    part = path.with_name(path.name + ".part")
    with warnings.catch_warnings(), rasterio.open(part, "w", **profile) as ds:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        ds.write(heat, 1)
        ds.set_band_description(1, "score")
    part.replace(path)
    return path


def best_regions(heat: np.ndarray, transform: Affine, top: int = 5) -> list[Region]:
    """Connected groups of the heat map's best cells as polygons, strongest first.

    A cell is in a region when its score is in the top :data:`TOP_FRACTION` of the
    heat map and within half of the map's range of the best score.

    Example:
        >>> heat = np.zeros((4, 4), np.float32); heat[1:3, 2] = 1.0
        >>> [r.cells for r in best_regions(heat, Affine.identity())]
        [2]
    """
    from rasterio.features import shapes
    from scipy import ndimage

    valid = np.isfinite(heat)
    if not valid.any():
        return []
    values = heat[valid]
    best, low = float(values.max()), float(values.min())
    cut = max(float(np.quantile(values, 1 - TOP_FRACTION)), best - 0.5 * (best - low))
    labels, n = ndimage.label(valid & (heat >= cut))
    regions = []
    for geom, label in shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
        inside = heat[labels == int(label)]
        regions.append(Region(geom, float(inside.max()), float(inside.mean()), int(inside.size)))
    regions.sort(key=lambda r: -r.score)
    return regions[: max(top, 0)]
