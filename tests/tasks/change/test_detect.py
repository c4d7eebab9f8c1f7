"""The whole change job on small real GeoTIFFs: outputs, tiling, resume and bad input."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio

from terrasight.errors import InvalidRasterError, OutputExistsError, UnknownMethodError
from terrasight.tasks.change.pipeline.detect import detect_changes as _detect_changes
from terrasight.tasks.change.pipeline.job import TILES_FILE


def detect_changes(*args, **kwargs):
    """These tests are about the pipeline: they run CVA, the fastest method, unless told."""
    kwargs.setdefault("method", "cva")
    return _detect_changes(*args, **kwargs)


def _f1(pred, truth):
    tp = ((pred == 1) & (truth == 1)).sum()
    fp = ((pred == 1) & (truth == 0)).sum()
    fn = ((pred == 0) & (truth == 1)).sum()
    return 2 * tp / (2 * tp + fp + fn)


@pytest.fixture
def big_pair(make_raster):
    """A 600x700 3-band pair with two planted changes and a global light change."""
    rng = np.random.default_rng(7)
    h, w = 600, 700
    base = rng.normal(110, 15, (3, h, w))
    truth = np.zeros((h, w), np.uint8)
    truth[100:160, 200:300] = 1  # crosses the 256-px tile border at row 256? no: fully inside
    truth[240:290, 500:540] = 1  # crosses the tile border at row 256
    after = base * 0.85 + 12 + rng.normal(0, 3, base.shape)
    after[:, truth == 1] = 235
    b = make_raster("big_b.tif", base.clip(0, 255).astype(np.uint8))
    a = make_raster("big_a.tif", after.clip(0, 255).astype(np.uint8))
    return b, a, truth


def test_planted_change_is_found_and_saved(planted_pair, tmp_path):
    before, after, truth = planted_pair
    out = tmp_path / "out"
    result = detect_changes(before, after, method="cva", outdir=out)
    mask = result.mask()
    assert mask.shape == truth.shape
    assert _f1(mask, truth) > 0.9
    assert len(result.objects) == 1
    obj = result.objects[0]
    assert obj.area_unit == "m2"
    assert obj.area == pytest.approx(obj.pixels * 100.0)
    assert obj.location == "centre"  # centroid at column 82 of 128, row 40 of 96
    paths = result.save(out)
    assert {p.name for p in paths.values()} == {
        "facts.json",
        "change_mask.tif",
        "change_probability.tif",
        "changes.geojson",
        "changes.gpkg",
        "summary.json",
        "report.html",
    }
    with rasterio.open(paths["mask"]) as ds:
        assert ds.crs.to_epsg() == 32633 and ds.dtypes[0] == "uint8" and ds.nodata == 255
        with rasterio.open(before) as src:
            assert ds.transform == src.transform
    summary = json.loads(paths["summary"].read_text())
    assert summary["object_count"] == 1 and summary["changed_pixels"] == int(mask.sum())
    gj = json.loads(paths["geojson"].read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 1
    lon, lat = gj["features"][0]["geometry"]["coordinates"][0][0]
    assert 14 < lon < 16 and 44 < lat < 46  # UTM 33N, 5000 km north


def test_geojson_properties_say_their_crs(planted_pair, tmp_path):
    before, after, _ = planted_pair
    result = detect_changes(before, after, method="cva", outdir=tmp_path / "out")
    gj = json.loads(result.save(tmp_path / "out", report=False)["geojson"].read_text())
    assert gj["terrasight:image_crs"] == "EPSG:32633" and "terrasight:coordinates" not in gj
    (feature,) = gj["features"]
    props = feature["properties"]
    assert "bbox" not in props and "centroid" not in props and "geometry" not in props
    west, south, east, north = props["bbox_wgs84"]
    lons, lats = zip(*feature["geometry"]["coordinates"][0], strict=True)
    assert west <= min(lons) and max(lons) <= east and south <= min(lats) and max(lats) <= north
    lon, lat = props["centroid_lonlat"]
    assert west < lon < east and south < lat < north
    c0, r0, c1, r1 = props["pixel_bbox"]
    assert abs(c0 - 70) <= 1 and abs(r0 - 30) <= 1 and abs(c1 - 94) <= 1 and abs(r1 - 50) <= 1
    x0, y0, x1, y1 = props["bbox_image_crs"]  # UTM 33N metres: 10 m pixels from (500000, 5000000)
    assert (x0, y0, x1, y1) == (
        500000 + 10 * c0,
        5000000 - 10 * r1,
        500000 + 10 * c1,
        5000000 - 10 * r0,
    )
    x, y = props["centroid_image_crs"]
    assert x0 < x < x1 and y0 < y < y1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["objects"][0]["bbox_wgs84"] == props["bbox_wgs84"]


def test_tiling_and_threads_do_not_change_the_answer(big_pair, tmp_path):
    b, a, truth = big_pair
    r1 = detect_changes(b, a, outdir=tmp_path / "one", tile_size=1024, workers=1)
    r2 = detect_changes(b, a, outdir=tmp_path / "many", tile_size=256, workers=2)
    assert np.array_equal(r1.mask(), r2.mask())
    assert np.allclose(r1.probability(), r2.probability(), equal_nan=True)
    assert len(r1.objects) == len(r2.objects) == 2
    assert _f1(r2.mask(), truth) > 0.9


def test_interrupted_job_resumes_without_duplicates(big_pair, tmp_path):
    b, a, _ = big_pair
    out = tmp_path / "job"
    calls = []

    def stop_after_two_tiles(n, total):
        calls.append(n)
        if len([c for c in calls if c]) >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        detect_changes(b, a, outdir=out, tile_size=256, workers=1, progress=stop_after_two_tiles)
    assert not (out / "change_mask.tif").exists()
    lines = (out / TILES_FILE).read_text().splitlines()
    assert 1 <= len(lines) <= 3
    seen = []
    resumed = detect_changes(
        b, a, outdir=out, tile_size=256, workers=1, progress=lambda n, t: seen.append(n)
    )
    records = [json.loads(x)["tile"] for x in (out / TILES_FILE).read_text().splitlines()]
    assert len(records) == len(set(records)) == 9  # 3x3 tiles, each once
    assert seen[0] > 0  # the resumed run started from the finished pixels
    fresh = detect_changes(b, a, outdir=tmp_path / "fresh", tile_size=256, workers=1)
    assert np.array_equal(resumed.mask(), fresh.mask())
    assert resumed.valid_pixels == fresh.valid_pixels == 600 * 700


def test_a_job_with_nan_nodata_resumes(big_pair, tmp_path):
    b, a, _ = big_pair
    out = tmp_path / "job"
    first = detect_changes(b, a, outdir=out, nodata=float("nan"), method="cva")
    again = detect_changes(b, a, outdir=out, nodata=float("nan"), method="cva")  # not refused
    assert again.changed_pixels == first.changed_pixels


@pytest.mark.parametrize("seconds", [0.0, 3600.0])
def test_each_tile_is_on_disk_before_it_is_journalled(big_pair, tmp_path, monkeypatch, seconds):
    """A tile recorded as done must survive a machine crash: both part files are
    fsynced before the journal lines, and the journal lines themselves are fsynced;
    tiles are committed in groups at most every ``COMMIT_SECONDS``."""
    from terrasight.tasks.change.pipeline import tiles

    monkeypatch.setattr(tiles, "COMMIT_SECONDS", seconds)
    b, a, _ = big_pair
    events = []
    real_fsync = os.fsync

    def fsync(fd):
        events.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    detect_changes(b, a, outdir=tmp_path / "job", tile_size=256, workers=2)
    journal = [i for i, name in enumerate(events) if name == TILES_FILE]
    assert len(journal) == (9 if seconds == 0 else 1)  # per tile, or all in one group
    assert len((tmp_path / "job" / TILES_FILE).read_text().splitlines()) == 9
    for i in journal:
        before = events[max(0, i - 2) : i]
        assert sorted(n.split(".")[0] for n in before) == ["change_mask", "change_probability"]


def test_other_job_in_same_folder_is_refused(planted_pair, big_pair, tmp_path):
    out = tmp_path / "out"
    detect_changes(*planted_pair[:2], outdir=out)
    with pytest.raises(OutputExistsError, match="different change job"):
        detect_changes(*big_pair[:2], outdir=out)
    again = detect_changes(*big_pair[:2], outdir=out, overwrite=True)
    assert again.width == 700


def test_all_nodata_image_is_a_clear_error(make_raster, planted_pair):
    before, _, _ = planted_pair
    empty = make_raster("empty.tif", np.zeros((3, 96, 128), np.uint8), nodata=0)
    with pytest.raises(InvalidRasterError, match="empty.tif"):
        detect_changes(before, empty)


def test_nodata_is_excluded_and_marked(make_raster, planted_pair):
    before, after, truth = planted_pair
    with rasterio.open(after) as ds:
        data = ds.read()
    data[:, :, :10] = 0
    holed = make_raster("holed.tif", data, nodata=0)
    result = detect_changes(before, holed)
    mask = result.mask()
    assert (mask[:, :10] == 255).all()
    assert result.valid_pixels == 96 * 118
    assert np.isnan(result.probability()[:, :10]).all()


def test_unknown_method_lists_alternatives(planted_pair):
    with pytest.raises(UnknownMethodError, match="Available: .*cva"):
        detect_changes(*planted_pair[:2], method="magic")


def test_after_image_in_another_crs_is_resampled_onto_the_before_grid(planted_pair, tmp_path):
    import rasterio.warp
    from rasterio.transform import from_origin

    before, after, truth = planted_pair
    with rasterio.open(after) as src:
        data, profile = src.read(), src.profile
        left, bottom, right, top = rasterio.warp.transform_bounds(src.crs, "EPSG:3857", *src.bounds)
    dst_t = from_origin(left, top, (right - left) / 140, (top - bottom) / 110)
    dst = np.zeros((3, 110, 140), np.uint8)
    rasterio.warp.reproject(
        data,
        dst,
        src_transform=profile["transform"],
        src_crs=profile["crs"],
        dst_transform=dst_t,
        dst_crs="EPSG:3857",
        resampling=rasterio.warp.Resampling.nearest,
    )
    moved = tmp_path / "after_3857.tif"
    profile.update(crs="EPSG:3857", transform=dst_t, width=140, height=110)
    with rasterio.open(moved, "w", **profile) as ds:
        ds.write(dst)
    result = detect_changes(before, moved, outdir=tmp_path / "o")
    with rasterio.open(result.mask_path) as ds, rasterio.open(before) as ref:
        assert ds.crs == ref.crs
    assert any("resampled onto the grid" in w for w in result.warnings)
    mask = result.mask()
    inner = (slice(3, -3), slice(3, -3))  # the reprojected edge may fall outside
    assert _f1(mask[inner] == 1, truth[inner] == 1) > 0.8
