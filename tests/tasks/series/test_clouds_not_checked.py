"""A series of one-band images (an NDVI product): no cloud mask can run, and nothing says
the dates were clear; questions about clouds or unknown classes are refused."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from terrasight.cli.series import summary_lines
from terrasight.tasks.interpret.ask_series import ask_series
from terrasight.tasks.series.detect import detect_series

NEEDS = "not checked (needs blue, green, red and NIR)"


@pytest.fixture(scope="module")
def one_band_series(tmp_path_factory):
    from tests.conftest import write_raster

    root = tmp_path_factory.mktemp("ndvi")
    rng = np.random.default_rng(3)
    base = rng.normal(120, 8, size=(96, 96)).clip(0, 255)
    paths = []
    for k, day in enumerate(("2019-06-01", "2020-06-01", "2021-06-01")):
        image = base + rng.normal(0, 1, size=base.shape)
        if k >= 1:
            image[20:40, 20:50] = 240  # a change first seen on the second date
        paths.append(write_raster(root / f"ndvi_{day}.tif", image.clip(0, 255).astype(np.uint8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return detect_series(paths, outdir=root / "out")


def test_no_date_is_called_clear_where_no_mask_ran(one_band_series):
    result = one_band_series
    assert result.cloud_check == (NEEDS,) * 3
    lines = summary_lines(result)
    assert lines[1].strip() == f"2019-06-01  data 100.0%, clouds {NEEDS}"
    assert not any("clear" in line for line in lines[1:4])
    summary = json.loads((result.folder / "series.json").read_text())
    assert summary["cloud_share"] == [None, None, None] and summary["cloud_check"][0] == NEEDS
    assert NEEDS in (result.folder / "report.html").read_text()


def test_series_answers_refuse_clouds_and_unknown_classes(one_band_series):
    clouds = ask_series(one_band_series, "were there clouds?")
    assert not clouds.answerable and NEEDS in clouds.text and clouds.value is None
    airport = ask_series(one_band_series, "is there a new airport?")
    assert not airport.answerable and "'airport'" in airport.text
    assert ask_series(one_band_series, "has anything changed?").value is True
    when = ask_series(one_band_series, "when did it change?")
    assert any(NEEDS in c for c in when.caveats)
