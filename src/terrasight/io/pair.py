"""Put two images of one place on one grid: the before image's, over their overlap."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rasterio.windows import from_bounds as window_from_bounds

from terrasight.errors import BandSelectionError, PairAlignmentError
from terrasight.io.aoi import bbox_window, check_bbox
from terrasight.io.raster import RasterSource, common_name, open_raster, read_window


@dataclass(frozen=True)
class RasterPair:
    """Two images of one place, the after one to be resampled onto the before grid.

    ``region`` is the window of the before grid covered by both images; all
    processing and every output happens on it.
    """

    before: RasterSource
    after: RasterSource
    region: Window
    same_grid: bool
    resampling: Resampling = Resampling.bilinear
    bbox: tuple[float, float, float, float] | None = None
    """The area of interest (west, south, east, north in WGS84) that ``region`` covers."""
    match_detail: bool = False
    """Bring the finer date to the coarser date's detail (see :func:`open_pair`)."""

    @property
    def degrade_before(self) -> bool:
        """Whether the before date is read through the after date's coarser pixels."""
        return (
            self.match_detail
            and not self.same_grid
            and pixel_ratio(self.before, self.after) >= COARSER_RATIO
        )

    @property
    def band_names(self) -> tuple[str, ...]:
        """Common names (``red``, ``nir``...) of the selected bands of the before image."""
        return tuple(common_name(self.before.band_names[b - 1]) for b in self.before.bands)

    @property
    def transform(self):
        """Affine transform of the region (the output grid)."""
        return rasterio.windows.transform(self.region, self.before.transform)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.region.height), int(self.region.width))

    @property
    def warnings(self) -> tuple[str, ...]:
        notes = list(self.before.warnings) + list(self.after.warnings)
        if not self.same_grid:
            notes.append(
                f"after image {self.after.given_name} was resampled onto the grid of "
                f"{self.before.given_name} ({self.resampling.name})."
            )
            ratio = pixel_ratio(self.before, self.after)
            if ratio >= COARSER_RATIO or ratio <= 1 / COARSER_RATIO:
                fine, coarse = (self.before, self.after) if ratio > 1 else (self.after, self.before)
                big = max(ratio, 1 / ratio)
                if self.match_detail:
                    notes.append(
                        f"{coarse.name} has pixels {big:.1f} times as large as {fine.name}: "
                        f"{fine.name} was averaged to them (and back onto the output grid) so "
                        "that both dates are compared at the same detail."
                    )
                else:
                    notes.append(
                        f"{coarse.name} has pixels {big:.1f} times as large as {fine.name}: "
                        "sharp edges and bright surfaces look different at the two sizes and "
                        f"may show as change; for a cleaner comparison resample {fine.name} "
                        "to the coarser pixels first (gdalwarp -tr ... -r average)."
                    )
        full = self.before.width * self.before.height
        if self.bbox is not None:
            notes.append(
                f"outputs cover the area of interest {_fmt(self.bbox)}: {self.shape[1]}x"
                f"{self.shape[0]} of {self.before.width}x{self.before.height} before pixels."
            )
        elif self.shape[0] * self.shape[1] < full:
            notes.append(
                f"the images overlap on {self.shape[1]}x{self.shape[0]} of "
                f"{self.before.width}x{self.before.height} before pixels; outputs cover the overlap."
            )
        return tuple(notes)

    @contextlib.contextmanager
    def readers(self) -> Iterator[PairReader]:
        """Open one pair of read handles (one per thread)."""
        with contextlib.ExitStack() as stack:
            b = stack.enter_context(self.before.open())
            a = stack.enter_context(self.after.open())
            if self.degrade_before:
                b = stack.enter_context(self._through_after_pixels(b))
            if not self.same_grid:
                a = stack.enter_context(
                    _onto(
                        a,
                        self.before,
                        self.resampling,
                        self.after.nodata,
                        self.after.nodata is None,
                    )
                )
            yield PairReader(self, b, a)

    @contextlib.contextmanager
    def _through_after_pixels(self, b: rasterio.io.DatasetReader) -> Iterator[WarpedVRT]:
        """The before date averaged onto the after date's pixels and warped back onto its grid."""
        nodata = self.before.nodata
        with (
            _onto(b, self.after, Resampling.average, nodata) as coarse,
            _onto(coarse, self.before, self.resampling, nodata) as back,
        ):
            yield back


