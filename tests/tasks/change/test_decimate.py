"""One-pass block averages for the report's pictures give GDAL's decimated reads."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.tasks.change.output import decimate
from terrasight.tasks.change.output.decimate import read_averages, reduction_factors


def _gdal(ds, indexes, window, shape):
    out = (len(indexes),) + shape
    data = ds.read(indexes, window=window, out_shape=out, resampling=Resampling.average)
    masks = ds.read_masks(indexes, window=window, out_shape=out, resampling=Resampling.nearest)
    valid = (masks > 0).all(axis=0)
    if data.dtype.kind == "f":
        valid &= np.isfinite(data).all(axis=0)
    return data, valid


@pytest.mark.parametrize("nodata", [None, 0])
def test_integer_bands_match_gdal_average(make_raster, monkeypatch, nodata):
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (3, 256, 384)).astype(np.uint8)
    if nodata is not None:
        img[:, 40:90, 100:150] = 0  # blocks wholly and partly without data
    path = make_raster("img.tif", img, nodata=nodata, tiled=True)
    monkeypatch.setattr(decimate, "STRIP_BYTES", 3 * 384 * 16)  # many strips
    window = Window(0, 0, 384, 256)
    shapes = [(32, 48), (64, 96), (256, 384)]
    with rasterio.open(path) as ds:
        pictures = read_averages(ds, [1, 2, 3], window, shapes)
        assert pictures is not None
        for shape, (data, valid) in zip(shapes, pictures, strict=True):
            expected, ok = _gdal(ds, [1, 2, 3], window, shape)
            assert data.dtype == np.uint8 and data.shape == expected.shape
            np.testing.assert_array_equal(valid, ok)
            np.testing.assert_array_equal(data[:, valid], expected[:, ok])


def test_float_band_with_nan_matches_gdal_average(make_raster):
    rng = np.random.default_rng(6)
    prob = rng.random((128, 128)).astype(np.float32)
    prob[10:50, 20:27] = np.nan
    path = make_raster("p.tif", prob, nodata=float("nan"), tiled=True)
    window = Window(0, 0, 128, 128)
    with rasterio.open(path) as ds:
        ((data, valid),) = read_averages(ds, [1], window, [(16, 16)])
        expected, ok = _gdal(ds, [1], window, (16, 16))
    np.testing.assert_array_equal(valid, ok)
    np.testing.assert_allclose(data[:, valid], expected[:, ok], rtol=1e-6)


def test_sizes_that_do_not_divide_are_left_to_gdal(make_raster):
    assert reduction_factors(Window(0, 0, 2000, 2000), [(256, 256)]) is None
    assert reduction_factors(Window(0.5, 0, 64, 64), [(8, 8)]) is None
    assert reduction_factors(Window(16, 32, 64, 32), [(8, 16), (32, 64)]) == [(4, 4), (1, 1)]
    path = make_raster("s.tif", np.zeros((1, 30, 30), np.uint8))
    with rasterio.open(path) as ds:
        assert read_averages(ds, [1], Window(0, 0, 30, 30), [(7, 7)]) is None
