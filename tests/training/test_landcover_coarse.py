"""Training and export of the coarse-cover network on scenes made here (a few steps)."""

from __future__ import annotations

import numpy as np
import pytest

from terrasight.models.onnx_coarse_cover import load_coarse_cover
from terrasight.training.landcover_coarse import (
    CoarseTrainConfig,
    Scene,
    evaluate,
    export_onnx,
    fit,
    index_labels,
)

pytest.importorskip("torch")
pytest.importorskip("onnx")


def _scene(seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    x = np.empty((5, 64, 64), np.float32)
    x[:] = np.array([0.08, 0.09, 0.12, 0.15, 0.2], np.float32)[:, None, None]  # bare
    x[:, :, :20] = np.array([0.04, 0.07, 0.04, 0.4, 0.2], np.float32)[:, None, None]  # green
    x[:, 40:, 30:] = np.array([0.08, 0.09, 0.05, 0.02, 0.01], np.float32)[:, None, None]  # water
    x += rng.normal(0, 0.003, x.shape).astype(np.float32)
    return Scene(f"s{seed}", x[[2, 1, 0]], index_labels(x))


def test_fit_export_and_load(tmp_path) -> None:
    scenes = [_scene(0), _scene(1)]
    assert set(np.unique(scenes[0].labels)) == {0, 1, 2}
    net = fit(scenes, CoarseTrainConfig(steps=3, batch=2, crop=32, width=8))
    scores = evaluate(net, scenes)
    assert scores["pixels"] == sum(int((s.labels != 255).sum()) for s in scenes)
    assert 0 <= scores["accuracy"] <= 1
    path = export_onnx(net, tmp_path / "c.onnx", {"train_scenes": ["s0", "s1"], "metres": 10.0})
    loaded = load_coarse_cover(path)
    assert loaded.meta["train_scenes"] == ["s0", "s1"] and loaded.metres == 10.0
    prob = loaded.probabilities(np.zeros((6, 21, 30), np.float32))
    assert prob.shape == (3, 21, 30) and np.allclose(prob.sum(0), 1, atol=1e-4)


def test_missing_network_is_a_clear_error(tmp_path) -> None:
    from terrasight.errors import ModelWeightsError

    with pytest.raises(ModelWeightsError, match="train landcover-coarse"):
        load_coarse_cover(tmp_path / "none.onnx")