def _onto(
    ds: rasterio.io.DatasetReader | WarpedVRT,
    grid: RasterSource,
    resampling: Resampling,
    nodata: float | None,
    alpha: bool = False,
) -> WarpedVRT:
    """``ds`` warped onto ``grid``'s CRS, transform and size."""
    return WarpedVRT(
        ds,
        crs=grid.crs,
        transform=grid.transform,
        width=grid.width,
        height=grid.height,
        resampling=resampling,
        src_nodata=nodata,
        nodata=nodata,
        add_alpha=alpha,
    )


@dataclass
class PairReader:
    """Reads the same window of both dates; not thread-safe (open one per thread)."""

    pair: RasterPair
    before_ds: rasterio.io.DatasetReader
    after_ds: rasterio.io.DatasetReader | WarpedVRT

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(before, after, valid)``: float32 ``(bands, h, w)`` twice and a bool mask."""
        b, a, vb, va = self.read_dates(window)
        return b, a, vb & va

    def read_dates(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(before, after, valid_before, valid_after)`` for ``window`` of the before grid."""
        p = self.pair
        b, vb = read_window(
            self.before_ds,
            p.before.bands,
            window,
            p.before.nodata,
            p.before.has_mask,
        )
        warped_alpha = not p.same_grid and p.after.nodata is None
        a, va = read_window(
            self.after_ds, p.after.bands, window, p.after.nodata, p.after.has_mask or warped_alpha
        )
        return b, a, vb, va


COARSER_RATIO = 1.5
"""Pixel sizes this many times apart get a warning (the finer date shows detail the other lacks)."""


def pixel_ratio(b: RasterSource, a: RasterSource) -> float:
    """How many times larger ``a``'s pixels are than ``b``'s (side, in ``b``'s CRS units).

    Example:
        >>> pixel_ratio(open_raster("10m.tif"), open_raster("20m.tif"))  # doctest: +SKIP
        2.0
    """
    if b.crs is None or a.crs is None:
        return 1.0
    try:
        west, south, east, north = transform_bounds(a.crs, b.crs, *a.bounds)
    except Exception:  # noqa: BLE001 - a footprint that cannot be projected: no ratio to tell
        return 1.0
    side_a = math.sqrt(abs((east - west) * (north - south)) / max(a.width * a.height, 1))
    side_b = math.sqrt(b.res[0] * b.res[1])
    return side_a / side_b if side_b > 0 else 1.0


def _same_grid(b: RasterSource, a: RasterSource) -> bool:
    return (
        b.width == a.width
        and b.height == a.height
        and b.crs == a.crs
        and b.transform.almost_equals(a.transform, precision=1e-9 * max(b.res))
    )


def _overlap_window(b: RasterSource, a: RasterSource) -> Window:
    """Window of the before grid that the after image also covers."""
    try:
        ab = transform_bounds(a.crs, b.crs, *a.bounds, densify_pts=21)
    except Exception as exc:  # noqa: BLE001 - GDAL raises several types here
        raise PairAlignmentError(
            f"cannot transform the bounds of {a.path} ({a.crs}) into the CRS of {b.path} "
            f"({b.crs}): {exc}"
        ) from None
    bb = b.bounds
    west, south = max(bb[0], ab[0]), max(bb[1], ab[1])
    east, north = min(bb[2], ab[2]), min(bb[3], ab[3])
    if not (east > west and north > south):
        raise PairAlignmentError(
            f"{a.path} and {b.path} do not overlap: the before image covers {_fmt(bb)} and the "
            f"after image {_fmt(ab)} (in {b.crs}). Check that both show the same place."
        )
    win = window_from_bounds(west, south, east, north, b.transform)
    col0, row0 = max(0, math.floor(win.col_off + 1e-6)), max(0, math.floor(win.row_off + 1e-6))
    col1 = min(b.width, math.ceil(win.col_off + win.width - 1e-6))
    row1 = min(b.height, math.ceil(win.row_off + win.height - 1e-6))
    if col1 - col0 < 1 or row1 - row0 < 1:
        raise PairAlignmentError(f"{a.path} and {b.path} overlap by less than one pixel.")
    return Window(col0, row0, col1 - col0, row1 - row0)


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


