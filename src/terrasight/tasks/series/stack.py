"""N images of one place on one grid: the first (earliest) image's, read window by window.

Each later image is paired with the first one by :func:`terrasight.io.open_pair`
(resampled onto its grid when the grids differ); the series covers the first
image's grid, or the part of it inside an area of interest. Pixels that a date
does not cover, or where it has nodata, are "no observation" for that date.

A :class:`StackReader` holds one open handle per date and reads one window of
every date at a time, so memory grows with the window and the number of
dates, never with the scene.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from terrasight.errors import SeriesInputError
from terrasight.io.aoi import bbox_window, check_bbox
from terrasight.io.pair import PairReader, RasterPair, open_pair
from terrasight.io.raster import RasterSource, common_name, open_raster, read_window
from terrasight.io.remote import source_name
from terrasight.io.tiling import TileGrid
from terrasight.tasks.series.dates import resolve_dates

MIN_DATES = 3
"""Fewest images a series takes (two dates are a change job: ``terrasight change``)."""


@dataclass(frozen=True)
class SeriesStack:
    """The dates of a series, sorted, each paired with the first image on its grid.

    Attributes:
        dates: acquisition dates, ascending.
        pairs: ``pairs[k]`` puts date ``k`` (its ``after``) on the first image's grid;
            ``pairs[0]`` pairs the first image with the second (its ``before`` is date 0).
        region: the window of the first image's grid that the series covers.
    """

    dates: tuple[dt.date, ...]
    pairs: tuple[RasterPair, ...]
    region: Window

    @property
    def first(self) -> RasterSource:
        return self.pairs[0].before

    def source(self, k: int) -> RasterSource:
        """Date ``k``'s raster."""
        return self.pairs[k].before if k == 0 else self.pairs[k].after

    @property
    def names(self) -> tuple[str, ...]:
        """Each date's file name as given (a URL's, an Item's: not a download's or a VRT's)."""
        return tuple(self.source(k).given_name for k in range(len(self)))

    @property
    def band_names(self) -> tuple[str, ...]:
        src = self.first
        return tuple(common_name(src.band_names[b - 1]) for b in src.bands)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.region.height), int(self.region.width))

    @property
    def transform(self):
        """Affine transform of the output grid."""
        return self.pairs[0].transform

    def __len__(self) -> int:
        return len(self.dates)

    @contextlib.contextmanager
    def readers(self) -> Iterator[StackReader]:
        """One read handle per date (open one reader per thread)."""
        with contextlib.ExitStack() as stack:
            handles = [stack.enter_context(p.readers()) for p in self.pairs]
            yield StackReader(self, handles)

    def warnings(self) -> tuple[str, ...]:
        """Notes about the inputs: no CRS, dates resampled onto the first grid."""
        notes, names = list(self.first.warnings), self.names
        for k in range(1, len(self)):
            pair = self.pairs[k]
            notes.extend(w for w in pair.after.warnings if w not in notes)
            if not pair.same_grid:
                notes.append(
                    f"{names[k]} was resampled onto the grid of {names[0]} "
                    f"({pair.resampling.name})."
                )
        return tuple(notes)


@dataclass
class StackReader:
    """Reads the same window of every date; not thread-safe (open one per thread)."""

    stack: SeriesStack
    handles: list[PairReader]

    def read_date(self, k: int, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Date ``k`` in ``window`` of the first grid: float32 ``(bands, h, w)`` and valid ``(h, w)``."""
        reader = self.handles[k]
        pair = reader.pair
        if k == 0:
            src, ds = pair.before, reader.before_ds
            return read_window(ds, src.bands, window, src.nodata, src.has_mask)
        src = pair.after
        alpha = not pair.same_grid and src.nodata is None
        return read_window(reader.after_ds, src.bands, window, src.nodata, src.has_mask or alpha)


def open_stack(
    images: Sequence[str | Path],
    dates: Sequence[dt.date] | None = None,
    bands: Sequence[int | str] | None = None,
    nodata: float | None = None,
    resampling: str = "bilinear",
    bbox: Sequence[float] | None = None,
) -> SeriesStack:
    """Open the images of a series, date them, sort them and put them on the first one's grid.

    Args:
        images: raster files or URLs, in any order.
        dates: one date per image (in the order of ``images``); read from each
            file's tags or name when None (see :mod:`terrasight.tasks.series.dates`).
        bands: bands (numbers from 1 or names) used from every image.
        nodata: a nodata value overriding the files' own.
        resampling: how images on another grid are resampled onto the first one's.
        bbox: an area of interest ``(west, south, east, north)`` in WGS84 degrees.

    Raises:
        SeriesInputError: fewer than :data:`MIN_DATES` images.
        SeriesDateError: a missing or repeated date.
        PairAlignmentError: an image that does not overlap the first one.
        RasterReadError, BandSelectionError, InvalidRasterError: as for a pair.

    Example:
        >>> stack = open_stack(["2019-06-01.tif", "2020-06-01.tif", "2021-06-01.tif"])  # doctest: +SKIP
        >>> [d.isoformat() for d in stack.dates]  # doctest: +SKIP
        ['2019-06-01', '2020-06-01', '2021-06-01']
    """
    if len(images) < MIN_DATES:
        raise SeriesInputError(
            f"a series needs at least {MIN_DATES} images, got {len(images)}; compare two dates "
            "with terrasight change."
        )
    sources = [open_raster(p, bands, nodata, role=f"image {i + 1}") for i, p in enumerate(images)]
    when = resolve_dates(images, [_tags(s) for s in sources], dates)
    order = sorted(range(len(images)), key=lambda i: when[i])
    paths = [images[i] for i in order]
    first = sources[order[0]]
    region = Window(0, 0, first.width, first.height)
    if bbox is not None:
        region = bbox_window(first, check_bbox(bbox), region)
    pairs = []
    for k in range(len(paths)):
        other = paths[1] if k == 0 else paths[k]
        pair = open_pair(paths[0], other, bands, None, nodata, resampling)
        pairs.append(dataclasses.replace(pair, region=region, bbox=None))
    return SeriesStack(tuple(when[i] for i in order), tuple(pairs), region)


def _tags(source: RasterSource) -> dict[str, str]:
    """The dataset's tags (default domain), read with its network settings; a STAC Item's
    ``datetime`` as ``datetime`` (so an Item is dated by its acquisition)."""
    with source.open() as ds:
        tags = dict(ds.tags())
    if source.scene is not None and source.scene.datetime is not None:
        tags.setdefault("datetime", source.scene.datetime.isoformat())
    return tags


def empty_dates(stack: SeriesStack, windows: int = 64, size: int = 256) -> list[int]:
    """Dates with no valid pixel in up to ``windows`` windows spread over the region.

    Example:
        >>> empty_dates(stack)  # doctest: +SKIP
        [3]
    """
    tiles = TileGrid(stack.region, size).sample(windows)
    empty = []
    with stack.readers() as reader:
        for k in range(len(stack)):
            if not any(reader.read_date(k, t.read)[1].any() for t in tiles):
                empty.append(k)
    return empty


def describe_dates(stack: SeriesStack) -> list[str]:
    """One ``"YYYY-MM-DD name"`` line per date (for messages).

    Example:
        >>> describe_dates(stack)[0]  # doctest: +SKIP
        '2019-06-01 s2_2019-06-01.tif'
    """
    return [
        f"{d.isoformat()} {source_name(n)}" for d, n in zip(stack.dates, stack.names, strict=True)
    ]
