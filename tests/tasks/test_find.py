"""find: a harbour inside a mosaic of real AID photos, as a heat map and polygons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from terrasight.cli import main  # noqa: E402
from terrasight.errors import InvalidOptionError  # noqa: E402
from terrasight.tasks.find import best_regions, find  # noqa: E402


@pytest.fixture
def mosaic(shared_data: Path, make_raster) -> Path:
    """A 3 x 3 mosaic of 150 px AID photos (EPSG:32633, 2 m): forest, with a port in the
    middle of the east column."""
    forests = sorted((shared_data / "aid" / "Forest").glob("*.jpg"))[:8]
    port = sorted((shared_data / "aid" / "Port").glob("*.jpg"))[0]
    photos = forests[:5] + [port] + forests[5:]
    data = np.zeros((3, 450, 450), np.uint8)
    for i, path in enumerate(photos):
        r, c = divmod(i, 3)
        with Image.open(path) as img:
            data[:, r * 150 : (r + 1) * 150, c * 150 : (c + 1) * 150] = np.asarray(
                img.convert("RGB")
            ).transpose(2, 0, 1)
    from rasterio.transform import from_origin

    return make_raster("mosaic.tif", data, transform=from_origin(500000.0, 5000000.0, 2.0, 2.0))


def test_the_harbour_is_found_where_it_is(mosaic: Path, tmp_path: Path):
    heat = tmp_path / "heat.tif"
    found = find("many boats in a harbour", mosaic, heat, scales=(150, 300), overlap=0.5)
    assert found.tiles == 25 + 4  # 150 px tiles every 75 px, 300 px every 150 px
    with rasterio.open(heat) as ds:
        assert ds.crs.to_epsg() == 32633 and ds.res == (150.0, 150.0) and ds.shape == (6, 6)
        grid = ds.read(1)
    assert np.isfinite(grid).all()
    # the port block is rows 150..300, columns 300..450: heat cells 2..3 x 4..5
    assert grid[2:4, 4:6].mean() > np.delete(grid.ravel(), [16, 17, 22, 23]).max() - 0.02
    best = shapely.geometry.shape(found.regions[0].geometry)
    port = shapely.box(500000 + 600, 5000000 - 600, 500000 + 900, 5000000 - 300)
    assert best.intersection(port).area > 0.5 * best.area
    fc = found.to_geojson()
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert 14.99 < lon < 15.02 and 45.14 < lat < 45.16
    assert fc["features"][0]["properties"]["rank"] == 1


def test_cli_writes_the_geojson_and_the_heat_map(mosaic: Path, tmp_path: Path):
    out = tmp_path / "where.geojson"
    run = CliRunner().invoke(
        main, ["find", "a harbour", str(mosaic), "-o", str(out), "--scales", "150", "-q"]
    )
    assert run.exit_code == 0, run.output
    assert json.loads(out.read_text())["features"] and (tmp_path / "where.heat.tif").is_file()
    bad = CliRunner().invoke(main, ["find", "x", str(tmp_path / "none.tif")])
    assert bad.exit_code == 4 and "not found" in bad.output and "Traceback" not in bad.output
    with pytest.raises(InvalidOptionError, match="scales"):
        find("x", mosaic, tmp_path / "h.tif", scales=(8,))


def test_a_url_is_scored_like_the_local_file(mosaic: Path, range_server, tmp_path: Path):
    """The same scene over HTTP (range requests) gives the very heat map and regions."""
    import shutil

    shutil.copy(mosaic, range_server.root / "mosaic.tif")
    url = range_server.url("mosaic.tif")
    text = "many boats in a harbour"
    local = find(text, mosaic, tmp_path / "local.tif", scales=(150,))
    remote = find(text, url, tmp_path / "remote.tif", scales=(150,))
    assert remote.scene == url and remote.tiles == local.tiles == 25
    assert range_server.ranges and range_server.sent > 0
    with rasterio.open(tmp_path / "local.tif") as a, rasterio.open(tmp_path / "remote.tif") as b:
        assert np.array_equal(a.read(1), b.read(1), equal_nan=True) and a.crs == b.crs
    assert [r.geometry for r in remote.regions] == [r.geometry for r in local.regions]
    port = shapely.box(500000 + 600, 5000000 - 600, 500000 + 900, 5000000 - 300)
    best = shapely.geometry.shape(remote.regions[0].geometry)
    assert best.intersection(port).area > 0.5 * best.area

    out = tmp_path / "where.geojson"
    run = CliRunner().invoke(main, ["find", text, url, "-o", str(out), "--scales", "150", "-q"])
    assert run.exit_code == 0, run.output
    features = json.loads(out.read_text())["features"]
    assert features and features[0]["properties"]["scene"] == url
    assert f"of {url} for" in run.output


def test_regions_are_the_connected_groups_of_the_best_cells():
    heat = np.zeros((10, 10), np.float32)
    heat[1:3, 1:3] = 1.0  # 4 cells
    heat[7, 7] = 0.9
    regions = best_regions(heat, rasterio.Affine.identity(), top=5)
    assert [(r.cells, round(r.score, 2)) for r in regions] == [(4, 1.0), (1, 0.9)]
    assert shapely.geometry.shape(regions[0].geometry).equals(shapely.box(1, 1, 3, 3))
    assert best_regions(np.full((3, 3), np.nan, np.float32), rasterio.Affine.identity()) == []


def test_memory_does_not_grow_with_the_scene(make_raster, tmp_path: Path):
    """Peak Python-side memory of a 4096 px scene stays that of a 2048 px one (both hold more
    tiles than a batch): tiles are read and scored a batch at a time, never the whole scene."""
    import tracemalloc

    from rasterio.transform import from_origin

    from terrasight.models.runtime import ModelCache

    cache = ModelCache()
    peaks = {}
    for side in (2048, 4096):
        rng = np.random.default_rng(side)
        data = rng.integers(0, 255, size=(3, side, side), dtype=np.uint8)
        scene = make_raster(
            f"s{side}.tif",
            data,
            transform=from_origin(500000.0, 5000000.0, 1.0, 1.0),
            tiled=True,
            blockxsize=256,
            blockysize=256,
        )
        find("a harbour", scene, tmp_path / "warm.tif", scales=(448,), overlap=0.0, cache=cache)
        tracemalloc.start()
        find("a harbour", scene, tmp_path / f"h{side}.tif", scales=(448,), overlap=0.0, cache=cache)
        peaks[side] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    scene_bytes = 3 * 4096 * 4096
    assert peaks[4096] < 0.75 * scene_bytes, peaks  # never the whole scene at once
    assert peaks[4096] < 1.3 * peaks[2048], peaks  # 4x the pixels, not 4x the memory
