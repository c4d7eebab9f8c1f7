"""detect_changes refuses bad options before touching anything, and owns its temporary folder."""

from __future__ import annotations

import gc
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import rasterio

from terrasight.errors import InvalidOptionError, OutputExistsError
from terrasight.tasks.change.methods.cva import CVAOptions
from terrasight.tasks.change.methods.irmad import IRMADOptions
from terrasight.tasks.change.pipeline.checks import RULES
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.pipeline.options import ChangeOptions

BAD = {  # keyword arguments -> words the message must hold
    "cloud_mask": ({"cloud_mask": False}, "one of 'auto', 'on', 'off', not False"),
    "min_pixels": (
        {"min_pixels": -1},
        "'min_pixels' of detect_changes must be an integer of at least 0",
    ),
    "workers": ({"workers": 0}, "'workers' of detect_changes must be an integer of at least 1"),
    "tile_size": ({"tile_size": 300}, "multiple of 256 pixels (256, 512, 1024, ...), not 300"),
    "tile_size type": ({"tile_size": "big"}, "'tile_size'"),
    "resampling": ({"resampling": "bicubic"}, "'nearest', 'bilinear', 'cubic'"),
    "bands": ({"bands": "red"}, "'bands' of detect_changes must be band numbers"),
    "band zero": ({"bands": [0, 1]}, "band numbers from 1"),
    "reflectance": ({"reflectance_scale": -1.0}, "a positive number or None"),
    "typo": ({"nodaat": 0}, "unknown option 'nodaat' of detect_changes. Did you mean 'nodata'?"),
    "method option": (
        {"tolerance": 0},
        "'tolerance' is an option of change method 'cva': pass method_options={'tolerance': ...}",
    ),
    "method typo": (
        {"method_options": {"tolerence": 1}},
        "unknown option 'tolerence' for change method 'cva'. Did you mean 'tolerance'?",
    ),
    "method range": (
        {"method_options": {"tolerance": 5}},
        "option 'tolerance' of change method 'cva' must be an integer from 0 to 2, not 5",
    ),
    "other method's options": (
        {"method_options": IRMADOptions()},
        "method_options is a IRMADOptions, but change method 'cva' takes a CVAOptions",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_options_are_refused_before_any_output(case, planted_pair, tmp_path, monkeypatch):
    before, after, _ = planted_pair
    kwargs, words = BAD[case]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    with pytest.raises(InvalidOptionError) as err:
        detect_changes(before, after, "cva", outdir=out, **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()
    with pytest.raises(InvalidOptionError):
        detect_changes(before, after, "cva", **kwargs)
    assert list(scratch.iterdir()) == []


def test_every_job_option_has_a_rule():
    assert {f.name for f in fields(ChangeOptions)} == set(RULES)


def test_change_options_are_checked_on_construction():
    assert ChangeOptions(tile_size=512, bands=[3, 2, 1]).bands == (3, 2, 1)
    with pytest.raises(InvalidOptionError, match="--cloud-mask on the command line"):
        ChangeOptions(cloud_mask="yes")
    with pytest.raises(InvalidOptionError, match="'workers'"):
        ChangeOptions(workers=True)
    with pytest.raises(InvalidOptionError) as err:
        ChangeOptions(sample_size=8)
    assert "on the command line" not in str(err.value)


def test_typed_or_text_method_options_are_the_same_job(planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "out"
    first = detect_changes(before, after, "cva", outdir=out, bands=[1, 2, 3])
    again = detect_changes(
        before, after, "cva", outdir=out, bands=(1, 2, 3), method_options={"tolerance": "1"}
    )
    typed = detect_changes(
        before, after, "cva", outdir=out, bands=[1, 2, 3], method_options=CVAOptions()
    )
    assert np.array_equal(first.mask(), again.mask()) and typed.params == first.params
    with pytest.raises(OutputExistsError, match="different change job"):
        detect_changes(before, after, "cva", outdir=out, method_options={"tolerance": 0})


def test_temporary_folder_belongs_to_the_result(planted_pair, tmp_path, monkeypatch):
    before, after, _ = planted_pair
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = detect_changes(before, after, "cva")
    folder = Path(result.mask_path).parent
    assert folder.parent == scratch and (folder / "change_mask.tif").is_file()
    # no facts: torch's own caches would land in the temp folder too
    saved = result.save(tmp_path / "kept", report=False, facts=False)
    expected = result.mask()
    del result
    gc.collect()
    assert not folder.exists() and list(scratch.iterdir()) == []
    with rasterio.open(saved["mask"]) as ds:
        assert np.array_equal(ds.read(1), expected)
    assert saved["geojson"].is_file() and saved["summary"].is_file()


def test_temporary_folder_of_a_failed_job_is_removed(
    planted_pair, make_raster, tmp_path, monkeypatch
):
    before, _, _ = planted_pair
    empty = make_raster("empty.tif", np.zeros((3, 96, 128), np.uint8), nodata=0)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(ValueError, match="no valid pixels"):
        detect_changes(before, empty, "cva")
    assert list(scratch.iterdir()) == []
