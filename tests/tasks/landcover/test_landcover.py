"""Land cover per pixel: the API on a real Dubai crop and on synthetic rasters, and its errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from terrasight.errors import (
    BandSelectionError,
    InvalidOptionError,
    OutputExistsError,
    RasterReadError,
)
from terrasight.models.onnx_landcover import load_landcover_network
from terrasight.tasks.landcover import (
    CLASSES,
    classes_of,
    classify_window,
    landcover,
    spectral_rules,
)
from terrasight.training.landcover_data import mask_to_labels

PIXEL = 0.5
"""Pixel size (m) given to the test rasters."""


@pytest.fixture(scope="module")
def network():
    return load_landcover_network()


def _write(path: Path, data: np.ndarray, **extra) -> Path:
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=str(data.dtype),
        crs="EPSG:32640",
        transform=from_origin(300000, 2800000, PIXEL, PIXEL),
        **extra,
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


@pytest.fixture
def dubai_crop(shared_data: Path, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 384 x 320 crop of a validation-tile image as a GeoTIFF with a made-up UTM CRS."""
    tile = shared_data / "landcover" / "dubai" / "tile1"
    if not tile.is_dir():
        pytest.skip(f"no land-cover tile at {tile}")
    with Image.open(tile / "images" / "image_part_001.jpg") as im:
        image = np.asarray(im.convert("RGB"))[:320, :384].transpose(2, 0, 1)
    with Image.open(tile / "masks" / "image_part_001.png") as mk:
        labels = mask_to_labels(np.asarray(mk.convert("RGB")))[:320, :384]
    return _write(tmp_path / "crop.tif", np.ascontiguousarray(image)), labels


def test_real_crop_outputs(dubai_crop, network, tmp_path: Path) -> None:
    path, labels = dubai_crop
    result = landcover(path, tmp_path / "out", network=network, options={"tile_size": 256})
    with rasterio.open(result.files["raster"]) as ds:
        classes = ds.read(1)
        assert ds.dtypes[0] == "uint8" and ds.nodata == 255 and ds.crs.to_epsg() == 32640
        assert ds.transform == from_origin(300000, 2800000, PIXEL, PIXEL)
        assert json.loads(ds.tags()["classes"])["0"] == "building"
        assert ds.colormap(1)[2][:3] != ds.colormap(1)[3][:3]
    assert set(np.unique(classes)) <= set(range(len(CLASSES)))
    # areas are pixels x 0.25 m2 and add up to the whole (valid) crop
    assert result.unit == "m2"
    assert result.valid_area == pytest.approx(384 * 320 * PIXEL**2)
    for i, name in enumerate(CLASSES):
        assert result.areas[name] == pytest.approx((classes == i).sum() * PIXEL**2)
    # the network is right on most labelled pixels of this validation crop
    keep = labels != 255
    assert (classes[keep] == labels[keep]).mean() > 0.6
    with sqlite3.connect(result.files["geopackage"]) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM landcover").fetchone()
        names = {r[0] for r in db.execute("SELECT DISTINCT name FROM landcover")}
    geojson = json.loads(Path(result.files["geojson"]).read_text())
    assert count == len(geojson["features"]) > 0
    assert names <= set(CLASSES[:5]) and names
    summary = json.loads(Path(result.files["summary"]).read_text())
    assert summary["areas"]["bare"] == pytest.approx(result.areas["bare"], abs=0.01)
    report = Path(result.files["report"]).read_text()
    assert "data:image/png;base64" in report and "vegetation" in report


def test_windows_agree_with_one_window(dubai_crop, network) -> None:
    path, _ = dubai_crop
    whole = landcover(path, network=network, options={"tile_size": 512}).classes
    tiled = landcover(path, network=network, options={"tile_size": 128, "overlap": 48}).classes
    assert whole is not None and tiled is not None
    assert (whole == tiled).mean() > 0.9


def _synthetic(nir: bool) -> np.ndarray:
    """Bare sand with a dark blue pond (left) and a green field (right); uint16 with NIR."""
    h, w = 192, 256
    img = np.empty((4 if nir else 3, h, w), np.float32)
    img[:3] = np.array([190, 170, 140], np.float32)[:, None, None]
    img[:3, 40:150, 20:110] = np.array([20, 40, 90], np.float32)[:, None, None]
    img[:3, 40:150, 146:236] = np.array([50, 110, 40], np.float32)[:, None, None]
    rng = np.random.default_rng(0)
    img[:3] += rng.normal(0, 4, (3, h, w))
    if nir:
        img[3] = 160
        img[3, 40:150, 20:110] = 5
        img[3, 40:150, 146:236] = 240
    return np.clip(img, 1, 255)


