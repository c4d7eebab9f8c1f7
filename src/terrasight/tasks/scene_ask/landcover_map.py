"""A land-cover map read from a ``landcover.tif``: classes, class names, ground area per pixel.

The file is the one ``terrasight landcover`` writes: uint8 class codes, the class
names in its metadata tags (``classes`` as JSON ``{"0": "building", ...}`` or
``CLASS_0 = building`` ...), nodata 255, the image's CRS and transform.

Example:
    >>> m = LandCoverMap(np.zeros((2, 3), np.uint8), ("building",), np.ones(2), "px")
    >>> m.area_of(m.classes == 0), m.valid_area
    (6.0, 6.0)
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from terrasight.errors import InvalidRasterError, RasterReadError
from terrasight.io.vectors import GEOD, WGS84, apply_transform, pixel_area, transform_points

NODATA = 255
"""Class code of pixels outside the image's valid data."""
LANDCOVER_NAME = "landcover.tif"
"""The file name a land-cover run writes its class raster under."""
READ_ROWS = 2048
"""Rows of a land-cover map read at a time."""
IN_MEMORY_PIXELS = 64_000_000
"""Maps with more pixels than this are held in a disk-backed array, not in memory."""


@dataclass(frozen=True)
class LandCoverMap:
    """Land-cover classes of one image on its grid.

    Attributes:
        classes: class code per pixel (uint8, ``NODATA`` outside the image).
        names: class name by code (``names[0]`` is the name of code 0).
        row_area: ground area of one pixel on each row (in a geographic CRS it
            shrinks towards the poles), in :attr:`unit`.
        unit: ``"m2"``, or ``"px"`` when the file has no CRS.
        transform: pixel to map coordinates.
        crs: the map CRS, None in pixel space.
        path: the file read, when read from one.
        content_metres: the ground size (m) of one pixel of what the image shows, where
            it was resampled finer than that before classifying (None otherwise).
        caveats: what the land-cover run was unsure of about the whole map.
        cloud_share: share (0-1) of the image left out as cloud or cloud shadow (nodata).

    Example:
        >>> m = LandCoverMap(np.array([[0, 2]], np.uint8), ("building", "road", "water"),
        ...                  np.array([100.0]), "m2")
        >>> m.code("water"), m.total("water")
        (2, 100.0)
    """

    classes: np.ndarray
    names: tuple[str, ...]
    row_area: np.ndarray
    unit: str
    transform: Affine = Affine.identity()
    crs: CRS | None = None
    path: Path | None = None
    content_metres: float | None = None
    caveats: tuple[str, ...] = ()
    cloud_share: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.classes.shape[0]), int(self.classes.shape[1])

    @property
    def content_pixels(self) -> int:
        """Map pixels in one pixel of what the image shows (1 unless made finer than it was).

        Example:
            >>> m = LandCoverMap(np.zeros((4, 4), np.uint8), ("building",), np.full(4, 4.0),
            ...                  "m2", content_metres=10.0)
            >>> m.content_pixels  # 2 m pixels of a 10 m image
            25
        """
        if not self.content_metres or self.unit != "m2":
            return 1
        pixel = float(np.sqrt(self.row_area[len(self.row_area) // 2]))
        return max(1, round((self.content_metres / pixel) ** 2))

    @property
    def valid(self) -> np.ndarray:
        """Pixels inside the image (not nodata)."""
        return self.classes != NODATA

    @property
    def valid_area(self) -> float:
        """Ground area of every classified pixel, ``unknown`` included."""
        return self.area_of(self.valid)

    def code(self, name: str) -> int | None:
        """The code of a class name, None when the map has no such class."""
        return self.names.index(name) if name in self.names else None

    def area_of(self, mask: np.ndarray) -> float:
        """Ground area of the pixels in a boolean mask."""
        return float(np.dot(mask.sum(axis=1), self.row_area))

    def total(self, name: str) -> float:
        """Ground area of one class (0 when the map lacks it)."""
        code = self.code(name)
        return 0.0 if code is None else self.area_of(self.classes == code)


def read_landcover(path: str | Path, window: int = READ_ROWS) -> LandCoverMap:
    """Read a ``landcover.tif`` (or a folder holding one) into a :class:`LandCoverMap`.

    The classes are read ``window`` rows at a time; a map of more than
    :data:`IN_MEMORY_PIXELS` pixels goes into a disk-backed array, so memory stays bounded
    whatever the scene's size.

    Raises:
        RasterReadError: the file is missing or not a raster.
        InvalidRasterError: it has no class names in its tags (not a land-cover map).

    Example:
        >>> read_landcover("out/landcover.tif").names[:3]  # doctest: +SKIP
        ('building', 'road', 'water')
    """
    path = Path(path)
    if path.is_dir():
        path = path / LANDCOVER_NAME
    try:
        with rasterio.open(path) as ds:
            names = class_names(ds.tags())
            content = ds.tags().get("CONTENT_METRES")
            caveats = tuple(json.loads(ds.tags().get("CAVEATS", "[]")))
            clouds = float(ds.tags().get("CLOUD_SHARE", 0.0))
            crs, transform = ds.crs, ds.transform
            classes = _read_classes(ds, window) if names is not None else None
    except rasterio.errors.RasterioIOError as err:
        raise RasterReadError(
            f"cannot read the land-cover map {path}: {err}; give the landcover.tif that "
            "'terrasight landcover IMAGE -o DIR' writes, or the folder holding it."
        ) from err
    if names is None:
        raise InvalidRasterError(
            f"{path} has no class names in its tags (expected 'classes' or CLASS_0, CLASS_1, "
            "...), so it is not a land-cover map; make one with 'terrasight landcover'."
        )
    assert classes is not None
    areas, unit = row_areas(crs, transform, classes.shape)
    metres = float(content) if content else None
    return LandCoverMap(classes, names, areas, unit, transform, crs, path, metres, caveats, clouds)


def _read_classes(ds: Any, rows: int) -> np.ndarray:
    """The class codes of band 1, ``rows`` rows at a time, the file's nodata as :data:`NODATA`."""
    height, width = ds.height, ds.width
    if height * width > IN_MEMORY_PIXELS:
        handle = tempfile.TemporaryFile(prefix="terrasight-landcover-")
        out: np.ndarray = np.memmap(handle, np.uint8, "w+", shape=(height, width))
    else:
        out = np.empty((height, width), np.uint8)
    nodata = ds.nodata
    for r in range(0, height, rows):
        n = min(rows, height - r)
        block = ds.read(1, window=Window(0, r, width, n))
        if nodata is not None and nodata != NODATA and 0 <= nodata < 255:
            block = np.where(block == int(nodata), NODATA, block)
        out[r : r + n] = block.astype(np.uint8, copy=False)
    return out


def is_landcover_file(path: str | Path) -> bool:
    """Whether ``path`` is a land-cover raster (class names in its tags) or a folder with one.

    Example:
        >>> is_landcover_file("no/such/file.tif")
        False
    """
    path = Path(path)
    if path.is_dir():
        path = path / LANDCOVER_NAME
    if not path.is_file():
        return False
    try:
        with rasterio.open(path) as ds:
            return ds.count == 1 and class_names(ds.tags()) is not None
    except rasterio.errors.RasterioIOError:
        return False


def class_names(tags: dict[str, Any]) -> tuple[str, ...] | None:
    """Class names by code from a land-cover file's tags, None when it has none.

    Example:
        >>> class_names({"classes": '{"0": "building", "1": "road"}'})
        ('building', 'road')
        >>> class_names({"CLASS_0": "water"}), class_names({})
        (('water',), None)
    """
    table: dict[int, str] = {}
    if "classes" in tags:
        try:
            table = {int(k): str(v) for k, v in json.loads(tags["classes"]).items()}
        except (ValueError, AttributeError):
            table = {}
    if not table:
        table = {
            int(k[6:]): str(v) for k, v in tags.items() if k[:6] == "CLASS_" and k[6:].isdigit()
        }
    if not table:
        return None
    return tuple(table.get(i, f"class {i}") for i in range(max(table) + 1))


def row_areas(crs: CRS | None, transform: Affine, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """Ground area of one pixel on each row, and its unit.

    A geographic CRS (EPSG:4326) gives the geodesic area of a pixel on each row (on
    the WGS84 ellipsoid), so areas stay right far from the equator. So does a
    projected CRS whose grid area differs from the ground area by more than
    :data:`SCALE_TOLERANCE` at the map's centre (Web Mercator, EPSG:3857, at
    mid-latitudes); other projected CRSs (UTM) give one grid area for every row.
    No CRS gives 1 px per pixel.

    Example:
        >>> from rasterio.transform import from_origin
        >>> a, unit = row_areas(CRS.from_epsg(4326), from_origin(15, 60, 0.001, 0.001), (2, 2))
        >>> unit, bool(3_000 < a[0] < 7_000), bool(a[0] < a[1])
        ('m2', True, True)
        >>> merc, _ = row_areas(CRS.from_epsg(3857), from_origin(0, 6_000_000, 10, 10), (2, 2))
        >>> bool(40 < merc[0] < 50)  # 100 m2 of grid is about 45 m2 of ground at 47 N
        True
    """
    height, width = int(shape[0]), int(shape[1]) if len(shape) > 1 else 1
    if crs is None:
        return np.ones(height), "px"
    if not crs.is_geographic:
        area, unit = pixel_area(crs, transform)
        centre = _ground_areas(crs, transform, [height // 2], width // 2)[0]
        if abs(centre / area - 1) <= SCALE_TOLERANCE:
            return np.full(height, area), unit
    return _ground_areas(crs, transform, list(range(height)), width // 2), "m2"


SCALE_TOLERANCE = 0.01
"""A projected grid whose pixel area is off the ground area by more than this is measured
on the ellipsoid row by row."""


def _ground_areas(crs: CRS, transform: Affine, rows: list[int], col: int) -> np.ndarray:
    """Geodesic area (m2) of the pixel at ``col`` on each of ``rows``."""
    corners = [
        apply_transform(transform, c, r)
        for row in rows
        for c, r in ((col, row), (col + 1, row), (col + 1, row + 1), (col, row + 1))
    ]
    xs, ys = zip(*corners, strict=True)
    lons, lats = (
        (list(xs), list(ys))
        if crs.is_geographic
        else transform_points(crs, WGS84, list(xs), list(ys))
    )
    out = np.empty(len(rows))
    for k in range(len(rows)):
        out[k] = abs(
            GEOD.polygon_area_perimeter(lons[4 * k : 4 * k + 4], lats[4 * k : 4 * k + 4])[0]
        )
    return out
