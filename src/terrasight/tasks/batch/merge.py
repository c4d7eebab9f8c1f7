"""A batch's own outputs: one summary table and one GeoPackage of every pair's objects."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely
from rasterio.crs import CRS

from terrasight.io.geopackage import GeoPackageWriter
from terrasight.tasks.batch.outcome import PairOutcome

SUMMARY_COLUMNS = (
    "name",
    "status",
    "objects",
    "changed_area",
    "area_unit",
    "changed_percent",
    "method",
    "unreliable",
    "seconds",
    "error",
    "before",
    "after",
)
"""Columns of ``batch_summary.csv``, in order."""

OBJECT_COLUMNS = {
    "pair": "TEXT",
    "id": "INTEGER",
    "pixels": "INTEGER",
    "area": "REAL",
    "area_unit": "TEXT",
    "location": "TEXT",
    "mean_probability": "REAL",
}
"""Columns of the ``changes`` table of ``batch_changes.gpkg`` (geometry in WGS84)."""


def write_tables(folder: Path, outcomes: Sequence[PairOutcome]) -> dict[str, Path]:
    """Write ``batch_summary.csv``, ``batch_summary.json`` and ``batch_changes.gpkg``."""
    rows = [o.to_dict() for o in outcomes]
    summary_csv = folder / "batch_summary.csv"
    with _replacing(summary_csv) as part, part.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    done = [o for o in outcomes if o.status == "done"]
    totals: dict[str, Any] = {
        "pairs": len(outcomes),
        "done": len(done),
        "failed": len(outcomes) - len(done),
        "objects": sum(o.objects for o in done),
    }
    units = {o.area_unit for o in done}
    if len(units) == 1:
        totals["changed_area"] = sum(o.changed_area for o in done)
        totals["area_unit"] = units.pop()
    summary_json = folder / "batch_summary.json"
    with _replacing(summary_json) as part:
        part.write_text(json.dumps({"totals": totals, "pairs": rows}, indent=2))
    gpkg = folder / "batch_changes.gpkg"
    with GeoPackageWriter(gpkg, "changes", CRS.from_epsg(4326), OBJECT_COLUMNS) as out:
        fid = 0
        for outcome in done:
            for feature in _features(folder / outcome.name / "changes.geojson"):
                fid += 1
                props = {k: feature["properties"].get(k) for k in OBJECT_COLUMNS}
                out.add(
                    fid,
                    shapely.geometry.shape(feature["geometry"]),
                    {**props, "pair": outcome.name},
                )
    return {"summary_csv": summary_csv, "summary_json": summary_json, "geopackage": gpkg}


def _features(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    features: list[dict[str, Any]] = json.loads(path.read_text()).get("features", [])
    return features


class _replacing:
    """Write ``path`` through ``path.part``, renamed over it when the block ends without error."""

    def __init__(self, path: Path) -> None:
        self.path, self.part = path, path.with_name(path.name + ".part")

    def __enter__(self) -> Path:
        return self.part

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            os.replace(self.part, self.path)
        else:
            self.part.unlink(missing_ok=True)
