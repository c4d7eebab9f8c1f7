"""The pair statistics of benchmarks/sar_noise_evidence.py measure what the docs say they do."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(
            "sar_noise_evidence", BENCH / "sar_noise_evidence.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


evidence = _load()


def _scene(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A smooth field from 20 to 220, no noise of its own."""
    field = ndimage.gaussian_filter(rng.random((size, size)), 6)
    return 20 + 200 * (field - field.min()) / (field.max() - field.min())


def test_speckle_grows_with_brightness_and_is_not_shared_between_dates():
    rng = np.random.default_rng(0)
    scene = _scene(rng)
    before, after = (scene * rng.gamma(4, 0.25, scene.shape) for _ in range(2))
    stats = evidence.statistics(before, after)
    assert 0.7 < stats["slope"] < 1.3
    assert stats["fine_xcorr"] < 0.2
    assert abs(stats["lr_lag1"]) < 0.2


def test_additive_noise_does_not_grow_and_texture_is_shared():
    rng = np.random.default_rng(1)
    scene = _scene(rng)
    texture = 12 * (ndimage.gaussian_filter(rng.normal(size=scene.shape), 0.7) > 0)
    before, after = (scene + texture + rng.normal(0, 2, scene.shape) for _ in range(2))
    stats = evidence.statistics(before, after)
    assert abs(stats["slope"]) < 0.3
    assert stats["fine_xcorr"] > 0.6


def test_separation_counts_the_optical_pairs_on_the_radar_side():
    rows = [
        {"name": "a", "group": "sar", "noise_floor": 0.4},
        {"name": "b", "group": "sar", "noise_floor": 0.5},
        {"name": "c", "group": "optical", "noise_floor": 0.45},
        {"name": "d", "group": "optical", "noise_floor": 0.1},
        {"name": "e", "group": "simulated", "noise_floor": 0.2},
    ]
    out = evidence.separation(rows, "noise_floor")
    assert out["optical_alarms"] == 1 and out["alarm_pairs"] == ["c"]
    assert out["simulated_missed"] == 1 and out["sar"] == [0.4, 0.5]
