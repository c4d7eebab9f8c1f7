"""Files of a land-cover run: the class GeoTIFF, polygons, areas as JSON, the report."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.features import shapes, sieve
from rasterio.windows import Window
from shapely.geometry import shape

from terrasight.errors import OutputExistsError, OutputFolderError
from terrasight.io.geojson import GeoJSONWriter, batches, feature_lines, polygonal
from terrasight.io.geopackage import GeoPackageWriter
from terrasight.io.raster import RasterSource
from terrasight.io.vectors import COORDINATE_DECIMALS, as_crs, collection_members, jsonable
from terrasight.tasks.landcover.classes import CLASSES, COLOURS, NODATA, UNKNOWN, class_table
from terrasight.tasks.landcover.result import LandCoverResult

NAMES = {
    "raster": "landcover.tif",
    "geopackage": "landcover.gpkg",
    "geojson": "landcover.geojson",
    "summary": "landcover.json",
    "report": "report.html",
}
"""Output name -> file name inside the output folder."""
COLUMNS = {
    "class": "INTEGER",
    "name": "TEXT",
    "pixels": "INTEGER",
    "area": "REAL",
    "area_unit": "TEXT",
}
STRIP = 2048
"""Rows of the class raster polygonised at a time (polygons are cut at strip edges)."""


def prepare_outdir(out: Path, overwrite: bool) -> Path:
    """Create ``out``; refuse to replace earlier land-cover outputs without ``overwrite``.

    Raises:
        OutputFolderError: ``out`` is a file or cannot be created.
        OutputExistsError: it holds outputs of an earlier run.
    """
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"output folder {out} is a file; give a folder path.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"cannot create output folder {out}: {exc.strerror}") from None
    existing = [n for n in NAMES.values() if (out / n).exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{out} already holds {', '.join(existing)}; they won't be overwritten without "
            "--overwrite (overwrite=True), or choose another folder."
        )
    return out


class ClassWriter:
    """Writes the class raster window by window: uint8, colour table, class names in its tags."""

    def __init__(
        self,
        out: Path,
        src: RasterSource,
        region: Window,
        transform: Affine,
        content_metres: float | None = None,
    ) -> None:
        self.path = out / NAMES["raster"]
        profile: dict[str, Any] = dict(
            driver="GTiff",
            width=int(region.width),
            height=int(region.height),
            count=1,
            dtype="uint8",
            nodata=NODATA,
            crs=src.crs,
            transform=transform,
            compress="deflate",
        )
        if region.width >= 256 and region.height >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        self._ds = rasterio.open(self.path, "w", **profile)
        self._ds.write_colormap(1, {i: (*c, 255) for i, c in enumerate(COLOURS)})
        self._ds.update_tags(
            classes=json.dumps(class_table()),
            nodata="255",
            **{f"CLASS_{i}": name for i, name in enumerate(CLASSES)},
        )
        if content_metres:  # an image made finer than it was: the size of what it shows
            self._ds.update_tags(CONTENT_METRES=f"{content_metres:g}")
        self._ds.set_band_description(1, "land cover class")

    def caveats(self, lines: list[str]) -> None:
        """Record caveats about the whole map in its tags (``CAVEATS``, a JSON list)."""
        self._ds.update_tags(CAVEATS=json.dumps(lines))

    def cloud_share(self, share: float) -> None:
        """Record the share of the image left out as cloud or cloud shadow (``CLOUD_SHARE``)."""
        self._ds.update_tags(CLOUD_SHARE=f"{share:.4f}")

    def write(self, classes: np.ndarray, window: Window) -> None:
        self._ds.write(classes[None], window=window)

    def close(self) -> None:
        self._ds.close()


def polygon_records(
    path: Path, min_pixels: int, pixel_area: float, unit: str
) -> Iterator[list[dict[str, Any]]]:
    """Records (geometry in the raster's CRS, class, pixels, area), one per patch of a
    class, a strip of :data:`STRIP` rows at a time (memory stays flat).

    Patches under ``min_pixels`` are merged into their neighbours first (sieve);
    ``unknown`` and nodata get no polygon.
    """
    with rasterio.open(path) as ds:
        for row in range(0, ds.height, STRIP):
            win = Window(0, row, ds.width, min(STRIP, ds.height - row))
            data = ds.read(1, window=win)
            if min_pixels > 1:
                data = sieve(data, min_pixels, mask=data != NODATA)
            keep = (data != NODATA) & (data != UNKNOWN)
            records = []
            for geom, value in shapes(data, mask=keep, transform=ds.window_transform(win)):
                code = int(value)
                poly = shape(geom)
                n = int(round(poly.area / abs(ds.transform.a * ds.transform.e)))
                records.append(
                    {
                        "geometry": geom,
                        "class": code,
                        "name": CLASSES[code],
                        "pixels": n,
                        "area": round(n * pixel_area, 3),
                        "area_unit": unit,
                    }
                )
            yield records


def write_polygons(
    strips: Iterable[list[dict[str, Any]]], out: Path, crs: Any
) -> tuple[Path, Path, int]:
    """``landcover.gpkg`` (image CRS) and ``landcover.geojson`` (WGS84) of the records, and
    how many polygons they hold."""
    crs = as_crs(crs)
    count = 0
    gpkg, geojson = out / NAMES["geopackage"], out / NAMES["geojson"]
    with (
        GeoPackageWriter(gpkg, "landcover", crs, COLUMNS) as table,
        GeoJSONWriter(geojson, collection_members(crs)) as features,
    ):
        for chunk in (c for records in strips for c in batches(records)):
            ids = list(range(count + 1, count + 1 + len(chunk)))
            count += len(chunk)
            props = [{k: v for k, v in r.items() if k != "geometry"} for r in chunk]
            geoms = [r["geometry"] for r in chunk]
            features.write_lines(feature_lines(geoms, props, ids, crs, COORDINATE_DECIMALS))
            for fid, r, p in zip(ids, chunk, props, strict=True):
                table.add(fid, polygonal(shape(r["geometry"])), p)
    return gpkg, geojson, count


def finish_outputs(
    result: LandCoverResult,
    out: Path,
    src: RasterSource,
    region: Window,
    stretch: tuple[Any, Any],
    rgb: tuple[int, ...],
    min_pixels: int,
    report: bool,
) -> LandCoverResult:
    """Polygons, the JSON summary and the report after the class raster is written."""
    from dataclasses import replace

    from terrasight.tasks.landcover.report import write_report

    raster = out / NAMES["raster"]
    total = sum(result.pixels.values())
    area = result.valid_area / total if total else 0.0
    strips = polygon_records(raster, min_pixels, area, result.unit)
    gpkg, geojson, polygons = write_polygons(strips, out, src.crs)
    files = {"raster": str(raster), "geopackage": str(gpkg), "geojson": str(geojson)}
    summary = out / NAMES["summary"]
    files["summary"] = str(summary)
    if report:
        files["report"] = str(out / NAMES["report"])
    result = replace(result, files=files)
    if report:
        write_report(result, out / NAMES["report"], src, region, stretch, rgb, polygons)
    doc = {**result.to_dict(), "polygons": polygons}
    summary.write_text(json.dumps(jsonable(doc), indent=1) + "\n")
    return result
