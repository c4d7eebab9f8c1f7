"""``describe``, ``ask`` and ``change`` print the same warnings for the same pair, and the
reflectance advice in them fits the product's date and processing baseline."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from terrasight.cli import main

S2_2016 = ("S2A_MSIL1C_20160812T101032_N0204_R022_T32TQM.tif", "S2A_MSIL1C_20160901T101032_N0204_R022_T32TQM.tif")  # fmt: skip
S2_2023 = ("S2B_MSIL1C_20230615T101609_N0509_R065_T32TQM.tif", "S2B_MSIL1C_20230705T101609_N0509_R065_T32TQM.tif")  # fmt: skip


def _warnings(output: str) -> set[str]:
    return {line for line in output.splitlines() if line.startswith("warning:")}


def _s2_pair(make_raster, names):
    """Four bands (blue, green, red, nir) of uint16 digital numbers whose darkest pixels
    sit near 1,500: reflectance x 10000 + 1000, or a hazy scene."""
    rng = np.random.default_rng(5)
    data = rng.normal(2600, 300, size=(4, 96, 96)).clip(1450, 9000).astype(np.uint16)
    after = data.copy()
    after[:, 30:50, 30:60] = 6000
    paths = []
    for name, image in zip(names, (data, after), strict=True):
        path = make_raster(name, image)
        with rasterio.open(path, "r+") as ds:
            ds.descriptions = ("blue", "green", "red", "nir")
        paths.append(path)
    return paths


@pytest.mark.parametrize(("names", "advice"), [(S2_2016, False), (S2_2023, True)])
def test_reflectance_advice_fits_the_date(make_raster, tmp_path, names, advice):
    before, after = _s2_pair(make_raster, names)
    run = CliRunner().invoke
    change = run(main, ["change", str(before), str(after), "-m", "cva", "-q", "-o", str(tmp_path / "c"), "--no-facts"])  # fmt: skip
    assert change.exit_code == 0, change.output
    said = _warnings(change.output)
    assert any("do not look like reflectance" in w for w in said), change.output
    assert any("baseline 04.00" in w for w in said) is advice
    describe = run(main, ["describe", str(before), str(after), "-m", "cva", "--classify", "0"])
    assert describe.exit_code == 0, describe.output
    ask = run(main, ["ask", str(before), str(after), "how many changes?", "-m", "cva"])
    assert ask.exit_code == 0, ask.output
    assert _warnings(describe.output) == said == _warnings(ask.output)
