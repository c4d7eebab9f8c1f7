"""Change objects of a series: connected pixels with one change date, window by window.

For each date with changed pixels, a mask of the pixels first seen changed at
that date goes through the change job's object tracer
(:func:`terrasight.tasks.change.objects.extract.extract_objects`: tiles, small objects
dropped, polygons). The final ``change_date.tif`` and ``change_interval.tif``
keep only the pixels of the objects that passed the size filter.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

from terrasight.io.tiling import TileGrid
from terrasight.tasks.change.objects.extract import extract_objects
from terrasight.tasks.change.result import ChangeObject
from terrasight.tasks.series.dating import NONE

WORK_DIR = ".series-objects"
_TILE = 1024


@dataclass(frozen=True)
class Grid:
    """The output grid: size, CRS (WKT or None) and transform."""

    width: int
    height: int
    crs: str | None
    transform: Affine

    def tiles(self) -> TileGrid:
        return TileGrid(Window(0, 0, self.width, self.height), _TILE)


@dataclass(frozen=True)
class DatedObject:
    """A traced object with the date indexes its pixels carry."""

    obj: ChangeObject
    first_seen: int
    last_unchanged: int | None
    confirmations: int


def dated_objects(
    date_part: Path,
    interval_part: Path,
    final: tuple[Path, Path],
    grid: Grid,
    dates_present: list[int],
    min_pixels: int,
    workers: int,
) -> tuple[list[DatedObject], list[int]]:
    """Trace the objects of each date and write the final rasters keeping only their pixels.

    Args:
        date_part, interval_part: the rasters as the windows wrote them.
        final: paths of the final change-date and change-interval rasters.
        grid: the output grid.
        dates_present: date indexes with at least one changed pixel.
        min_pixels: smallest object kept.
        workers: processes tracing objects.

    Returns:
        The objects (unsorted) and, per date index, the changed pixels kept.

    Example:
        >>> found, kept = dated_objects(date_part, interval_part, finals, grid, [2, 4], 20, 1)  # doctest: +SKIP
    """
    work = date_part.parent / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        prob = work / "dated.tif"
        _write_layers(date_part, interval_part, grid, work, prob, dates_present)
        found: list[DatedObject] = []
        for k in dates_present:
            mask = work / f"mask_{k}.tif"
            objects, _ = extract_objects(
                mask, prob, min_pixels, grid.crs, grid.transform, workers=workers,
                store_path=work / f"objects_{k}.jsonl",
            )  # fmt: skip
            with rasterio.open(date_part) as ds, rasterio.open(interval_part) as iv:
                found.extend(_dated(obj, k, ds, iv) for obj in objects)
        kept = _write_final(date_part, interval_part, final, grid, work, dates_present)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found, kept


def _profile(grid: Grid, dtype: str, nodata: float, count: int = 1) -> dict:
    profile = dict(
        driver="GTiff", width=grid.width, height=grid.height, count=count, dtype=dtype,
        nodata=nodata, tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    )  # fmt: skip
    if grid.crs is not None:
        profile.update(crs=grid.crs, transform=grid.transform)
    return profile


def _write_layers(
    date_part: Path, interval_part: Path, grid: Grid, work: Path, prob: Path, dates: list[int]
) -> None:
    """One uint8 mask per date (1 first seen then, 0 observed, 255 never clear) and a 0/1 layer."""
    masks = {k: work / f"mask_{k}.tif" for k in dates}
    outs = {k: rasterio.open(p, "w", **_profile(grid, "uint8", 255)) for k, p in masks.items()}
    try:
        with (
            rasterio.open(prob, "w", **_profile(grid, "float32", float("nan"))) as p,
            rasterio.open(date_part) as ds,
            rasterio.open(interval_part) as iv,
        ):
            for tile in grid.tiles():
                date = ds.read(1, window=tile.core)
                seen = iv.read(2, window=tile.core) > 0
                p.write(np.where(seen, (date != NONE).astype(np.float32), np.nan), 1,
                        window=tile.core)  # fmt: skip
                for k, out in outs.items():
                    m = np.where(seen, (date == k).astype(np.uint8), 255).astype(np.uint8)
                    out.write(m, 1, window=tile.core)
    finally:
        for out in outs.values():
            out.close()


def _dated(
    obj: ChangeObject, k: int, date: rasterio.io.DatasetReader, interval: rasterio.io.DatasetReader
) -> DatedObject:
    """The object's last unchanged date (the most common over its box) and confirmations."""
    c0, r0, c1, r1 = obj.pixel_bbox
    window = Window(c0, r0, c1 - c0, r1 - r0)
    last = interval.read(1, window=window)
    confirm = interval.read(3, window=window)
    mine = date.read(1, window=window) == k  # the box's pixels first seen at this date
    values = last[mine & (last != NONE)]
    before = int(np.bincount(values.astype(np.int64)).argmax()) if values.size else None
    count = int(np.median(confirm[mine])) if mine.any() else 1
    return DatedObject(obj, k, before, count)


def _write_final(
    date_part: Path,
    interval_part: Path,
    final: tuple[Path, Path],
    grid: Grid,
    work: Path,
    dates: list[int],
) -> list[int]:
    """The final rasters: change pixels outside kept objects set to none; kept pixels per date."""
    kept = [0] * (max(dates) + 1 if dates else 0)
    parts = [Path(str(p) + ".part") for p in final]
    masks = [rasterio.open(work / f"mask_{k}.tif") for k in dates]
    try:
        with (
            rasterio.open(date_part) as ds,
            rasterio.open(interval_part) as iv,
            rasterio.open(parts[0], "w", **{**ds.profile, "driver": "GTiff"}) as out_date,
            rasterio.open(parts[1], "w", **{**iv.profile, "driver": "GTiff"}) as out_iv,
        ):
            out_date.update_tags(**ds.tags())
            out_date.descriptions = ds.descriptions
            out_iv.descriptions = iv.descriptions
            for tile in grid.tiles():
                date = ds.read(1, window=tile.core)
                bands = iv.read(window=tile.core)
                keep = np.zeros(date.shape, bool)
                for k, m in zip(dates, masks, strict=True):
                    here = (date == k) & (m.read(1, window=tile.core) == 1)
                    kept[k] += int(here.sum())
                    keep |= here
                date = np.where(keep, date, NONE).astype(np.int16)
                bands[0][~keep] = NONE
                bands[2][~keep] = NONE
                out_date.write(date, 1, window=tile.core)
                out_iv.write(bands, window=tile.core)
    finally:
        for m in masks:
            m.close()
    for part, path in zip(parts, final, strict=True):
        part.replace(path)
    return kept
