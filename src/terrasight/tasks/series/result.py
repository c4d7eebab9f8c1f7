"""What a series job returns: :class:`SeriesResult` and its :class:`SeriesObject` s, plain data.

A result points at its rasters in its folder and carries the dates, each
date's clear share, the timeline (changed area first seen at each date) and
the change objects with their dates, as plain values. :func:`load_series`
reads a finished job's folder back (``series.json`` and
``series_objects.geojson``), so later tools can ask "when did it change?"
without running the job again.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from terrasight.errors import RasterReadError

SERIES_JSON = "series.json"
OBJECTS_GEOJSON = "series_objects.geojson"
DATE_TIF = "change_date.tif"
INTERVAL_TIF = "change_interval.tif"
DATE_NODATA = -1
"""Value of ``change_date.tif`` (and ``change_interval.tif``) where a pixel never changed."""


@dataclass(frozen=True)
class SeriesObject:
    """A changed region whose pixels were first seen changed at one date.

    Attributes:
        id: 1 for the largest object, then by decreasing area.
        first_seen: the first date at which it is changed (and stays changed), ISO.
        last_unchanged: the last clear date before it, ISO (None when none).
        first_seen_index, last_unchanged_index: the same as indexes into the dates.
        pixels, area, area_unit: its size (``"m2"``, or ``"px"`` without a CRS).
        confirmations: clear dates from ``first_seen`` on that show the change (median
            over its pixels).
        location: where it lies in the scene, in words (``"north-west"``).
        centroid_lonlat, bbox_wgs84: WGS84 (None without a CRS).
        pixel_bbox: ``(col0, row0, col1, row1)`` on the output grid, end exclusive.
        geometry: GeoJSON geometry in WGS84 (pixel coordinates without a CRS).
    """

    id: int
    first_seen: str
    last_unchanged: str | None
    first_seen_index: int
    last_unchanged_index: int | None
    pixels: int
    area: float
    area_unit: str
    confirmations: int
    location: str
    centroid_lonlat: tuple[float, float] | None
    bbox_wgs84: tuple[float, float, float, float] | None
    pixel_bbox: tuple[int, int, int, int]
    geometry: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Attributes without the geometry, JSON-ready."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "geometry"}

    def seen_between(self, start: str | dt.date, end: str | dt.date) -> bool:
        """Whether its change date lies in ``[start, end]`` (ISO strings or dates).

        Example:
            >>> obj.seen_between("2020-01-01", "2020-12-31")  # doctest: +SKIP
            True
        """
        return _iso(start) <= self.first_seen <= _iso(end)


def _iso(value: str | dt.date) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@dataclass(frozen=True)
class SeriesResult:
    """The answer to "when did each place change?" over a series of images.

    Attributes:
        method: the change method used between pairs of dates.
        images: the input images, in date order.
        dates: their dates (ISO), ascending.
        folder: the job folder holding the outputs.
        crs: output CRS as WKT (None in pixel space); transform, width, height: the grid.
        clear_share: per date, the share of the grid observed clear (0 for a missing date).
        cloud_share: per date, the share excluded as cloud or cloud shadow (0 where no cloud
            mask ran: see :attr:`cloud_check`).
        timeline: per date from the second on: ``{"date", "previous", "changed_pixels",
            "changed_area", "objects"}``: change first seen at that date.
        objects: the change objects, largest first.
        pixel_area, area_unit: ground area of one pixel.
        warnings: what the user should know (missing dates, clouds, resampling).
        params: the rule's settings (confirm, min_pixels, pairs compared).
        cloud_check: per date, ``"checked"`` where a cloud mask ran, else ``"not checked
            (why)"``: there :attr:`clear_share` is the share with data, not a cloud statistic
            (empty: a result saved before this was recorded).

    Example:
        >>> result = detect_series(["a_2019-06-01.tif", "b_2020-06-01.tif", "c_2021-06-01.tif"])  # doctest: +SKIP
        >>> [o.first_seen for o in result.objects]  # doctest: +SKIP
    """

    method: str
    images: tuple[str, ...]
    dates: tuple[str, ...]
    folder: Path
    crs: str | None
    transform: tuple[float, ...]
    width: int
    height: int
    clear_share: tuple[float, ...]
    cloud_share: tuple[float, ...]
    timeline: tuple[dict[str, Any], ...]
    objects: tuple[SeriesObject, ...]
    pixel_area: float
    area_unit: str
    warnings: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    cloud_check: tuple[str, ...] = ()

    def clouds_checked(self, k: int) -> bool:
        """Whether date ``k`` was masked for clouds (its cloud share a cloud statistic)."""
        return k < len(self.cloud_check) and self.cloud_check[k] == "checked"

    @property
    def change_date_path(self) -> Path:
        """int16 GeoTIFF: index into :attr:`dates` of each pixel's change date, -1 where none."""
        return self.folder / DATE_TIF

    @property
    def change_interval_path(self) -> Path:
        """int16 GeoTIFF: bands last_unchanged (index), clear_dates, confirmations."""
        return self.folder / INTERVAL_TIF

    @property
    def changed_pixels(self) -> int:
        return sum(int(t["changed_pixels"]) for t in self.timeline)

    @property
    def changed_area(self) -> float:
        return self.changed_pixels * self.pixel_area

    def change_date(self) -> np.ndarray:
        """Read the whole change-date raster (int16). Mind the size."""
        with rasterio.open(self.change_date_path) as ds:
            return ds.read(1)

    def date_index(self, date: str | dt.date) -> int:
        """Index of ``date`` among :attr:`dates`.

        Raises:
            ValueError: not a date of the series.
        """
        return self.dates.index(_iso(date))

    def objects_first_seen(self, date: str | dt.date) -> list[SeriesObject]:
        """The objects whose change date is ``date``."""
        return [o for o in self.objects if o.first_seen == _iso(date)]

    def objects_between(self, start: str | dt.date, end: str | dt.date) -> list[SeriesObject]:
        """The objects whose change date lies in ``[start, end]``.

        Example:
            >>> len(result.objects_between("2020-01-01", "2021-12-31"))  # doctest: +SKIP
            3
        """
        return [o for o in self.objects if o.seen_between(start, end)]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``series.json`` holds)."""
        return {
            "method": self.method,
            "images": list(self.images),
            "dates": list(self.dates),
            "crs": self.crs,
            "transform": list(self.transform),
            "width": self.width,
            "height": self.height,
            "clear_share": list(self.clear_share),
            "cloud_share": [
                s if self.clouds_checked(k) else None for k, s in enumerate(self.cloud_share)
            ],
            "cloud_check": list(self.cloud_check) or ["not recorded"] * len(self.dates),
            "timeline": list(self.timeline),
            "pixel_area": self.pixel_area,
            "area_unit": self.area_unit,
            "changed_pixels": self.changed_pixels,
            "changed_area": self.changed_area,
            "object_count": len(self.objects),
            "objects": [o.to_dict() for o in self.objects],
            "warnings": list(self.warnings),
            "params": self.params,
        }


def _object(record: dict[str, Any], geometry: dict[str, Any] | None) -> SeriesObject:
    names = {f.name for f in fields(SeriesObject)}
    values = {k: v for k, v in record.items() if k in names}
    for key in ("centroid_lonlat", "bbox_wgs84", "pixel_bbox"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    return SeriesObject(**values, geometry=geometry)


def result_from_summary(
    data: dict[str, Any], folder: Path, geometries: dict[int, dict[str, Any]] | None = None
) -> SeriesResult:
    """A :class:`SeriesResult` from :meth:`SeriesResult.summary`'s dict.

    Example:
        >>> result_from_summary(result.summary(), result.folder) == result  # doctest: +SKIP
        True
    """
    geometries = geometries or {}
    objects = tuple(_object(o, geometries.get(int(o["id"]))) for o in data.get("objects", ()))
    return SeriesResult(
        method=data["method"],
        images=tuple(data["images"]),
        dates=tuple(data["dates"]),
        folder=Path(folder),
        crs=data.get("crs"),
        transform=tuple(data["transform"]),
        width=int(data["width"]),
        height=int(data["height"]),
        clear_share=tuple(data["clear_share"]),
        cloud_share=tuple(s or 0.0 for s in data["cloud_share"]),
        cloud_check=tuple(c for c in data.get("cloud_check", ()) if c != "not recorded"),
        timeline=tuple(data["timeline"]),
        objects=objects,
        pixel_area=float(data["pixel_area"]),
        area_unit=data["area_unit"],
        warnings=tuple(data.get("warnings", ())),
        params=dict(data.get("params", {})),
    )


def load_series(folder: str | Path) -> SeriesResult:
    """Read a finished series job's folder back into a :class:`SeriesResult`.

    Raises:
        RasterReadError: the folder holds no ``series.json`` (no finished series job).

    Example:
        >>> result = load_series("series_out/")  # doctest: +SKIP
        >>> [(o.id, o.first_seen) for o in result.objects]  # doctest: +SKIP
        [(1, '2020-06-01'), (2, '2021-05-20')]
    """
    folder = Path(folder)
    path = folder / SERIES_JSON
    if not path.is_file():
        raise RasterReadError(
            f"{folder}: no {SERIES_JSON} there; give the output folder of a finished "
            "terrasight series job."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    geometries: dict[int, dict[str, Any]] = {}
    vectors = folder / OBJECTS_GEOJSON
    if vectors.is_file():
        for feature in json.loads(vectors.read_text(encoding="utf-8")).get("features", []):
            if feature.get("id") is not None:
                geometries[int(feature["id"])] = feature.get("geometry")
    return result_from_summary(data, folder, geometries)
