"""index build over HTTP: rows named by URL, the same vectors as a local file, resume by HEAD."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from rasterio.transform import from_origin

from terrasight import index
from terrasight.cli import main
from terrasight.index.store import open_table
from terrasight.index.work import list_files, remote_state

from .conftest import OVERLAP, TILE, textured


def by_source(db: Path) -> dict[str, list[dict]]:
    """The table's rows grouped by source, each group in tile order."""
    out: dict[str, list[dict]] = {}
    for row in open_table(db).to_arrow().to_pylist():
        out.setdefault(row["source"], []).append(row)
    return {k: sorted(v, key=lambda r: r["tile"]) for k, v in out.items()}


def served(range_server, make_raster) -> tuple[Path, Path]:
    """Two GeoTIFFs in the served folder: uint8 dated by name, uint16 dated by tag."""
    import rasterio

    rng = np.random.default_rng(7)
    coast = make_raster("www/coast_20230615.tif", textured(rng, 3, 200, 232, 255).astype(np.uint8))
    inland = make_raster(
        "www/inland.tif",
        textured(rng, 4, 128, 128, 4000).astype(np.uint16),
        crs="EPSG:32632",
        transform=from_origin(300000.0, 5200000.0, 20.0, 20.0),
    )
    with rasterio.open(inland, "r+") as ds:
        ds.update_tags(ACQUISITION_DATE="2021-03-04")
    return coast, inland


def test_urls_are_indexed_like_their_local_files_and_named_by_url(
    range_server, make_raster, tmp_path: Path
):
    coast, inland = served(range_server, make_raster)
    urls = [range_server.url(p.name) for p in (coast, inland)]
    report = index.build(urls, tmp_path / "remote", tile=TILE, overlap=OVERLAP)
    assert (report.added, report.tiles_added, report.failures) == (2, 20 + 9, [])
    assert range_server.ranges  # read with range requests, not downloaded
    remote = by_source(tmp_path / "remote")
    assert sorted(remote) == sorted(urls)
    index.build([coast, inland], tmp_path / "local", tile=TILE, overlap=OVERLAP)
    local = by_source(tmp_path / "local")
    for url, path in zip(urls, (coast, inland), strict=True):
        got, want = remote[url], local[str(path.resolve())]
        assert [r["tile"] for r in got] == list(range(len(want)))
        for key in ("col", "row", "width", "height", "bbox", "crs", "date", "footprint"):
            assert [r[key] for r in got] == [r[key] for r in want], key
        assert np.allclose([r["vector"] for r in got], [r["vector"] for r in want], atol=1e-6)
        assert got[0]["source_size"] == path.stat().st_size and len(got[0]["source_hash"]) == 64
    assert str(remote[urls[0]][0]["date"]) == "2023-06-15"
    assert str(remote[urls[1]][0]["date"]) == "2021-03-04"
    assert remote[urls[1]][0]["crs"] == "EPSG:32632"
    assert remote[urls[0]][0]["bbox"] == [500000.0, 5000000.0 - 640.0, 500640.0, 5000000.0]


def test_a_second_build_of_urls_is_a_no_op_until_a_file_changes(
    range_server, make_raster, tmp_path: Path
):
    coast, inland = served(range_server, make_raster)
    urls = [range_server.url(p.name) for p in (coast, inland)]
    db = tmp_path / "db"
    index.build(urls, db, tile=TILE, overlap=OVERLAP)
    first = by_source(db)
    sent = range_server.sent
    again = index.build(urls, db, tile=TILE, overlap=OVERLAP)
    assert (again.added, again.unchanged, again.removed, again.tiles_added) == (0, 2, 0, 0)
    assert range_server.sent == sent  # only HEAD requests: no pixel was read again
    assert by_source(db) == first

    # another file behind the same URL: only it is indexed again
    shutil.copy(inland, range_server.root / "other.tif")
    os.replace(range_server.root / "other.tif", coast)
    changed = index.build(urls, db, tile=TILE, overlap=OVERLAP)
    assert (changed.added, changed.unchanged, changed.tiles_added) == (1, 1, 9)
    after = by_source(db)
    assert len(after[urls[0]]) == 9 and after[urls[0]][0]["crs"] == "EPSG:32632"
    assert after[urls[1]] == first[urls[1]]
    # a URL not among the sources keeps its rows (only missing local files lose theirs)
    only = index.build(urls[1:], db, tile=TILE, overlap=OVERLAP)
    assert (only.removed, only.unchanged) == (0, 1) and set(by_source(db)) == set(urls)


def test_the_cli_takes_urls_and_names_the_ones_it_cannot_read(
    range_server, make_raster, tmp_path: Path
):
    coast, _ = served(range_server, make_raster)
    url, missing = range_server.url(coast.name), range_server.url("nope.tif")
    db = tmp_path / "db"
    run = CliRunner().invoke(
        main,
        ["index", "build", url, missing, "--db", str(db), "--tile", str(TILE), "--overlap", "16"]
        + ["--json", "-q"],
    )
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    assert (summary["files_added"], summary["tiles_added"]) == (1, 20) and OVERLAP == 16
    assert [s["path"] for s in summary["skipped"]] == [missing]
    assert "404" in summary["skipped"][0]["reason"]
    assert list(by_source(db)) == [url]


def test_urls_are_never_globbed_and_unreachable_servers_keep_rows():
    url = "https://host/scenes/a.tif"
    assert list_files([url, Path(url), "/vsizip/scenes.zip/a.tif"]) == (
        ["/vsizip/scenes.zip/a.tif", url],
        [],
    )
    closed = remote_state("http://127.0.0.1:1/a.tif")
    assert not closed.known and len(closed.digest) == 64


def test_a_vsicurl_path_is_indexed_and_resumed_under_its_own_name(
    range_server, make_raster, tmp_path: Path
):
    coast, _ = served(range_server, make_raster)
    vsi = "/vsicurl/" + range_server.url(coast.name)
    assert remote_state(vsi).size == coast.stat().st_size
    db = tmp_path / "db"
    first = index.build([vsi], db, tile=TILE, overlap=OVERLAP)
    again = index.build([vsi], db, tile=TILE, overlap=OVERLAP)
    assert (first.added, first.tiles_added, again.unchanged, again.added) == (1, 20, 1, 0)
    rows = by_source(db)[vsi]
    assert str(rows[0]["date"]) == "2023-06-15" and rows[0]["crs"] == "EPSG:32633"


def test_an_example_image_behind_a_url_searches_like_its_local_file(
    range_server, make_raster, tmp_path: Path
):
    coast, inland = served(range_server, make_raster)
    db = tmp_path / "db"
    index.build([coast, inland], db, tile=TILE, overlap=OVERLAP)
    archive = index.open(db)
    local = archive.search(image=coast, k=5)
    remote = archive.search(image=range_server.url(coast.name), k=5)
    assert [h.source for h in remote.hits] == [h.source for h in local.hits]
    assert np.allclose([h.score for h in remote.hits], [h.score for h in local.hits], atol=1e-6)
    run = CliRunner().invoke(
        main, ["index", "search", "--db", str(db), "--image", range_server.url(coast.name)]
    )
    assert run.exit_code == 0, run.output
    assert coast.name in run.output
