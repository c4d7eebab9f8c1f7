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
    cfg = UnetTrainConfig(steps=3, crop=32, batch=2, widths=(12, 16, 24), val_share=0.0)
    cities = [_city(0), _city(1)]
    net = fit_unet(cities, cfg)
    prob = predict(net, cities[0], swir=False)
    assert prob.shape == (64, 64) and prob.dtype == np.float32
    chosen = choose_threshold(net, cities, cfg)
    threshold = chosen["threshold"]
    assert 0.05 <= threshold <= 0.95 and chosen["held_rows"] is None
    assert threshold == chosen["trained_rows"]
    path = export_onnx(net, tmp_path / "net.onnx", threshold, {"held_out": "city9"})
    runner = UnetRunner(path)
    assert runner.threshold == pytest.approx(threshold) and '"city9"' in runner.meta["held_out"]
    x = np.random.default_rng(2).normal(size=(CHANNELS, 37, 50)).astype(np.float32)
    assert runner.probability(x).shape == (37, 50)


def test_folds_cover_the_nine_cities_once() -> None:
    names = [n for fold in CITY_FOLDS for n in fold]
    assert len(names) == len(set(names)) == 9


def test_three_poolings_and_rows_kept_for_the_threshold(tmp_path) -> None:
    cfg = UnetTrainConfig(steps=2, crop=32, batch=2, widths=(4, 6, 8, 8), val_share=0.4)
    cities = [_city(0), _city(1)]
    net = fit_unet(cities, cfg)
    chosen = choose_threshold(net, cities, cfg)
    assert chosen["held_rows"] is not None and chosen["threshold"] == chosen["held_rows"]
    path = export_onnx(net, tmp_path / "net.onnx", chosen["threshold"], {})
    runner = UnetRunner(path)
    assert runner.multiple == 8  # three 2x poolings
    x = np.random.default_rng(3).normal(size=(CHANNELS, 37, 50)).astype(np.float32)
    assert runner.probability(x).shape == (37, 50)


def test_crops_never_reach_the_rows_kept_for_the_threshold() -> None:
    from terrasight.training.change_ms_unet import _crop

    city = _city(0)
    marked = CityArrays(city.name, city.before.copy(), city.after.copy(), city.truth)
    marked.before[:, 40:] = 99.0  # the bottom 24 rows: val_share 0.375 of 64
    cfg = UnetTrainConfig(crop=32, val_share=0.375, gain=0.0, offset=0.0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, _t = _crop(marked, rng, cfg)
        assert x[:6].max() < 8.0  # clipped 99s would read 8


def test_noise_gate_keeps_change_and_drops_noise() -> None:
    from terrasight.training.change_ms_unet_eval import gated, noise_gate

    rng = np.random.default_rng(0)
    zb = rng.normal(size=(4, 64, 64)).astype(np.float32)
    za = zb + rng.normal(0, 0.1, zb.shape).astype(np.float32)
    za[:, :8, :8] += 3.0
    quiet = noise_gate(zb, za)
    assert not quiet[:8, :8].any() and quiet.mean() > 0.8
    prob = gated(np.full((64, 64), 0.9, np.float32), zb, za)
    assert prob[:8, :8].min() == pytest.approx(0.9) and (prob == 0).mean() > 0.8


def test_int8_network_keeps_metadata_and_answers_like_the_float_one(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from terrasight.training.change_ms_unet_int8 import quantize_unet

    cfg = UnetTrainConfig(steps=3, crop=32, batch=2, widths=(4, 6, 8))
    cities = [_city(0), _city(1)]
    net = fit_unet(cities, cfg)
    path = export_onnx(net, tmp_path / "net.onnx", 0.42, {"held_out": "x"})
    q = UnetRunner(quantize_unet(path, tmp_path / "q.onnx", cities))
    f = UnetRunner(path)
    assert q.threshold == pytest.approx(0.42) and q.multiple == f.multiple == 4
    assert "int8" in q.meta and "int8" not in f.meta
    x = np.stack([*cities[0].before, *cities[0].after, *(cities[0].after - cities[0].before),
                  np.ones((64, 64), np.float32)])  # fmt: skip
    diff = np.abs(q.probability(x) - f.probability(x))
    assert diff.mean() < 0.05 and diff.max() < 0.3
