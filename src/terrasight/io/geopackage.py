"""GeoPackage (OGC 12-128r18) feature tables written with the standard library's ``sqlite3``.

GIS programs open a GeoPackage of 100,000 polygons far faster than the same
GeoJSON, and it keeps the image CRS (no reprojection). :class:`GeoPackageWriter`
writes one feature table row by row, inside one transaction, so memory stays
flat: the required metadata tables (``gpkg_spatial_ref_sys``,
``gpkg_contents``, ``gpkg_geometry_columns``), then each geometry as a
GeoPackage binary blob (``GP`` header, SRS id, envelope) followed by WKB.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely
from rasterio.crs import CRS

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10400  # GeoPackage 1.4
CUSTOM_SRS_ID = 100000
"""SRS id given to a CRS without an EPSG code."""

_BASE_SRS = [
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, CRS.from_epsg(4326).to_wkt(), "longitude/latitude"),
]


def gpkg_geometry(geom: shapely.Geometry, srs_id: int) -> bytes:
    """A geometry as a GeoPackage binary blob: header with the xy envelope, then WKB.

    Example:
        >>> blob = gpkg_geometry(shapely.box(0, 0, 2, 1), 32633)
        >>> blob[:2], len(blob) - 40 == len(shapely.to_wkb(shapely.box(0, 0, 2, 1)))
        (b'GP', True)
    """
    minx, miny, maxx, maxy = shapely.bounds(geom).tolist()
    # version 0; flags: little-endian header (bit 0), envelope [minx, maxx, miny, maxy] (1 << 1)
    header = b"GP" + struct.pack("<BBi4d", 0, 0b011, srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1)


def wkb_of(blob: bytes) -> bytes:
    """The WKB inside a GeoPackage geometry blob (the header and its envelope skipped).

    Example:
        >>> shapely.from_wkb(wkb_of(gpkg_geometry(shapely.box(0, 0, 1, 1), 4326))).area
        1.0
    """
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0b111]
    return blob[8 + envelope :]


def srs_row(crs: CRS | None) -> tuple[str, int, str, int, str, str]:
    """The ``gpkg_spatial_ref_sys`` row of a CRS (the undefined cartesian one without a CRS).

    Example:
        >>> srs_row(CRS.from_epsg(32633))[1:4]
        (32633, 'EPSG', 32633)
    """
    if crs is None:
        return _BASE_SRS[0]
    epsg = crs.to_epsg()
    if epsg:
        return (f"EPSG:{epsg}", epsg, "EPSG", epsg, crs.to_wkt(), "")
    return ("image CRS", CUSTOM_SRS_ID, "NONE", CUSTOM_SRS_ID, crs.to_wkt(), "")


class GeoPackageWriter:
    """Write one feature table of (Multi)Polygons to a new GeoPackage, feature by feature.

    Columns are given as ``{name: "INTEGER" | "REAL" | "TEXT"}``; a value that
    is a list or tuple is stored as JSON text. Written to ``path.part``, then
    renamed.

    Example:
        >>> with GeoPackageWriter(Path("changes.gpkg"), "changes", CRS.from_epsg(32633),
        ...                       {"area": "REAL"}) as gpkg:  # doctest: +SKIP
        ...     gpkg.add(1, shapely.box(0, 0, 10, 10), {"area": 100.0})
    """

    def __init__(self, path: Path, table: str, crs: CRS | None, columns: Mapping[str, str]) -> None:
        self.path, self.table, self.columns = Path(path), table, dict(columns)
        self._part = self.path.with_name(self.path.name + ".part")
        self._part.unlink(missing_ok=True)
        self._db = sqlite3.connect(self._part)
        self._srs = srs_row(crs)
        self._bounds = [float("inf"), float("inf"), float("-inf"), float("-inf")]
        self._create()
        names = ", ".join(["fid", "geom", *(f'"{c}"' for c in self.columns)])
        marks = ", ".join("?" * (len(self.columns) + 2))
        self._insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'

    def _create(self) -> None:
        db = self._db
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {USER_VERSION}")
        db.executescript(_SCHEMA)
        rows = {r[1]: r for r in [*_BASE_SRS, self._srs]}
        db.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows.values())
        cols = "".join(f', "{c}" {kind}' for c, kind in self.columns.items())
        db.execute(
            f'CREATE TABLE "{self.table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom GEOMETRY{cols})'
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES (?, 'features', ?, ?)",
            (self.table, self.table, self._srs[1]),
        )
        db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'GEOMETRY', ?, 0, 0)",
            (self.table, self._srs[1]),
        )

    def add(self, fid: int, geometry: shapely.Geometry, properties: Mapping[str, Any]) -> None:
        """Insert one feature (``fid`` is its row id)."""
        values = [_value(properties.get(c)) for c in self.columns]
        self._db.execute(self._insert, [fid, gpkg_geometry(geometry, self._srs[1]), *values])
        b, acc = shapely.bounds(geometry).tolist(), self._bounds
        self._bounds = [min(acc[0], b[0]), min(acc[1], b[1]), max(acc[2], b[2]), max(acc[3], b[3])]

    def close(self, ok: bool = True) -> None:
        """Record the table in ``gpkg_contents``, commit and move the file into place."""
        if self._db is None:
            return
        if ok:
            bounds = self._bounds if self._bounds[0] <= self._bounds[2] else [None] * 4
            self._db.execute(
                "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?"
                " WHERE table_name = ?",
                (*bounds, self.table),
            )
            self._db.commit()
        self._db.close()
        self._db = None  # type: ignore[assignment]
        if ok:
            self._part.replace(self.path)
        else:
            self._part.unlink(missing_ok=True)

    def __enter__(self) -> GeoPackageWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(ok=exc_type is None)


def _value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return json.dumps(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""
