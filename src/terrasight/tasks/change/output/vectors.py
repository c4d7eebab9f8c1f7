"""Writing a change result's vectors: ``changes.geojson``, ``changes.gpkg``, ``summary.json``.

:class:`~terrasight.tasks.change.result.ChangeResult` is plain data; this
module turns its objects into files. The whole folder (rasters copied, facts,
report) is :func:`terrasight.tasks.products.save.save_result`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely

from terrasight.io.geojson import GeoJSONWriter, batches, feature_lines, polygonal
from terrasight.io.geopackage import GeoPackageWriter
from terrasight.io.vectors import (
    COORDINATE_DECIMALS,
    VectorFeature,
    as_crs,
    collection_members,
    features_to_geojson,
    jsonable,
)

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeObject, ChangeResult


def object_feature(obj: ChangeObject) -> VectorFeature:
    """A change object as a vector feature: its geometry and its attributes as properties.

    Example:
        >>> object_feature(result.objects[0]).properties["bbox_wgs84"]  # doctest: +SKIP
        (15.0, 45.14, 15.01, 45.15)
    """
    return VectorFeature(obj.geometry, obj.to_dict(), id=obj.id)


def result_geojson(result: ChangeResult) -> dict[str, Any]:
    """The result's objects as an RFC 7946 FeatureCollection in WGS84 (pixel space without a CRS).

    Each feature's properties are the object's attributes
    (:class:`~terrasight.tasks.change.result.ChangeObject`); the collection's
    ``"terrasight:image_crs"`` names the CRS of those ending in ``_image_crs``.

    Example:
        >>> fc = result_geojson(result)  # doctest: +SKIP
        >>> fc["features"][0]["properties"]["centroid_lonlat"]  # doctest: +SKIP
        [15.004, 45.151]
    """
    return features_to_geojson([object_feature(o) for o in result.objects], result.crs)


def write_json(path: Path, data: Any) -> Path:
    """Write JSON-ready ``data`` (NaN as null) to ``path`` atomically, indented.

    Example:
        >>> write_json(Path("out/summary.json"), {"changed": 3})  # doctest: +SKIP
        PosixPath('out/summary.json')
    """
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False))
    tmp.replace(path)
    return path


def write_geojson_stream(result: ChangeResult, path: Path) -> Path:
    """Write the result's objects to ``path`` as GeoJSON, feature by feature, in flat memory.

    Holds the same features as :func:`result_geojson` (an RFC 7946
    FeatureCollection in WGS84 with ``"terrasight:image_crs"``), but never the
    whole collection: objects are read, reprojected and written in batches.

    Example:
        >>> write_geojson_stream(result, Path("out/changes.geojson"))  # doctest: +SKIP
        PosixPath('out/changes.geojson')
    """
    crs = as_crs(result.crs)
    with GeoJSONWriter(path, collection_members(crs)) as out:
        for chunk in batches(object_records(result.objects)):
            out.write_lines(
                feature_lines(
                    [r["geometry"] for r in chunk],
                    [{k: v for k, v in r.items() if k != "geometry"} for r in chunk],
                    [r["id"] for r in chunk],
                    crs,
                    COORDINATE_DECIMALS,
                )
            )
    return path


GPKG_COLUMNS = {
    "id": "INTEGER",
    "pixels": "INTEGER",
    "area": "REAL",
    "area_unit": "TEXT",
    "location": "TEXT",
    "mean_probability": "REAL",
    "centroid_lonlat": "TEXT",
    "bbox_wgs84": "TEXT",
    "centroid_image_crs": "TEXT",
    "bbox_image_crs": "TEXT",
    "pixel_bbox": "TEXT",
    "from_class": "TEXT",
    "to_class": "TEXT",
    "from_share": "REAL",
    "to_share": "REAL",
    "parent_id": "INTEGER",
}
"""Columns of the ``changes`` table of ``changes.gpkg`` (pairs and boxes as JSON arrays)."""


def write_geopackage_stream(result: ChangeResult, path: Path) -> Path:
    """Write the result's objects to a GeoPackage table ``changes``, in the image CRS, row by row.

    Each object's id is its feature id; the properties are those of
    ``changes.geojson`` (see :data:`GPKG_COLUMNS`). Pixel-space results use the
    GeoPackage's undefined cartesian SRS (-1).

    Example:
        >>> write_geopackage_stream(result, Path("out/changes.gpkg"))  # doctest: +SKIP
        PosixPath('out/changes.gpkg')
    """
    with GeoPackageWriter(path, "changes", as_crs(result.crs), GPKG_COLUMNS) as gpkg:
        for record in object_records(result.objects):
            gpkg.add(record["id"], polygonal(record["geometry"]), record)
    return path


def object_records(
    objects: Sequence[ChangeObject], geometry: bool = True
) -> Iterator[dict[str, Any]]:
    """JSON-ready records of objects: their attributes and ``"geometry"`` as a shapely geometry.

    Objects on disk (an ``ObjectsView``) are read as records straight away,
    their geometry parsed by GEOS from the line's text: no
    :class:`ChangeObject` s and no Python lists of coordinates are built.
    With ``geometry=False`` the records hold the attributes only and no
    geometry is parsed or converted.

    Example:
        >>> next(object_records(result.objects))["id"]  # doctest: +SKIP
        1
    """
    raw = getattr(objects, "raw_records", None)
    if raw is not None:
        for chunk in batches(raw()):
            parsed = shapely.from_geojson([t for _, t in chunk]) if geometry else None
            for i, (record, _) in enumerate(chunk):
                if parsed is not None:
                    record["geometry"] = parsed[i]
                yield record
        return
    for obj in objects:
        record = jsonable(obj.to_dict())
        yield {**record, "geometry": polygonal(obj.geometry)} if geometry else record


def write_summary_stream(result: ChangeResult, path: Path) -> Path:
    """Write ``summary.json`` (see ``ChangeResult.summary``) with its objects one line each.

    Example:
        >>> write_summary_stream(result, Path("out/summary.json"))  # doctest: +SKIP
        PosixPath('out/summary.json')
    """
    with SummaryWriter(result, path) as summary:
        for record in object_records(result.objects, geometry=False):
            summary.add(record)
    return path


def write_vectors(
    result: ChangeResult, geojson: Path, geopackage: Path, summary: Path
) -> tuple[Path, Path, Path]:
    """``changes.geojson``, ``changes.gpkg`` and ``summary.json`` in one pass over the objects.

    The same files as :func:`write_geojson_stream`, :func:`write_geopackage_stream`
    and :func:`write_summary_stream`, but each object is read and its geometry
    parsed once for the three.

    Example:
        >>> write_vectors(result, *(Path("out") / n for n in names))  # doctest: +SKIP
    """
    crs = as_crs(result.crs)
    with (
        GeoJSONWriter(geojson, collection_members(crs)) as features,
        GeoPackageWriter(geopackage, "changes", crs, GPKG_COLUMNS) as gpkg,
        SummaryWriter(result, summary) as listed,
    ):
        for chunk in batches(object_records(result.objects)):
            attributes = [{k: v for k, v in r.items() if k != "geometry"} for r in chunk]
            geometries = [r["geometry"] for r in chunk]
            ids = [r["id"] for r in chunk]
            features.write_lines(
                feature_lines(geometries, attributes, ids, crs, COORDINATE_DECIMALS)
            )
            for record, attrs in zip(chunk, attributes, strict=True):
                gpkg.add(record["id"], polygonal(record["geometry"]), record)
                listed.add(attrs)
    return geojson, geopackage, summary


class SummaryWriter:
    """``summary.json`` written object by object: the result's figures, then one line per object.

    Written to ``path.part`` and renamed when the block ends without an error.

    Example:
        >>> with SummaryWriter(result, Path("out/summary.json")) as summary:  # doctest: +SKIP
        ...     summary.add({"id": 1, "pixels": 30})
    """

    def __init__(self, result: ChangeResult, path: Path) -> None:
        summary = jsonable(_summary_without_objects(result))
        head = json.dumps(summary, indent=2, allow_nan=False)
        self._before, self._after = head.split('"objects": []', 1)
        self.path = Path(path)
        self._part = self.path.with_suffix(self.path.suffix + ".part")
        self._fh = open(self._part, "w", encoding="utf-8")  # noqa: SIM115 - closed by __exit__
        self._fh.write(self._before + '"objects": [')
        self._count = 0

    def add(self, record: dict[str, Any]) -> None:
        """List one object (its attributes, JSON-ready)."""
        self._fh.write(("," if self._count else "") + "\n    ")
        self._fh.write(json.dumps(record, allow_nan=False))
        self._count += 1

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self._fh.write("\n  ]" if self._count else "]")
            self._fh.write(self._after)
        self._fh.close()
        if kind is None:
            self._part.replace(self.path)
        else:
            self._part.unlink(missing_ok=True)


def _summary_without_objects(result: ChangeResult) -> dict[str, Any]:
    """``result.summary()`` with an empty object list, built without reading the objects."""
    summary = replace(result, objects=()).summary()
    summary["object_count"] = len(result.objects)
    return summary
