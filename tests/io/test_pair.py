import numpy as np
import pytest
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject

from terrasight.errors import BandSelectionError, PairAlignmentError
from terrasight.io.pair import open_pair, pixel_ratio


def _img(seed=0, shape=(3, 40, 60)):
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


def test_same_grid_is_used_as_is(make_raster):
    b = make_raster("b.tif", _img(0))
    a = make_raster("a.tif", _img(1))
    pair = open_pair(b, a)
    assert pair.same_grid and pair.shape == (40, 60)
    with pair.readers() as r:
        before, after, valid = r.read(pair.region)
    assert before.shape == after.shape == (3, 40, 60) and valid.all()


def test_different_extent_uses_overlap(make_raster):
    b = make_raster("b.tif", _img(0), transform=from_origin(500000, 5000000, 10, 10))
    # shifted 20 px east and 10 px south: overlap is 40 x 30 px of the before grid
    a = make_raster("a.tif", _img(1), transform=from_origin(500200, 4999900, 10, 10))
    pair = open_pair(b, a)
    assert not pair.same_grid
    assert (pair.region.col_off, pair.region.row_off) == (20, 10)
    assert pair.shape == (30, 40)
    assert any("overlap" in w for w in pair.warnings)
    with pair.readers() as r:
        _, after, valid = r.read(pair.region)
    assert valid.all()


def test_different_crs_is_reprojected(make_raster, tmp_path):
    data = _img(3, (3, 80, 80))
    src_t = from_origin(500000, 5000000, 10, 10)
    b = make_raster("b.tif", data, transform=src_t)
    # the same picture in Web Mercator
    dst = np.zeros((3, 90, 90), np.uint8)
    dst_t = from_origin(1669792.36, 5660000.0, 12.0, 12.0)
    import rasterio.warp

    left, bottom, right, top = rasterio.warp.transform_bounds(
        "EPSG:32633", "EPSG:3857", 500000, 5000000 - 800, 500800, 5000000
    )
    dst_t = from_origin(left, top, (right - left) / 90, (top - bottom) / 90)
    reproject(
        data,
        dst,
        src_transform=src_t,
        src_crs="EPSG:32633",
        dst_transform=dst_t,
        dst_crs="EPSG:3857",
        resampling=Resampling.nearest,
    )
    a = make_raster("a.tif", dst, crs="EPSG:3857", transform=dst_t)
    pair = open_pair(b, a, resampling="nearest")
    assert not pair.same_grid
    with pair.readers() as r:
        before, after, valid = r.read(pair.region)
    inner = (slice(None), slice(10, -10), slice(10, -10))
    agree = (before[inner] == after[inner]).mean()
    assert agree > 0.6  # nearest resampling round trip through another CRS


def test_no_overlap_names_both_files(make_raster):
    b = make_raster("b.tif", _img(0), transform=from_origin(500000, 5000000, 10, 10))
    a = make_raster("far.tif", _img(1), transform=from_origin(600000, 5000000, 10, 10))
    with pytest.raises(PairAlignmentError, match="do not overlap") as err:
        open_pair(b, a)
    assert "far.tif" in str(err.value) and "b.tif" in str(err.value)


def test_band_count_mismatch(make_raster):
    b = make_raster("b.tif", _img(0).astype(np.uint16))
    a = make_raster("a.tif", _img(1, (4, 40, 60)).astype(np.uint16))
    with pytest.raises(BandSelectionError, match="3 bands selected .* 4"):
        open_pair(b, a)
    pair = open_pair(b, a, bands=[1, 2, 3])
    assert pair.after.bands == (1, 2, 3)


def test_crs_on_one_side_only(make_raster):
    b = make_raster("b.tif", _img(0))
    a = make_raster("a.tif", _img(1), crs=None)
    with pytest.raises(PairAlignmentError, match="no CRS"):
        open_pair(b, a)


def test_pixel_space_pair_needs_same_size(make_raster):
    b = make_raster("b.tif", _img(0), crs=None)
    a = make_raster("a.tif", _img(1, (3, 41, 60)), crs=None)
    with pytest.raises(PairAlignmentError, match="same size"):
        open_pair(b, a)
    a2 = make_raster("a2.tif", _img(1), crs=None)
    assert open_pair(b, a2).same_grid


def test_pixel_sizes_far_apart_get_a_warning(make_raster):
    b = make_raster("b.tif", _img(0, (3, 40, 60)), transform=from_origin(500000, 5000000, 10, 10))
    coarse = make_raster(
        "c.tif", _img(1, (3, 20, 30)), transform=from_origin(500000, 5000000, 20, 20)
    )
    near = make_raster(
        "n.tif", _img(2, (3, 36, 54)), transform=from_origin(500000, 5000000, 11, 11)
    )
    pair = open_pair(b, coarse)
    assert pixel_ratio(pair.before, pair.after) == pytest.approx(2.0)
    said = [w for w in pair.warnings if "times as large" in w]
    assert len(said) == 1 and said[0].startswith("c.tif has pixels 2.0 times as large as b.tif")
    reverse = open_pair(coarse, b)
    assert any(w.startswith("c.tif has pixels 2.0 times") for w in reverse.warnings)
    assert not any("times as large" in w for w in open_pair(b, near).warnings)  # 1.1x: quiet


def test_match_detail_reads_the_finer_date_through_the_coarser_pixels(make_raster):
    from scipy import ndimage

    rng = np.random.default_rng(5)
    fine = ndimage.gaussian_filter(rng.normal(size=(3, 64, 64)), (0, 1, 1))
    fine = (120 + 60 * fine / fine.std()).clip(0, 255)
    coarse = fine.reshape(3, 32, 2, 32, 2).mean((2, 4))  # the same ground at 20 m
    b = make_raster(
        "b.tif", fine.astype(np.float32), transform=from_origin(500000, 5000000, 10, 10)
    )
    a = make_raster(
        "a.tif", coarse.astype(np.float32), transform=from_origin(500000, 5000000, 20, 20)
    )
    plain, matched = open_pair(b, a), open_pair(b, a, match_detail=True)
    assert not plain.degrade_before and matched.degrade_before
    assert any("averaged to them" in w for w in matched.warnings)
    inner = (slice(None), slice(4, -4), slice(4, -4))
    with plain.readers() as r:
        before, after, _ = r.read(plain.region)
    blurred_gap = np.abs(after - before)[inner].mean()
    with matched.readers() as r:
        before, after, _ = r.read(matched.region)
    assert np.abs(after - before)[inner].mean() < 0.2 * blurred_gap  # same detail on both
    finer_after = open_pair(a, b, match_detail=True)  # the after date is the finer one
    assert finer_after.resampling.name == "average" and not finer_after.degrade_before