def test_synthetic_with_nir_applies_spectral_rules(tmp_path: Path, network) -> None:
    data = (_synthetic(True) * 40).astype(np.uint16)
    path = _write(tmp_path / "s.tif", data, nodata=0)
    with rasterio.open(path, "r+") as ds:
        ds.descriptions = ("red", "green", "blue", "nir")
    result = landcover(path, tmp_path / "out", network=network)
    assert result.spectral
    with rasterio.open(result.files["raster"]) as ds:
        classes = ds.read(1)
    assert (classes[50:140, 30:100] == 2).mean() > 0.95  # water from NDWI
    assert (classes[50:140, 156:226] == 3).mean() > 0.95  # vegetation from NDVI
    assert any("uint16" in n for n in result.notes)


def test_synthetic_rgb_nodata_is_left_out(tmp_path: Path, network) -> None:
    data = _synthetic(False).astype(np.uint8)
    data[:, :, :32] = 0  # a nodata strip on the left
    path = _write(tmp_path / "rgb.tif", data, nodata=0)
    result = landcover(path, network=network)
    assert result.classes is not None and not result.spectral
    assert (result.classes[:, :32] == 255).all() and (result.classes[:, 32:] != 255).all()
    assert result.valid_area == pytest.approx(192 * (256 - 32) * PIXEL**2)


def test_pixel_units_without_crs(tmp_path: Path, network) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(_synthetic(False).astype(np.uint8).transpose(1, 2, 0)).save(path)
    result = landcover(path, network=network)
    assert result.unit == "px" and result.valid_area == 192 * 256
    assert any("no CRS" in n for n in result.notes)


def test_classify_window_and_rules(network) -> None:
    prob = classify_window(_synthetic(False)[:, :96, :128], network)
    assert prob.shape == (5, 96, 128)
    assert np.allclose(prob.sum(0), 1, atol=0.02)  # 8-bit outputs
    classes = classes_of(prob, 1.01)
    assert (classes == 5).all()  # nothing reaches a threshold above 1
    red, green, nir = (np.array([[v]], np.float32) for v in (0.05, 0.08, 0.5))
    classes = np.zeros((1, 1), np.uint8)
    assert not spectral_rules(classes, red, green, nir).any() and classes[0, 0] == 3


def test_water_that_is_bright_in_nir_is_not_water() -> None:
    # network: water everywhere; NIR above green on the left half (woods), below on the right
    classes = np.full((4, 6), 2, np.uint8)
    red = np.full((4, 6), 300.0)
    green = np.full((4, 6), 400.0)
    nir = np.where(np.arange(6) < 3, 600.0, 150.0) * np.ones((4, 1))
    prob = np.zeros((5, 4, 6), np.float32)
    prob[2], prob[3] = 0.6, 0.35
    prob[3, 0] = 0.55  # the first row's next class is sure enough
    veto = spectral_rules(classes, red, green, nir, prob, 0.5)
    assert veto[:, :3].all() and not veto[:, 3:].any()
    assert (classes[:, 3:] == 2).all()  # NDWI 0.45: water stays
    assert (classes[0, :3] == 3).all()  # vegetation, the next class
    assert (classes[1:, :3] == 5).all()  # next class unsure: unknown


def test_dark_woods_called_water_by_the_network_are_not_water(tmp_path: Path, network) -> None:
    data = (_synthetic(True) * 40).astype(np.uint16)
    data[3, 40:150, 20:110] = 58 * 40  # NIR above green (NDWI about -0.18), NDVI below 0.5
    path = _write(tmp_path / "woods.tif", data, nodata=0)
    with rasterio.open(path, "r+") as ds:
        ds.descriptions = ("red", "green", "blue", "nir")
    rgb_only = landcover(path, bands=["red", "green", "blue"], network=network)
    with_nir = landcover(path, network=network)
    assert rgb_only.classes is not None and with_nir.classes is not None
    block = (slice(50, 140), slice(30, 100))
    assert (rgb_only.classes[block] == 2).mean() > 0.5  # the network alone: water
    assert (with_nir.classes[block] == 2).mean() < 0.05  # a few noisy pixels at NDWI > -0.1
    assert any("near-infrared took water away" in n for n in with_nir.notes)


def test_bad_inputs(tmp_path: Path, network) -> None:
    with pytest.raises(RasterReadError, match="missing.tif"):
        landcover(tmp_path / "missing.tif", network=network)
    one = _write(tmp_path / "one.tif", np.zeros((1, 32, 32), np.uint8))
    with pytest.raises(BandSelectionError, match="red, green and blue"):
        landcover(one, network=network)
    rgb = _write(tmp_path / "rgb.tif", _synthetic(False).astype(np.uint8))
    with pytest.raises(InvalidOptionError, match="tile_sise"):
        landcover(rgb, network=network, options={"tile_sise": 256})
    landcover(rgb, tmp_path / "o", network=network, report=False)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        landcover(rgb, tmp_path / "o", network=network)
