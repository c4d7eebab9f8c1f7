"""Map tiles of a job's images and change mask: 256 px PNGs read through rasterio windows.

Georeferenced rasters give XYZ tiles in Web Mercator (EPSG:3857): each tile is
one :class:`~rasterio.vrt.WarpedVRT` whose grid *is* the tile, so GDAL reads
only the source windows (or overviews) it needs. A raster without a CRS gives
image-space tiles for a flat map (Leaflet's ``CRS.Simple``): at the deepest zoom
one tile pixel is one image pixel, each zoom out halves that.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from terrasight.io.raster import common_name
from terrasight.io.rgb import display_bands

TILE = 256
ORIGIN = 20037508.342789244
"""Half the width of the Web Mercator square, in metres."""
MERCATOR = "EPSG:3857"
MASK_COLOUR = (255, 40, 40, 170)
MAX_ZOOM = 24


@dataclass(frozen=True)
class Stretch:
    """Display bands (1-based) of a raster and the low/high value of each (2nd/98th percentile)."""

    bands: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of XYZ tile ``z/x/y`` in EPSG:3857 metres.

    Example:
        >>> [round(v) for v in tile_bounds(1, 0, 0)]
        [-20037508, 0, 0, 20037508]
    """
    size = 2 * ORIGIN / 2**z
    left, top = -ORIGIN + x * size, ORIGIN - y * size
    return left, top - size, left + size, top


def image_maxzoom(width: int, height: int) -> int:
    """Zoom at which one tile pixel is one image pixel, for image-space tiles.

    Example:
        >>> image_maxzoom(1024, 600), image_maxzoom(100, 100)
        (2, 0)
    """
    return max(0, math.ceil(math.log2(max(width, height) / TILE)))


class TileRenderer:
    """Renders tiles; keeps each raster's display stretch (computed once, from a small read)."""

    def __init__(self) -> None:
        self._stretches: dict[tuple[str, float], Stretch] = {}
        self._lock = threading.Lock()
        self._empty = _png(np.zeros((TILE, TILE, 4), np.uint8))

    def map_info(self, path: Path) -> dict[str, Any]:
        """Where the raster lies: WGS84 bounds and zooms, or its size in pixels without a CRS.

        Example:
            >>> TileRenderer().map_info(Path("before.tif"))["georeferenced"]  # doctest: +SKIP
            True
        """
        with _open(path) as src:
            if src.crs is None:
                zoom = image_maxzoom(src.width, src.height)
                return {
                    "georeferenced": False,
                    "width": src.width,
                    "height": src.height,
                    "maxzoom": zoom,
                }
            west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
            with WarpedVRT(src, crs=MERCATOR) as vrt:
                resolution = vrt.res[0]
        native = int(round(math.log2(2 * ORIGIN / TILE / resolution)))
        return {
            "georeferenced": True,
            "bounds": [[south, west], [north, east]],
            "maxzoom": max(0, min(native, MAX_ZOOM)),
        }

    def render(self, path: Path, z: int, x: int, y: int, mask: bool = False) -> bytes:
        """The PNG of tile ``z/x/y`` of ``path``: RGB(A) of the image, or the red change mask."""
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            return self._empty
        with _open(path) as src:
            stretch = None if mask else self._stretch(path, src)
            if src.crs is None:
                data, valid = _image_tile(src, z, x, y, mask, stretch)
            else:
                data, valid = _mercator_tile(src, z, x, y, mask, stretch)
        if data is None:
            return self._empty
        return _png(_colour(data, valid, stretch))

    def _stretch(self, path: Path, src: Any) -> Stretch:
        key = (str(path), path.stat().st_mtime)
        with self._lock:
            found = self._stretches.get(key)
        if found is None:
            found = compute_stretch(src)
            with self._lock:
                self._stretches[key] = found
        return found


def compute_stretch(src: Any, max_side: int = 512) -> Stretch:
    """The display bands of an open raster and their 2nd/98th percentiles (decimated read)."""
    names = [common_name(d or f"band{i + 1}") for i, d in enumerate(src.descriptions)]
    positions, _ = display_bands(names)
    bands = tuple(p + 1 for p in positions)
    scale = max(src.width, src.height) / max_side
    shape = (max(1, round(src.height / max(scale, 1))), max(1, round(src.width / max(scale, 1))))
    data = src.read(list(bands), out_shape=(len(bands), *shape), masked=True)
    low, high = [], []
    for band in data:
        values = band.compressed()
        lo, hi = np.percentile(values, [2, 98]) if values.size else (0.0, 1.0)
        low.append(float(lo))
        high.append(float(hi if hi > lo else lo + 1))
    return Stretch(bands, tuple(low), tuple(high))


def _open(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path)


def _mercator_tile(
    src: Any, z: int, x: int, y: int, mask: bool, stretch: Stretch | None
) -> tuple[np.ndarray | None, np.ndarray]:
    left, bottom, right, top = tile_bounds(z, x, y)
    west, south, east, north = transform_bounds(src.crs, MERCATOR, *src.bounds)
    if right <= west or left >= east or top <= south or bottom >= north:
        return None, np.zeros((TILE, TILE), bool)
    options = {
        "crs": MERCATOR,
        "transform": from_bounds(left, bottom, right, top, TILE, TILE),
        "width": TILE,
        "height": TILE,
        "resampling": Resampling.nearest if mask else Resampling.bilinear,
        "add_alpha": src.nodata is None,  # else outside the source reads as nodata
    }
    with WarpedVRT(src, **options) as vrt:
        bands = [1] if stretch is None else list(stretch.bands)
        data = vrt.read(bands)
        # Outside the source: alpha 0, or nodata (GDAL's dataset mask ignores the added alpha).
        valid = (vrt.read(vrt.count) if options["add_alpha"] else vrt.dataset_mask()) > 0
    return data, valid


def _image_tile(
    src: Any, z: int, x: int, y: int, mask: bool, stretch: Stretch | None
) -> tuple[np.ndarray | None, np.ndarray]:
    span = TILE * 2 ** (image_maxzoom(src.width, src.height) - z)
    col, row = x * span, y * span
    if col >= src.width or row >= src.height:
        return None, np.zeros((TILE, TILE), bool)
    window = Window(col, row, span, span)
    bands = [1] if stretch is None else list(stretch.bands)
    how = Resampling.nearest if mask else Resampling.average
    data = src.read(bands, window=window, out_shape=(len(bands), TILE, TILE), boundless=True)
    inside = src.read_masks(
        1, window=window, out_shape=(TILE, TILE), boundless=True, resampling=how
    )
    return data, inside > 0


def _colour(data: np.ndarray, valid: np.ndarray, stretch: Stretch | None) -> np.ndarray:
    out = np.zeros((TILE, TILE, 4), np.uint8)
    if stretch is None:  # the change mask: 1 changed, 0 unchanged, 255 no data
        changed = (data[0] == 1) & valid
        out[changed] = MASK_COLOUR
        return out
    for i, band in enumerate(data.astype(np.float32)):
        lo, hi = stretch.low[i], stretch.high[i]
        out[..., i] = np.clip((band - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    if len(data) == 1:
        out[..., 1] = out[..., 2] = out[..., 0]
    out[..., 3] = np.where(valid, 255, 0)
    return out


def _png(rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
