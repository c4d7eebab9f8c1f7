"""A grey image stored as RGB (three identical bands: radar or panchromatic exported as a BMP
or PNG) is one band: `auto` does not take it for colour, and nothing names its land cover."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.io.pair import open_pair
from terrasight.io.rgb import grey_inputs
from terrasight.tasks.change.pipeline.choose import choose_method

from ...conftest import write_raster


def _grey_pair(tmp_path, colour: bool = False):
    """A 3-band 8-bit pair with no CRS, bands identical unless ``colour``; a bright block
    appears in the after image."""
    rng = np.random.default_rng(3)
    field = rng.normal(0, 1, (96, 96)).cumsum(0).cumsum(1)
    grey = np.interp(field, (field.min(), field.max()), (40, 160)).astype(np.uint8)
    before = np.stack([grey] * 3)
    if colour:
        before = before + np.array([0, 12, 25], np.uint8)[:, None, None]
    after = before.copy()
    after[:, 30:60, 30:60] = 240
    return (
        write_raster(tmp_path / "before.png", before, crs=None, driver="PNG"),
        write_raster(tmp_path / "after.png", after, crs=None, driver="PNG"),
    )


def test_auto_reads_three_identical_bands_as_one(tmp_path):
    before, after = _grey_pair(tmp_path)
    assert grey_inputs(open_pair(before, after))
    choice = choose_method(open_pair(before, after))
    assert choice.kind != "rgb" and choice.chosen != "learned"
    assert "three identical bands" in choice.reason

    (tmp_path / "colour").mkdir()
    colour = _grey_pair(tmp_path / "colour", colour=True)
    assert not grey_inputs(open_pair(*colour))
    assert choose_method(open_pair(*colour)).kind == "rgb"


def test_a_grey_pair_gets_no_land_cover_words(tmp_path):
    before, after = _grey_pair(tmp_path)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["change", str(before), str(after), "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert "land cover needs colour" in run.output
    assert not (out / "change_classes.tif").exists()
    facts = json.loads((out / "facts.json").read_text())
    assert facts["object_count"] >= 1
    assert {o["before_class"] for o in facts["objects"]} == {"unknown"}
    assert {o["after_class"] for o in facts["objects"]} == {"unknown"}
    assert any("grey" in note for note in facts["notes"])
    assert facts["model"] is None  # no model named for words nobody measured
    assert "zero-shot" not in (out / "report.html").read_text()


def test_a_grey_scene_caption_says_it_is_a_guess(tmp_path):
    pytest.importorskip("torch")
    before, _ = _grey_pair(tmp_path)
    run = CliRunner().invoke(main, ["describe", str(before)])
    assert run.exit_code == 0, run.output
    assert "caveat: the image is grey" in run.output
    (tmp_path / "colour").mkdir()
    colour, _ = _grey_pair(tmp_path / "colour", colour=True)
    assert "caveat" not in CliRunner().invoke(main, ["describe", str(colour)]).output


def test_the_grey_check_reads_the_after_image_inside_the_region(tmp_path):
    """An after image on another grid is read over the pair's region (all a job, or a copy
    of its box, holds), not at the centre of its whole file."""
    from rasterio.transform import from_origin
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, bounds

    rng = np.random.default_rng(5)
    grey = rng.integers(20, 200, (256, 256), dtype=np.uint8)
    t = from_origin(500000.0, 5000000.0, 10.0, 10.0)
    before = write_raster(tmp_path / "b.tif", np.stack([grey] * 3), transform=t)
    after = np.stack([grey] * 3)
    after[:, 96:160, 96:160] = rng.integers(20, 200, (3, 64, 64), dtype=np.uint8)  # colour
    shifted = from_origin(500003.0, 5000003.0, 10.0, 10.0)  # a third of a pixel off
    after_path = write_raster(tmp_path / "a.tif", after, transform=shifted)
    box = transform_bounds("EPSG:32633", "EPSG:4326", *bounds(Window(8, 8, 60, 60), t))
    pair = open_pair(before, after_path, bbox=box)
    assert not pair.same_grid and int(pair.region.col_off) < 40
    assert grey_inputs(pair)  # the region is grey in both; the after's centre is not
    assert not grey_inputs(open_pair(before, after_path))  # over the whole overlap it is not
