"""index build on real files: rows, footprints, dates, skipped files, incremental runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely

from terrasight import index
from terrasight.errors import InvalidOptionError, JobLockedError
from terrasight.index import store
from terrasight.index.store import build_lock, open_table

from .conftest import OVERLAP, TILE


def rows(db: Path) -> dict[str, list[dict]]:
    """The table's rows grouped by source file name."""
    data = open_table(db).to_arrow().to_pylist()
    out: dict[str, list[dict]] = {}
    for row in data:
        out.setdefault(Path(row["source"]).name, []).append(row)
    return out


def test_build_indexes_every_tile_with_its_place_date_and_model(archive: Path, tmp_path: Path):
    db = tmp_path / "db"
    report = index.build([archive], db, tile=TILE, overlap=OVERLAP)
    got = rows(db)
    # coast: 232 x 200 px, tiles of 64 sharing 16 -> columns 0,48,96,144,168 and rows 0..136: 5 x 4
    assert len(got["coast_20230615.tif"]) == 20 and len(got["inland.tif"]) == 9
    # the 150 px photos: columns and rows 0, 48, 86
    assert all(len(got[p.name]) == 9 for p in (archive / "photos").iterdir())
    assert report.added == 8 and report.tiles_added == 20 + 9 + 6 * 9 == report.tiles_total
    assert [Path(f.path).name for f in report.failures] == ["broken.tif"]
    assert "broken.tif" not in got

    coast = sorted(got["coast_20230615.tif"], key=lambda r: r["tile"])
    assert [r["tile"] for r in coast] == list(range(20))
    assert {r["crs"] for r in coast} == {"EPSG:32633"} and str(coast[0]["date"]) == "2023-06-15"
    first = coast[0]
    assert (first["col"], first["row"], first["width"], first["height"]) == (0, 0, 64, 64)
    assert first["bbox"] == [500000.0, 5000000.0 - 640.0, 500640.0, 5000000.0]
    fp = shapely.from_wkb(first["footprint"])
    assert fp.is_valid and 14.99 < fp.bounds[0] < 15.0 and 45.14 < fp.bounds[1] < 45.16
    assert (first["west"], first["south"], first["east"], first["north"]) == fp.bounds
    inland = got["inland.tif"][0]
    assert inland["crs"] == "EPSG:32632" and str(inland["date"]) == "2021-03-04"
    photo = got["port_1.jpg"][0]
    assert photo["crs"] is None and photo["footprint"] is None and photo["west"] is None
    assert sorted(r["bbox"] for r in got["port_1.jpg"])[-1] == [86.0, 86.0, 150.0, 150.0]
    vectors = np.array([r["vector"] for r in coast])
    assert vectors.shape == (20, 128) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert len({v.tobytes() for v in vectors}) == 20  # every tile its own picture
    assert {r["model"] for r in coast} == {"terrasight-vl"} and coast[0]["model_version"] == "2"
    assert len({r["source_hash"] for r in coast}) == 1 and len(coast[0]["source_hash"]) == 64


def test_a_second_build_adds_changed_and_new_files_and_drops_deleted_ones(
    archive: Path, tmp_path: Path
):
    db = tmp_path / "db"
    index.build([archive], db, tile=TILE, overlap=OVERLAP)
    before = rows(db)
    again = index.build([archive], db, tile=TILE, overlap=OVERLAP)
    assert (again.added, again.unchanged, again.tiles_added) == (0, 8, 0)

    photos = archive / "photos"
    # changed: the same name, other pixels; touched: same bytes, new mtime; deleted; new
    shutil.copy(photos / "forest_1.jpg", photos / "port_1.jpg")
    os.utime(photos / "airport_1.jpg", ns=(1, 1))
    (photos / "forest_10.jpg").unlink()
    shutil.copy(photos / "airport_1.jpg", photos / "copy.jpg")
    report = index.build([archive], db, tile=TILE, overlap=OVERLAP)
    after = rows(db)
    assert (report.added, report.removed, report.unchanged) == (2, 1, 6)
    assert "forest_10.jpg" not in after and len(after["copy.jpg"]) == 9
    port, forest = (
        sorted(after[n], key=lambda r: r["tile"]) for n in ("port_1.jpg", "forest_1.jpg")
    )
    assert len(port) == 9 and port[0]["source_hash"] == forest[0]["source_hash"]
    old_port = sorted(before["port_1.jpg"], key=lambda r: r["tile"])
    assert port[0]["vector"] != old_port[0]["vector"]
    assert np.allclose([r["vector"] for r in port], [r["vector"] for r in forest], atol=1e-5)
    assert {tuple(r["vector"]) for r in after["airport_1.jpg"]} == {
        tuple(r["vector"]) for r in before["airport_1.jpg"]
    }
    assert sum(len(v) for v in after.values()) == open_table(db).count_rows() == 20 + 9 + 6 * 9


def test_a_folder_can_hold_only_one_models_vectors(archive: Path, tmp_path: Path):
    db = tmp_path / "db"
    index.build([archive / "photos"], db, tile=224)
    held = store.table_model(open_table(db))
    assert (held.name, held.version, held.dim, held.ref) == (
        "terrasight-vl",
        "2",
        128,
        "terrasight-vl",
    )
    with pytest.raises(InvalidOptionError, match="holds embeddings of model terrasight-vl"):
        store.open_or_create(db, store.IndexModel("other-vl", "1", 128, "other-vl"))


def test_bad_options_and_a_busy_index_are_refused(archive: Path, tmp_path: Path):
    with pytest.raises(InvalidOptionError, match="overlap"):
        index.build([archive], tmp_path / "db", tile=64, overlap=60)
    with build_lock(tmp_path / "db"), pytest.raises(JobLockedError, match="another"):
        index.build([archive], tmp_path / "db")
