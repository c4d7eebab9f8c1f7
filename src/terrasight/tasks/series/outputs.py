"""The files of a series job: rasters written by windows, objects, ``series.json``, GeoJSON.

``change_date.tif`` (int16) holds each pixel's change date as an index into
the series' dates (tag ``TERRASIGHT_DATES``: the dates, comma-separated, in
index order), -1 where the pixel never changed. ``change_interval.tif`` holds
three int16 bands: ``last_unchanged`` (index of the last clear date before the
change, -1 where none), ``clear_dates`` (clear observations of the pixel) and
``confirmations`` (clear dates from the change on that show it, -1 where none).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from rasterio.windows import Window

from terrasight.io.vectors import VectorFeature, features_to_geojson, pixel_area, write_geojson
from terrasight.tasks.change.output.vectors import write_json
from terrasight.tasks.series.dating import NONE
from terrasight.tasks.series.objects import DatedObject, Grid, dated_objects
from terrasight.tasks.series.result import (
    DATE_TIF,
    INTERVAL_TIF,
    OBJECTS_GEOJSON,
    SERIES_JSON,
    SeriesObject,
    SeriesResult,
)

if TYPE_CHECKING:
    from terrasight.tasks.series.options import SeriesOptions
    from terrasight.tasks.series.stack import SeriesStack

DATES_TAG = "TERRASIGHT_DATES"
"""Tag of ``change_date.tif`` listing the dates its values index."""
LOW_CLEAR = 0.5
"""A date observing less than this share of the grid clear is named in the warnings."""


def create_parts(stack: SeriesStack, parts: tuple[Path, Path]) -> None:
    """Create the empty part files of the change date (1 band) and interval (3 bands).

    Example:
        >>> create_parts(stack, (Path("d.part.tif"), Path("i.part.tif")))  # doctest: +SKIP
    """
    h, w = stack.shape
    profile: dict[str, Any] = dict(
        driver="GTiff", width=w, height=h, dtype="int16", nodata=NONE, tiled=True,
        blockxsize=256, blockysize=256, compress="deflate", BIGTIFF="IF_SAFER",
    )  # fmt: skip
    if stack.first.crs is not None:
        profile.update(crs=stack.first.crs, transform=stack.transform)
    dates = ",".join(d.isoformat() for d in stack.dates)
    with rasterio.open(parts[0], "w", count=1, **profile) as ds:
        ds.update_tags(**{DATES_TAG: dates})
        ds.descriptions = ("change_date",)
    with rasterio.open(parts[1], "w", count=3, **profile) as ds:
        ds.update_tags(**{DATES_TAG: dates})
        ds.descriptions = ("last_unchanged", "clear_dates", "confirmations")


def write_window(
    parts: tuple[Path, Path], window: Window, date: np.ndarray, interval: np.ndarray
) -> None:
    """Write one window's change date ``(h, w)`` and interval bands ``(3, h, w)``.

    Example:
        >>> write_window(parts, Window(0, 0, 256, 256), date, interval)  # doctest: +SKIP
    """
    with rasterio.open(parts[0], "r+") as ds:
        ds.write(date.astype(np.int16), 1, window=window)
    with rasterio.open(parts[1], "r+") as ds:
        ds.write(interval.astype(np.int16), window=window)


def _sums(records: list[dict[str, Any]], key: str, n: int) -> list[int]:
    total = [0] * n
    for rec in records:
        for k, v in enumerate(rec.get(key, ())):
            total[k] += int(v)
    return total


def finish(
    stack: SeriesStack,
    method: str,
    opts: SeriesOptions,
    folder: Path,
    parts: tuple[Path, Path],
    records: list[dict[str, Any]],
    empty: list[int],
    notes: list[str],
    cloud_check: tuple[str, ...] = (),
    named: SeriesStack | None = None,
) -> SeriesResult:
    """Trace the objects, write the final rasters, ``series.json`` and the GeoJSON.

    ``named`` is the stack as given (URLs) when ``stack`` reads local copies of it: the
    result and its warnings name its images.

    Returns:
        The job's :class:`SeriesResult`.

    Example:
        >>> result = finish(stack, "cva", SeriesOptions(), folder, parts, records, [], [])  # doctest: +SKIP
    """
    n = len(stack)
    named = named or stack
    crs = stack.first.crs.to_wkt() if stack.first.crs is not None else None
    h, w = stack.shape
    grid = Grid(w, h, crs, stack.transform)
    present = [k for k, v in enumerate(_sums(records, "dated", n)) if v > 0]
    found, kept = dated_objects(
        parts[0], parts[1], (folder / DATE_TIF, folder / INTERVAL_TIF), grid, present,
        opts.min_pixels, opts.workers,
    )  # fmt: skip
    area, unit = pixel_area(crs, stack.transform, shape=stack.shape)
    iso = [d.isoformat() for d in stack.dates]
    objects = _series_objects(found, iso, crs)
    total = max(1, h * w)
    clear = [c / total for c in _sums(records, "clear", n)]
    cloud = [c / total for c in _sums(records, "cloud", n)]
    kept += [0] * (n - len(kept))
    timeline = tuple(
        {
            "date": iso[k],
            "previous": iso[k - 1],
            "changed_pixels": kept[k],
            "changed_area": kept[k] * area,
            "objects": sum(1 for o in objects if o.first_seen_index == k),
        }
        for k in range(1, n)
    )
    result = SeriesResult(
        method=method,
        images=tuple(str(named.source(k).given) for k in range(n)),
        dates=tuple(iso),
        folder=folder,
        crs=crs,
        transform=tuple(stack.transform)[:6],
        width=w,
        height=h,
        clear_share=tuple(round(c, 6) for c in clear),
        cloud_share=tuple(round(c, 6) for c in cloud),
        timeline=timeline,
        objects=tuple(objects),
        pixel_area=area,
        area_unit=unit,
        warnings=tuple(_warnings(named, empty, clear, notes)),
        cloud_check=cloud_check,
        params={"confirm": opts.confirm, "min_pixels": opts.min_pixels, "pairs": n * (n - 1) // 2},
    )
    write_geojson(folder / OBJECTS_GEOJSON, objects_geojson(result))
    write_json(folder / SERIES_JSON, result.summary())
    return result


def _series_objects(
    found: list[DatedObject], iso: list[str], crs: str | None
) -> list[SeriesObject]:
    """Objects sorted by area (ids from 1), their geometries in WGS84."""
    found = sorted(found, key=lambda d: (-d.obj.area, d.first_seen, d.obj.pixel_bbox))
    features = [VectorFeature(d.obj.geometry, {}, id=i + 1) for i, d in enumerate(found)]
    wgs84 = features_to_geojson(features, crs)["features"]
    out = []
    for i, (d, feature) in enumerate(zip(found, wgs84, strict=True)):
        o = d.obj
        out.append(
            SeriesObject(
                id=i + 1,
                first_seen=iso[d.first_seen],
                last_unchanged=iso[d.last_unchanged] if d.last_unchanged is not None else None,
                first_seen_index=d.first_seen,
                last_unchanged_index=d.last_unchanged,
                pixels=o.pixels,
                area=o.area,
                area_unit=o.area_unit,
                confirmations=d.confirmations,
                location=o.location,
                centroid_lonlat=o.centroid_lonlat,
                bbox_wgs84=o.bbox_wgs84,
                pixel_bbox=o.pixel_bbox,
                geometry=feature["geometry"],
            )
        )
    return out


def objects_geojson(result: SeriesResult) -> dict[str, Any]:
    """The objects as a FeatureCollection (geometries already in WGS84), dates as properties.

    Example:
        >>> objects_geojson(result)["features"][0]["properties"]["first_seen"]  # doctest: +SKIP
        '2020-06-01'
    """
    return {
        "type": "FeatureCollection",
        "terrasight:dates": list(result.dates),
        "features": [
            {"type": "Feature", "id": o.id, "geometry": o.geometry, "properties": o.to_dict()}
            for o in result.objects
        ],
    }


def _warnings(
    stack: SeriesStack, empty: list[int], clear: list[float], notes: list[str]
) -> list[str]:
    out = list(stack.warnings())
    for k in empty:
        out.append(
            f"{stack.dates[k].isoformat()} ({stack.names[k]}) has no data over the area: "
            "it is no observation anywhere."
        )
    for k, share in enumerate(clear):
        if k not in empty and share < LOW_CLEAR:
            out.append(
                f"{stack.dates[k].isoformat()} ({stack.names[k]}) is clear on only "
                f"{100 * share:.0f}% of the area (cloud or nodata elsewhere)."
            )
    out.extend(n for n in notes if n not in out)
    return out


def write_report(result: SeriesResult, stack: SeriesStack) -> Path:
    """Write ``report.html`` into the result's folder (see :mod:`~terrasight.tasks.series.report`)."""
    from terrasight.tasks.series.report import write_series_report

    return write_series_report(result, stack)
