"""Relative radiometric normalisation: orthogonal regression over invariant pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from terrasight.tasks.change.methods import irmad
from terrasight.tasks.change.methods.normalize import (
    Normalization,
    fit_normalization,
    normalize_samples,
    orthogonal_fit,
    restore_normalization,
)

GAINS = np.array([0.7, 1.3, 0.9])
OFFSETS = np.array([20.0, -15.0, 40.0])


def pixels(n: int = 20000, noise: float = 1.0, seed: int = 0):
    """``before = gain * after_true + offset`` with the same noise on both dates."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(20, 200, size=(n, 3))
    after = truth + rng.normal(0, noise, truth.shape)
    before = truth * GAINS + OFFSETS + rng.normal(0, noise, truth.shape)
    return before, after


def test_recovers_gain_and_offset_within_2_percent():
    before, after = pixels()
    norm = fit_normalization(before, after, np.ones(len(before)))
    np.testing.assert_allclose(norm.gains, GAINS, rtol=0.02)
    np.testing.assert_allclose(norm.offsets, OFFSETS, rtol=0.02)
    assert norm.invariant_pixels == len(before)


def test_orthogonal_regression_is_symmetric_unlike_least_squares():
    before, after = pixels(noise=15.0)
    g_ab, _ = orthogonal_fit(after[:, 0], before[:, 0])
    g_ba, _ = orthogonal_fit(before[:, 0], after[:, 0])
    assert g_ab * g_ba == pytest.approx(1.0, rel=1e-9)
    ols = np.polyfit(after[:, 0], before[:, 0], 1)[0]
    assert abs(g_ab - GAINS[0]) < abs(ols - GAINS[0])


def test_changed_pixels_with_low_weight_are_ignored():
    before, after = pixels(seed=1)
    weights = np.ones(len(before))
    before[:4000] = 250.0  # changed: nothing like the others
    weights[:4000] = 0.05
    norm = fit_normalization(before, after, weights)
    assert norm.invariant_pixels == len(before) - 4000
    np.testing.assert_allclose(norm.gains, GAINS, rtol=0.02)


def test_soft_weights_when_few_pixels_are_invariant():
    before, after = pixels(n=500, seed=2)
    norm = fit_normalization(before, after, np.full(len(before), 0.5))
    assert norm.invariant_pixels == 500
    np.testing.assert_allclose(norm.gains, GAINS, rtol=0.02)


def test_constant_bands():
    rng = np.random.default_rng(3)
    before = np.column_stack([np.full(300, 7.0), rng.uniform(0, 9, 300), np.full(300, 1.0)])
    after = np.column_stack([rng.uniform(0, 9, 300), np.full(300, 3.0), np.full(300, 2.0)])
    norm = fit_normalization(before, after, np.ones(300))
    assert np.isfinite(norm.gains).all() and np.isfinite(norm.offsets).all()
    assert norm.gains[0] == pytest.approx(0.0, abs=1e-9)  # before band is flat
    assert norm.gains[2] == 1.0 and norm.offsets[2] == -1.0  # both flat: shift the mean


def test_apply_and_round_trip():
    norm = Normalization((0.5, 2.0), (1.0, -3.0), 42)
    image = np.arange(12, dtype=np.uint16).reshape(2, 2, 3)
    out = norm.apply(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out[0], image[0] * 0.5 + 1)
    np.testing.assert_allclose(out[1], image[1] * 2.0 - 3)
    assert restore_normalization(json.loads(json.dumps(norm.params()))) == norm
    with pytest.raises(ValueError, match="bands"):
        norm.apply(np.zeros((3, 2, 2)))


def test_mismatched_pixels():
    with pytest.raises(ValueError):
        fit_normalization(np.zeros((10, 2)), np.zeros((10, 3)), np.ones(10))


def test_irmad_normalisation_of_rasters(make_raster):
    """End to end on GeoTIFFs: IR-MAD's invariant pixels normalise the after image."""
    rng = np.random.default_rng(4)
    truth = rng.uniform(20, 200, size=(3, 96, 96))
    after = truth + rng.normal(0, 1, truth.shape)
    before = truth * GAINS[:, None, None] + OFFSETS[:, None, None] + rng.normal(0, 1, truth.shape)
    before[:, 10:40, 10:40] = 255.0 - before[:, 10:40, 10:40]  # a changed area
    paths = (
        make_raster("b.tif", before.astype(np.float32)),
        make_raster("a.tif", after.astype(np.float32)),
    )
    with rasterio.open(paths[0]) as b, rasterio.open(paths[1]) as a:
        samples = [(b.read(), a.read(), np.ones((96, 96), bool))]
    norm = irmad.fit_relative_normalization(samples)
    np.testing.assert_allclose(norm.gains, GAINS, rtol=0.02)
    ((_, normalized, _),) = normalize_samples(samples, norm)
    unchanged = np.ones((96, 96), bool)
    unchanged[10:40, 10:40] = False
    residual = normalized[:, unchanged] - samples[0][0][:, unchanged]
    assert np.abs(residual.mean(axis=1)).max() < 0.5
    assert irmad.fit(samples).params()["normalization"]["gains"] == list(norm.gains)
