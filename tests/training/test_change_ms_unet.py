"""Training and export of the ms-unet network, on a tiny city made here (a few steps)."""

from __future__ import annotations

import numpy as np
import pytest

from terrasight.tasks.change.methods.ms_unet_net import CHANNELS, UnetRunner
from terrasight.training.change_ms_unet import (
    CITY_FOLDS,
    CityArrays,
    UnetTrainConfig,
    build_unet,
    choose_threshold,
    export_onnx,
    fit_unet,
    predict,
)

pytest.importorskip("torch")
pytest.importorskip("onnx")


def _city(seed: int) -> CityArrays:
    rng = np.random.default_rng(seed)
    before = rng.normal(0, 0.3, (6, 64, 64)).astype(np.float32)
    after = before + rng.normal(0, 0.05, before.shape).astype(np.float32)
    truth = np.zeros((64, 64), bool)
    truth[20:34, 30:44] = True
    after[:, truth] += 1.5
    return CityArrays(f"city{seed}", before, after, truth)


def test_train_export_and_run(tmp_path) -> None:
    assert sum(p.numel() for p in build_unet().parameters()) < 60_000
    cfg = UnetTrainConfig(steps=3, crop=32, batch=2)
    cities = [_city(0), _city(1)]
    net = fit_unet(cities, cfg)
    prob = predict(net, cities[0], swir=False)
    assert prob.shape == (64, 64) and prob.dtype == np.float32
    threshold = choose_threshold(net, cities)
    assert 0.05 <= threshold <= 0.95
    path = export_onnx(net, tmp_path / "net.onnx", threshold, {"held_out": "city9"})
    runner = UnetRunner(path)
    assert runner.threshold == pytest.approx(threshold) and '"city9"' in runner.meta["held_out"]
    x = np.random.default_rng(2).normal(size=(CHANNELS, 37, 50)).astype(np.float32)
    assert runner.probability(x).shape == (37, 50)


def test_folds_cover_the_nine_cities_once() -> None:
    names = [n for fold in CITY_FOLDS for n in fold]
    assert len(names) == len(set(names)) == 9
