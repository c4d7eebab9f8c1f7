"""The land-cover model run at a chosen ground pixel size: the image is resampled first.

The shipped land-cover network was trained on sub-metre to metre aerial images;
an image far finer (15 cm aerial) or coarser shows it objects at another size.
``landcover_at(metres)`` gives a land-cover callable (``fn(image, outdir)``, as
:func:`~terrasight.tasks.scene_ask.ask.ask_image` takes) that resamples the image to
``metres`` per pixel of ground (averaging when shrinking, bilinear when growing)
before classifying it; the map is then on that coarser or finer grid, with its
own transform, so areas stay right. Images already within 25 % of ``metres`` are
classified as they are. An image made finer than it was tells the land-cover run
its own pixel size (``content_metres``), so that rules made for coarse images
(:mod:`terrasight.tasks.landcover.coarse`) still see it at that size.

Example:
    >>> fn = landcover_at(0.5)
    >>> fn("aerial_15cm.tif", Path("out/landcover"))  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling

from terrasight.errors import InvalidOptionError
from terrasight.tasks.landcover import landcover
from terrasight.tasks.scene_ask.landcover_map import row_areas

TOLERANCE = 0.25
"""An image whose ground pixel is within this share of the target is not resampled."""
MAX_SIDE = 20_000
"""The resampled image may not be wider or taller than this (px)."""


def ground_metres(image: str | Path) -> float | None:
    """The side (m) of one pixel on the ground at the image's centre; None without a CRS.

    Example:
        >>> ground_metres("no_crs.png")  # doctest: +SKIP
    """
    with rasterio.open(image) as ds:
        if ds.crs is None:
            return None
        areas, unit = row_areas(ds.crs, ds.transform, (ds.height, ds.width))
    return float(np.sqrt(areas[len(areas) // 2])) if unit == "m2" else None


def landcover_at(metres: float) -> Callable[[Any, Path], Any]:
    """A land-cover callable that classifies the image resampled to ``metres`` per pixel.

    Raises:
        InvalidOptionError: ``metres`` is not positive.
    """
    if not metres > 0:
        raise InvalidOptionError(f"metres={metres}: give a positive ground pixel size in m.")

    def run(image: Any, outdir: Path) -> Any:
        size = ground_metres(image) if isinstance(image, (str, Path)) else None
        if size is None or abs(size / metres - 1) <= TOLERANCE:
            return landcover(image, outdir, report=False)
        with tempfile.TemporaryDirectory(prefix="terrasight-resampled-") as tmp:
            copy = resampled(Path(image), size / metres, Path(tmp) / "resampled.tif")
            content = {"content_metres": size} if size > metres else None
            return landcover(copy, outdir, report=False, options=content)

    return run


def resampled(image: Path, factor: float, out: Path) -> Path:
    """Write ``image`` scaled by ``factor`` (0.5: half as many pixels a side) to ``out``.

    Raises:
        InvalidOptionError: the result would be empty or wider than :data:`MAX_SIDE`.
    """
    with rasterio.open(image) as ds:
        height, width = round(ds.height * factor), round(ds.width * factor)
        if min(height, width) < 1 or max(height, width) > MAX_SIDE:
            raise InvalidOptionError(
                f"{image} scaled by {factor:.3g} would be {width} x {height} px; choose a "
                f"ground pixel size that keeps it between 1 and {MAX_SIDE} px a side."
            )
        how = Resampling.average if factor < 1 else Resampling.bilinear
        data = ds.read(out_shape=(ds.count, height, width), resampling=how)
        transform = ds.transform * ds.transform.scale(ds.width / width, ds.height / height)
        profile = {**ds.profile, "height": height, "width": width, "transform": transform,
                   "driver": "GTiff", "tiled": False}  # fmt: skip
        for key in ("blockxsize", "blockysize", "compress", "photometric"):
            profile.pop(key, None)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out
