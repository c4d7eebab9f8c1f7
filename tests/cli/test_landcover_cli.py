"""``terrasight landcover``: outputs, ``--json`` and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

from terrasight.cli import main


def _rgb(path: Path) -> Path:
    data = np.full((3, 96, 128), 180, np.uint8)
    data[:, 20:70, 10:60] = np.array([20, 40, 90], np.uint8)[:, None, None]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=128,
        height=96,
        count=3,
        dtype="uint8",
        crs="EPSG:32633",
        transform=from_origin(500000, 5000000, 2, 2),
    ) as ds:
        ds.write(data)
    return path


def test_json_and_files(tmp_path: Path) -> None:
    image = _rgb(tmp_path / "a.tif")
    out = tmp_path / "lc"
    res = CliRunner().invoke(main, ["landcover", str(image), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["classes"]["0"] == "building" and doc["classes"]["5"] == "unknown"
    assert doc["unit"] == "m2"
    assert sum(doc["areas"].values()) == 96 * 128 * 4
    assert set(doc["areas"]) == set(doc["classes"].values())
    for name in ("landcover.tif", "landcover.gpkg", "landcover.geojson", "report.html"):
        assert (out / name).is_file()
    again = CliRunner().invoke(main, ["landcover", str(image), "-o", str(out)])
    assert again.exit_code != 0 and "--overwrite" in again.output


def test_missing_file_and_bad_bbox(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["landcover", str(tmp_path / "nope.tif"), "-o", str(tmp_path)])
    assert res.exit_code != 0 and "nope.tif" in res.output
    image = _rgb(tmp_path / "a.tif")
    res = CliRunner().invoke(
        main, ["landcover", str(image), "-o", str(tmp_path / "o"), "--bbox", "1,2,3"]
    )
    assert res.exit_code != 0 and "W,S,E,N" in res.output
