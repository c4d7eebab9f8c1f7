"""STAC Items in the archive index: rows named by the Item, dated by it, resumed by its JSON."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from .conftest import BANDS, SIZE, item_json

pytest.importorskip("lancedb")
pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from terrasight import index  # noqa: E402
from terrasight.index.store import open_table  # noqa: E402
from terrasight.io.chips import chip_windows, open_scene, read_chips  # noqa: E402

TILE = 512


def undated_item(stac_scenes, when: str) -> tuple[str, Path]:
    """The 2023 scene as an Item whose name holds no date: (its URL, its file)."""
    rel = {name: f"./{BANDS.get(name, 'B11')}.tif" for name in (*BANDS, "swir16")}
    path = stac_scenes.server.root / "2023" / "scene.json"
    path.write_text(json.dumps(item_json("S2_SCENE", when, 4.0, rel)))
    return stac_scenes.server.url("2023/scene.json"), path


def by_source(db: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in open_table(db).to_arrow().to_pylist():
        out.setdefault(row["source"], []).append(row)
    return {k: sorted(v, key=lambda r: r["tile"]) for k, v in out.items()}


def test_an_item_is_indexed_by_url_dated_by_its_datetime_and_resumed(stac_scenes, tmp_path):
    url, path = undated_item(stac_scenes, "2022-01-05T10:00:00Z")
    db = tmp_path / "db"
    report = index.build([url, path], db, tile=TILE, overlap=0)
    assert (report.added, report.tiles_added, report.failures) == (2, 4 + 4, [])
    got = by_source(db)
    local = str(path.resolve())
    assert sorted(got) == sorted([url, local])  # the Item as given, not its cached VRT
    rows = got[url]
    assert [r["tile"] for r in rows] == [0, 1, 2, 3]
    assert {str(r["date"]) for r in rows} == {"2022-01-05"}
    assert {r["crs"] for r in rows} == {"EPSG:32633"}
    assert rows[0]["bbox"] == [500000.0, 5000000.0 - 5120.0, 505120.0, 5000000.0]
    assert rows[3]["bbox"] == [505120.0, 5000000.0 - 10240.0, 510240.0, 5000000.0 - 5120.0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert {r["source_hash"] for r in rows} == {digest} == {r["source_hash"] for r in got[local]}
    # the same pixels over HTTP and from the local Item's files
    assert np.allclose([r["vector"] for r in rows], [r["vector"] for r in got[local]], atol=1e-6)
    assert len({tuple(r["vector"]) for r in rows}) == 4

    again = index.build([url, path], db, tile=TILE, overlap=0)
    assert (again.added, again.unchanged, again.tiles_added) == (0, 2, 0)

    undated_item(stac_scenes, "2022-02-01T10:00:00Z")  # the Item changes: indexed again
    changed = index.build([url], db, tile=TILE, overlap=0)
    assert (changed.added, changed.unchanged, changed.tiles_added) == (1, 0, 4)
    after = by_source(db)
    assert {str(r["date"]) for r in after[url]} == {"2022-02-01"}
    assert [r["vector"] for r in after[url]] == [r["vector"] for r in rows]  # same pixels


def test_a_scene_of_an_item_travels_to_a_worker_whole(stac_scenes):
    url, _ = undated_item(stac_scenes, "2022-01-05T10:00:00Z")
    scene = open_scene(url)
    assert scene.path == url and scene.date == "2022-01-05" and not scene.photo
    assert str(scene.gdal_path).endswith(".vrt") and (scene.width, scene.height) == (SIZE, SIZE)
    assert dict(scene.gdal_env)["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert scene.levels is not None and len(scene.levels) == 3  # uint16: one stretch per band
    copy = pickle.loads(pickle.dumps(scene))
    windows = chip_windows(scene.width, scene.height, TILE)
    for a, b in zip(read_chips(scene, windows), read_chips(copy, windows), strict=True):
        assert a.shape == (TILE, TILE, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
        assert 0 < a.mean() < 255
