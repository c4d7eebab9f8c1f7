"""``method="auto"``: the method for the input's kind, chosen before fitting, and said why."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.io.pair import open_pair
from terrasight.tasks.change.pipeline.choose import CHOICES, choose_method
from terrasight.tasks.change.pipeline.detect import detect_changes

TM_WAVELENGTHS = ("0.485", "0.569", "0.660", "0.840", "1.676", "2.223")


def _image(bands: int, dtype: str = "uint16", seed: int = 0, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(100 if dtype == "uint8" else 1500, 20, (bands, size, size))
    return data.clip(1, None).astype(dtype)


def _write(path, data, names=(), res=10.0, crs="EPSG:32633", tags=()):
    profile = dict(
        driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype=data.dtype.name, crs=crs, transform=from_origin(500000, 5000000, res, res),
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        for i, name in enumerate(names, start=1):
            ds.set_band_description(i, name)
        for i, value in enumerate(tags, start=1):
            ds.update_tags(i, wavelength=value)
    return path


def _choice(tmp_path, data, **kw):
    before = _write(tmp_path / "before.tif", data, **kw)
    after = _write(tmp_path / "after.tif", data, **kw)
    return choose_method(open_pair(before, after))


def test_rgb_aerial_gets_the_learned_network(tmp_path):
    data = _image(3, "uint8")
    choice = _choice(tmp_path, data, res=0.5)
    assert (choice.kind, choice.chosen) == ("rgb", CHOICES["rgb"][0])
    assert "RGB" in choice.reason


@pytest.mark.parametrize(
    ("bands", "names"),
    [(4, ("B02", "B03", "B04", "B08")), (13, tuple(f"B{i:02d}" for i in range(1, 14)))],
)
def test_sentinel2_files_get_ms_unet(tmp_path, bands, names):
    choice = _choice(tmp_path, _image(bands), names=names, res=10.0)
    assert (choice.kind, choice.chosen) == ("sentinel2", "ms-unet")
    assert choice.options == {}
    assert f"{bands} bands" in choice.reason and "Sentinel-2-like" in choice.reason
    assert "OSCD" in choice.reason and "cva" in choice.reason


@pytest.mark.parametrize(
    ("names", "res"),
    [((), 10.0), (("B02", "B03", "B04", "B08"), 1.0), (("B02", "B03", "B04", "B05"), 10.0)],
)
def test_multispectral_without_named_s2_bands_or_at_1_m_keeps_cva(tmp_path, names, res):
    choice = _choice(tmp_path, _image(4), names=names, res=res)
    assert (choice.kind, choice.chosen) == ("multispectral", "cva")
    assert choice.options == {"tolerance": 0}


def test_landsat_tm_file_gets_irmad_pixel_by_pixel(tmp_path):
    choice = _choice(tmp_path, _image(6, "uint8"), res=30.0, tags=TM_WAVELENGTHS)
    assert (choice.kind, choice.chosen) == ("landsat", "irmad")
    assert choice.options == {"tolerance": 0}
    assert "wavelengths 0.48 to 2.22 um" in choice.reason and "30 m" in choice.reason


def test_landsat_without_a_grid_is_known_by_its_wavelengths(tmp_path):
    choice = _choice(tmp_path, _image(6, "uint8"), crs=None, tags=TM_WAVELENGTHS)
    assert choice.kind == "landsat"


def test_one_band_panchromatic_never_fails(tmp_path):
    choice = _choice(tmp_path, _image(1), res=0.5)
    assert (choice.kind, choice.chosen) == ("panchromatic", "cva")
    assert "--sensor sar" in choice.reason


def test_auto_on_a_speckled_band_runs_the_rows_method_and_says_why(tmp_path):
    """An 8-bit speckled band with no name and no CRS, as the radar BMPs come."""
    rng = np.random.default_rng(0)
    fields = np.kron(rng.uniform(40, 140, (5, 6)), np.ones((32, 32)))
    truth = np.zeros(fields.shape, bool)
    truth[50:90, 100:150] = True
    speckle = [np.sqrt(rng.gamma(4, 0.25, fields.shape)) for _ in range(2)]
    before = (fields * speckle[0]).clip(0, 255).astype("uint8")[None]
    after = (np.where(truth, fields * 3, fields) * speckle[1]).clip(0, 255).astype("uint8")[None]
    b = _write(tmp_path / "b.tif", before, crs=None)
    result = detect_changes(b, _write(tmp_path / "a.tif", after, crs=None))
    method, options, why = CHOICES["panchromatic"]
    assert result.method == method
    choice = result.method_choice
    assert choice is not None and (choice["kind"], choice["options"]) == ("panchromatic", options)
    assert why in choice["reason"] and "--sensor sar" in choice["reason"]
    assert (result.mask() == 1)[truth].mean() > 0.5  # found, if not whole (speckle)


def test_vv_vh_pair_gets_the_sar_method(tmp_path):
    data = (np.random.default_rng(0).gamma(4, 0.05, (2, 64, 64))).astype("float32")
    choice = _choice(tmp_path, data, names=("VV", "VH"))
    assert (choice.kind, choice.chosen) == ("sar", "sar")
    assert "vv, vh" in choice.reason


def test_backscatter_in_db_is_sar(tmp_path):
    data = (10 * np.log10(np.random.default_rng(0).gamma(4, 0.05, (1, 64, 64)))).astype("float32")
    assert _choice(tmp_path, data).kind == "sar"


def test_the_sensor_option_overrides_the_file(tmp_path):
    before = _write(tmp_path / "b.tif", _image(1, "uint8"))
    after = _write(tmp_path / "a.tif", _image(1, "uint8", seed=1))
    assert choose_method(open_pair(before, after), "sar").chosen == "sar"
    with pytest.raises(InvalidOptionError, match="sensor"):
        detect_changes(before, after, sensor="radar")


def test_the_choice_is_in_the_summary_and_the_report(tmp_path):
    rng = np.random.default_rng(0)
    scene = rng.gamma(4, 0.05, (2, 96, 96)).astype("float32")
    after = scene * rng.gamma(4, 0.25, scene.shape).astype("float32")
    before = _write(tmp_path / "b.tif", scene, names=("VV", "VH"))
    after = _write(tmp_path / "a.tif", after, names=("VV", "VH"))
    result = detect_changes(before, after)
    assert result.method == "sar"
    paths = result.save(tmp_path / "out", facts=False)
    summary = json.loads(paths["summary"].read_text())
    assert summary["method"] == "sar"
    choice = summary["method_choice"]
    assert choice["requested"] == "auto" and choice["chosen"] == "sar" and choice["kind"] == "sar"
    assert "vv, vh" in choice["reason"]
    assert "chosen by auto for a sar input" in paths["report"].read_text(encoding="utf-8")
    named = detect_changes(before, after, method="cva")
    assert named.method_choice is None and named.summary()["method_choice"] is None


def test_auto_merges_and_checks_method_options(tmp_path):
    data = _image(1, "uint8")
    before = _write(tmp_path / "b.tif", data)
    after = _write(tmp_path / "a.tif", _image(1, "uint8", seed=1))
    result = detect_changes(before, after, sensor="sar", method_options={"filter_size": 3})
    assert result.params["filter_size"] == 3
    with pytest.raises(InvalidOptionError, match="method 'auto' chose 'cva'"):
        detect_changes(before, after, method_options={"filter_size": 3})


def test_the_command_line_says_what_auto_chose(tmp_path):
    before = _write(tmp_path / "b.tif", _image(1, "uint8"))
    after = _write(tmp_path / "a.tif", _image(1, "uint8", seed=1))
    args = [str(before), str(after), "-o", str(tmp_path / "out"), "--sensor", "sar", "-q"]
    run = CliRunner().invoke(main, ["change", *args, "--no-facts", "--no-report"])
    assert run.exit_code == 0, run.output
    assert "method auto chose sar: sensor='sar' was given" in run.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["method_choice"]["kind"] == "sar"


def test_auto_on_the_real_pairs(shared_data, tmp_path):
    """Nanjing (ENVI, wavelengths, 30 m) is Landsat-like; the SAR BMPs (no names) one band."""
    from terrasight.eval.sensors import nanjing_pair, sar_pair

    landsat = shared_data / "change" / "landsat" / "nanjing"
    sar_root = shared_data / "change" / "sar"
    if not landsat.is_dir() or not sar_root.is_dir():
        pytest.skip("the Landsat or SAR pairs are not in the shared data")
    pair = nanjing_pair(landsat, tmp_path / "nj")
    assert choose_method(open_pair(pair.before, pair.after)).kind == "landsat"
    truth = pair.read_truth()
    assert set(np.unique(truth)) == {0, 1, 255}
    bern = sar_pair(sar_root, "bern", tmp_path / "bern")
    assert choose_method(open_pair(bern.before, bern.after)).kind == "panchromatic"
    assert choose_method(open_pair(bern.before, bern.after), "sar").chosen == "sar"