def open_pair(
    before: str | Path,
    after: str | Path,
    bands: Sequence[int | str] | None = None,
    after_bands: Sequence[int | str] | None = None,
    nodata: float | None = None,
    resampling: str = "bilinear",
    bbox: Sequence[float] | None = None,
    match_detail: bool = False,
) -> RasterPair:
    """Open two images of one place and work out the grid to compare them on.

    Same grid: used as is. Different CRS, resolution or extent: the after image is
    resampled onto the before grid over the overlap. Images without a CRS must
    have the same size and are compared pixel by pixel.

    Args:
        before, after: raster files, URLs (``https://``, ``s3://``, ``gs://``) or ``/vsi`` paths.
        bands: bands (1-based numbers or names) to use from both images.
        after_bands: bands of the after image when they differ from ``bands``.
        nodata: nodata value overriding the files' own.
        resampling: rasterio resampling name for the after image.
        bbox: an area of interest ``(west, south, east, north)`` in WGS84 degrees: the
            region shrinks to the before pixels covering it, and only those are read.
        match_detail: where the after image's pixels are at least 1.5 times as large, read
            the before image averaged onto them and warped back (the after image's own
            path onto the grid), so that the finer date's edges are not taken for change;
            where the after image is the finer one, it is resampled with ``average``
            instead of ``resampling``.

    Raises:
        RasterReadError, InvalidRasterError, BandSelectionError, PairAlignmentError,
        InvalidOptionError (a malformed ``bbox``).

    Example:
        >>> pair = open_pair("2019.tif", "2024.tif", bands=["red", "green", "blue"])  # doctest: +SKIP
        >>> pair.region  # doctest: +SKIP
        >>> open_pair("https://h/2019.tif", "https://h/2024.tif", bbox=(15.1, 45.2, 15.2, 45.3))  # doctest: +SKIP
    """
    b = open_raster(before, bands, nodata, role="before image")
    a = open_raster(after, after_bands if after_bands is not None else bands, nodata, "after image")
    if len(b.bands) != len(a.bands):
        raise BandSelectionError(
            f"the before image {b.path} has {len(b.bands)} bands selected and the after image "
            f"{a.path} has {len(a.bands)}; choose the same bands in both, e.g. --bands "
            + ",".join(str(i) for i in range(1, min(len(b.bands), len(a.bands)) + 1))
            + "."
        )
    if (b.crs is None) != (a.crs is None):
        plain = b if b.crs is None else a
        raise PairAlignmentError(
            f"{plain.path} has no CRS but the other image has one; give both images a CRS "
            "(e.g. gdal_edit.py -a_srs) or neither."
        )
    if b.crs is None:
        if (b.width, b.height) != (a.width, a.height):
            raise PairAlignmentError(
                f"images without a CRS must have the same size: {b.path} is {b.width}x{b.height}, "
                f"{a.path} is {a.width}x{a.height}. Georeference them or crop them to one size."
            )
        if bbox is not None:
            raise PairAlignmentError(
                f"an area of interest (bbox) needs georeferenced images; {b.path} has no CRS."
            )
        return RasterPair(b, a, Window(0, 0, b.width, b.height), same_grid=True)
    same = _same_grid(b, a)
    region = Window(0, 0, b.width, b.height) if same else _overlap_window(b, a)
    if match_detail and not same and pixel_ratio(b, a) <= 1 / COARSER_RATIO:
        resampling = "average"  # the finer after date averaged onto the before pixels
    try:
        resamp = Resampling[resampling]
    except KeyError:
        raise PairAlignmentError(
            f"unknown resampling {resampling!r}; use one of nearest, bilinear, cubic, average."
        ) from None
    box = None
    if bbox is not None:
        box = check_bbox(bbox)
        region = bbox_window(b, box, region)
    return RasterPair(
        b, a, region, same_grid=same, resampling=resamp, bbox=box, match_detail=match_detail
    )
