"""An area of interest: a WGS84 box ``(west, south, east, north)`` turned into a window."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rasterio.windows import from_bounds as window_from_bounds

from terrasight.errors import InvalidOptionError, PairAlignmentError
from terrasight.io.raster import RasterSource

BBox = tuple[float, float, float, float]


def parse_bbox(text: str) -> BBox:
    """A box from ``"W,S,E,N"`` (commas or spaces), checked.

    Raises:
        InvalidOptionError: not four numbers, or not a box of longitudes and latitudes.

    Example:
        >>> parse_bbox("15.1,45.2,15.2,45.3")
        (15.1, 45.2, 15.2, 45.3)
    """
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise InvalidOptionError(
            f"bbox {text!r} must be four numbers W,S,E,N in degrees (WGS84), "
            "e.g. --bbox 15.10,45.20,15.25,45.30."
        )
    return check_bbox(values)


def check_bbox(bbox: Sequence[float]) -> BBox:
    """The box as a tuple of floats when it is a valid WGS84 ``(west, south, east, north)``.

    Raises:
        InvalidOptionError: naming what is wrong with it.

    Example:
        >>> check_bbox([10, 40, 11, 41])
        (10.0, 40.0, 11.0, 41.0)
        >>> check_bbox([11, 40, 10, 41])
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: bbox (11, 40, 10, 41): west must be less than east and south less than north (W,S,E,N in WGS84 degrees).
    """
    shown = "(" + ", ".join(str(v) for v in bbox) + ")" if _sequence(bbox) else repr(bbox)
    if not _sequence(bbox) or len(bbox) != 4:
        raise InvalidOptionError(f"bbox {shown} must be four numbers W,S,E,N in WGS84 degrees.")
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"bbox {shown} must be four numbers W,S,E,N.") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise InvalidOptionError(f"bbox {shown} must be four finite numbers.")
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise InvalidOptionError(
            f"bbox {shown} is not in degrees: longitudes go from -180 to 180 and latitudes "
            "from -90 to 90 (W,S,E,N in WGS84)."
        )
    if not (w < e and s < n):
        raise InvalidOptionError(
            f"bbox {shown}: west must be less than east and south less than north "
            "(W,S,E,N in WGS84 degrees)."
        )
    return (w, s, e, n)


def _sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def bbox_window(source: RasterSource, bbox: BBox, within: Window | None = None) -> Window:
    """The window of ``source``'s grid covering ``bbox``, cut to ``within`` (whole pixels).

    Raises:
        PairAlignmentError: the image has no CRS, or the box does not meet ``within``.

    Example:
        >>> bbox_window(open_raster("scene.tif"), (15.1, 45.2, 15.2, 45.3))  # doctest: +SKIP
        Window(col_off=512, row_off=300, width=790, height=1113)
    """
    if source.crs is None:
        raise PairAlignmentError(
            f"an area of interest (bbox) needs a georeferenced image; {source.given} has no CRS."
        )
    within = within or Window(0, 0, source.width, source.height)
    west, south, east, north = transform_bounds("EPSG:4326", source.crs, *bbox, densify_pts=21)
    win = window_from_bounds(west, south, east, north, source.transform)
    col0 = max(int(within.col_off), math.floor(win.col_off + 1e-6))
    row0 = max(int(within.row_off), math.floor(win.row_off + 1e-6))
    col1 = min(int(within.col_off + within.width), math.ceil(win.col_off + win.width - 1e-6))
    row1 = min(int(within.row_off + within.height), math.ceil(win.row_off + win.height - 1e-6))
    if col1 - col0 < 1 or row1 - row0 < 1:
        covered = transform_bounds(source.crs, "EPSG:4326", *source.bounds, densify_pts=21)
        raise PairAlignmentError(
            f"the area of interest {_fmt(bbox)} lies outside the images: {source.given} covers "
            f"{_fmt(covered)} (W,S,E,N in WGS84 degrees) and the images' overlap is inside it."
        )
    return Window(col0, row0, col1 - col0, row1 - row0)


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"
