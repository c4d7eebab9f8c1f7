"""STAC Items as images: bands by common name, relative and absolute hrefs, one grid, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rasterio.windows import Window

from terrasight.errors import BandSelectionError, RemoteReadError, StacError
from terrasight.io import open_raster
from terrasight.io.stac import load_item, sniff_item
from terrasight.tasks.change.pipeline.job import file_identity


def test_an_item_opens_as_its_blue_green_red_nir(stac_scenes):
    src = open_raster(stac_scenes.before_url)
    assert src.band_names == ("blue", "green", "red", "nir")
    assert (src.width, src.height, src.res) == (1024, 1024, (10.0, 10.0))
    assert src.scene.id == "S2_20230614" and src.scene.cloud_cover == 4.0
    assert src.scene.datetime.isoformat().startswith("2023-06-14T10:00")
    with src.open() as ds:
        assert ds.scales == (0.0001,) * 4 and ds.nodata == 0
        red = ds.read(3, window=Window(10, 10, 4, 4))
    direct = open_raster(stac_scenes.hrefs["before"]["red"])
    with direct.open() as ds:
        assert (ds.read(1, window=Window(10, 10, 4, 4)) == red).all()


def test_relative_and_absolute_hrefs_and_local_items_read_the_same_pixels(stac_scenes):
    window = Window(330, 330, 8, 8)
    reads = []
    for source in (stac_scenes.after_url, stac_scenes.after_file):
        with open_raster(source, bands=["nir"]).open() as ds:
            reads.append(ds.read(1, window=window))
    local = json.loads(stac_scenes.before_file.read_text())  # relative hrefs, local item
    assert local["assets"]["B08"]["href"] == "./B08.tif"
    with open_raster(stac_scenes.before_file, bands=["nir"]).open() as ds:
        before = ds.read(1, window=window)
    assert (reads[0] == reads[1]).all() and (reads[0] > before + 2000).all()


def test_bands_by_common_name_put_20m_on_the_10m_grid(stac_scenes):
    src = open_raster(stac_scenes.before_url, bands=["swir16", "red"])
    assert src.band_names == ("swir16", "red") and src.bands == (1, 2)
    assert (src.width, src.height) == (1024, 1024)
    coarse = open_raster(stac_scenes.hrefs["before"]["swir16"])
    with src.open() as ds, coarse.open() as cs:
        fine = ds.read(1, window=Window(100, 60, 4, 4))
        value = cs.read(1, window=Window(50, 30, 2, 2))
    assert (fine[:2, :2] == value[0, 0]).all() and (fine[2:, 2:] == value[1, 1]).all()
    assert open_raster(stac_scenes.before_url, bands=["B04"]).band_names == ("red",)
    assert open_raster(stac_scenes.before_url, bands=[3]).bands == (3,)


def test_the_identity_changes_with_the_item(stac_scenes):
    first = file_identity(open_raster(stac_scenes.before_file).path)
    assert file_identity(open_raster(stac_scenes.before_file).path) == first
    item = json.loads(stac_scenes.before_file.read_text())
    item["properties"]["eo:cloud_cover"] = 50.0
    stac_scenes.before_file.write_text(json.dumps(item))
    again = open_raster(stac_scenes.before_file)
    assert again.scene.cloud_cover == 50.0
    second = file_identity(again.path)
    assert second["path"] == first["path"] and second != first


def test_items_are_found_by_name_or_content(stac_scenes, tmp_path):
    assert sniff_item(stac_scenes.hrefs["before"]["red"]) is None
    plain = tmp_path / "item"
    plain.write_text(stac_scenes.before_file.read_text())
    assert sniff_item(plain).data["id"] == "S2_20230614"
    root = stac_scenes.server.root
    (root / "item").write_bytes(stac_scenes.before_file.read_bytes())
    (root / "raster").write_bytes((root / "2023" / "B04.tif").read_bytes())
    assert sniff_item(stac_scenes.server.url("item")).data["id"] == "S2_20230614"
    assert sniff_item(stac_scenes.server.url("raster")) is None


def test_not_an_item_a_missing_band_and_a_missing_asset_are_one_line(stac_scenes, tmp_path):
    collection = tmp_path / "c.json"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(StacError, match="not a STAC Item: it is a FeatureCollection"):
        open_raster(collection)
    with pytest.raises(BandSelectionError, match="no asset with the band 'swir22'") as err:
        open_raster(stac_scenes.before_url, bands=["red", "swir22"])
    assert "blue, green, nir, red, swir16" in str(err.value)
    (stac_scenes.server.root / "2023" / "B04.tif").unlink()
    with pytest.raises(RemoteReadError, match="asset 'B04'") as err:
        open_raster(stac_scenes.before_url, bands=["red"])
    assert stac_scenes.hrefs["before"]["red"] in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RemoteReadError, match="404") as err:
        load_item(stac_scenes.server.url("nope.json"))
    assert "nope.json" in str(err.value)


def test_a_window_reads_far_less_than_the_files(stac_scenes):
    src = open_raster(stac_scenes.before_url)
    stac_scenes.server.sent = 0
    with src.open() as ds:
        data = ds.read(window=Window(300, 300, 64, 64))
    assert data.shape == (4, 64, 64) and np.all(data > 0)
    total = sum(p.stat().st_size for p in (stac_scenes.server.root / "2023").glob("B0*.tif"))
    assert stac_scenes.server.sent < 0.15 * total, (stac_scenes.server.sent, total)


def test_without_blue_green_red_nir_the_finest_bands_are_taken(stac_scenes, tmp_path):
    item = json.loads(stac_scenes.before_file.read_text())
    hrefs = stac_scenes.hrefs["before"]
    item["assets"] = {k: v for k, v in item["assets"].items() if k in ("B04", "B11")}
    item["assets"]["B04"]["href"], item["assets"]["B11"]["href"] = hrefs["red"], hrefs["swir16"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(item))
    src = open_raster(partial)
    assert src.band_names == ("red",) and src.res == (10.0, 10.0)
    # Landsat names its only near infrared nir08: it stands in for nir
    landsat = json.loads(stac_scenes.before_file.read_text())
    for key, asset in landsat["assets"].items():
        if key in ("B02", "B03", "B04", "B08"):
            asset["href"] = hrefs[asset["eo:bands"][0]["common_name"]]
    landsat["assets"]["B08"]["eo:bands"] = [{"name": "B5", "common_name": "nir08"}]
    path = tmp_path / "landsat.json"
    path.write_text(json.dumps(landsat))
    assert open_raster(path).band_names == ("blue", "green", "red", "nir")
