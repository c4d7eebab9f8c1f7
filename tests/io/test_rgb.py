"""Reading any image file as a small 8-bit RGB picture (photos and multi-band rasters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from terrasight.errors import BandSelectionError, RasterReadError
from terrasight.io.rgb import display_bands, read_rgb, stretch


def _describe(path: Path, names: list[str]) -> None:
    with rasterio.open(path, "r+") as ds:
        for i, name in enumerate(names, start=1):
            ds.set_band_description(i, name)


def test_display_bands_prefers_named_rgb() -> None:
    assert display_bands(["nir", "red", "green", "blue"]) == ([1, 2, 3], "red, green, blue")
    assert display_bands(["b1", "b2", "b3", "b4"])[0] == [0, 1, 2]
    assert display_bands(["swir16", "nir"]) == ([0], "swir16 (grey)")


def test_stretch_blacks_out_invalid_pixels() -> None:
    data = np.linspace(0, 1000, 48, dtype=np.float32).reshape(3, 4, 4)
    valid = np.ones((4, 4), bool)
    valid[0, 0] = False
    rgb = stretch(data, valid)
    assert rgb.shape == (4, 4, 3) and rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[3, 3].tolist() == [255, 255, 255]


def test_sentinel2_style_uint16_bands_are_picked_by_name_and_stretched(make_raster) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(800, 1200, size=(4, 40, 40)).astype(np.uint16)  # B02 B03 B04 B08
    data[2, :10, :10] = 4000  # a red patch in band 3 ("B04")
    path = make_raster("s2.tif", data)
    _describe(path, ["B02", "B03", "B04", "B08"])
    rgb = read_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (40, 40, 3)
    assert rgb[:10, :10, 0].min() == 255  # red channel saturates on the patch
    assert rgb[:10, :10, 2].mean() < 200  # blue is not the patched band
    assert rgb[20:, 20:, 0].max() < 255


def test_large_rasters_are_decimated_and_nodata_is_black(make_raster) -> None:
    data = np.full((3, 300, 200), 7, dtype=np.uint8)
    data[:, :30, :] = 0
    path = make_raster("big.tif", data, nodata=0)
    rgb = read_rgb(path, max_side=150)
    assert rgb.shape == (150, 100, 3)
    assert rgb[:10].max() == 0 and rgb[30:].min() == 7  # 8-bit data is kept as is


def test_band_selection_by_number_and_its_error(make_raster) -> None:
    data = np.stack([np.full((16, 16), v, np.uint8) for v in (10, 20, 30, 40)])
    path = make_raster("four.tif", data)
    assert read_rgb(path, bands=[4, 3, 2])[0, 0].tolist() == [40, 30, 20]
    with pytest.raises(BandSelectionError, match="band 9 does not exist"):
        read_rgb(path, bands=[9, 1, 2])


def test_photos_decode_like_pillow(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    png = tmp_path / "a.png"
    Image.fromarray(arr).save(png)
    assert np.array_equal(read_rgb(png), arr)
    assert read_rgb(png, max_side=40).shape == (30, 40, 3)


def test_missing_and_broken_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(RasterReadError, match="file not found"):
        read_rgb(tmp_path / "nope.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(RasterReadError, match="broken.jpg: cannot be decoded"):
        read_rgb(broken)
