"""Dates of a series: given, from tags or from names; missing or repeated dates are refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.errors import PairAlignmentError, SeriesDateError, SeriesInputError
from terrasight.tasks.series.dates import date_in_name, parse_dates, resolve_dates
from terrasight.tasks.series.stack import open_stack


def _tif(path, tags=None, x0=500000.0):
    data = np.random.default_rng(len(str(path))).integers(1, 3000, (3, 32, 32), dtype=np.uint16)
    profile = dict(driver="GTiff", width=32, height=32, count=3, dtype="uint16", nodata=0)
    profile.update(crs="EPSG:32633", transform=from_origin(x0, 5000000, 10, 10))
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        if tags:
            ds.update_tags(**tags)
    return path


def test_names_tags_and_given_dates():
    assert date_in_name("S2A_20190601_T33.tif") == dt.date(2019, 6, 1)
    assert date_in_name("x_2019_06_01.tif") == dt.date(2019, 6, 1)
    assert date_in_name("tile_20191301.tif") is None  # month 13 is not a date
    tags = [{"TIFFTAG_DATETIME": "2020:07:15 10:00:00"}, {"ACQUISITIONDATETIME": "2021-01-02"}]
    assert resolve_dates(["a.tif", "b.tif"], tags) == [dt.date(2020, 7, 15), dt.date(2021, 1, 2)]
    # Tags win over names; given dates win over both.
    assert resolve_dates(["c_2019-01-01.tif"], [tags[0]]) == [dt.date(2020, 7, 15)]
    assert resolve_dates(["c_2019-01-01.tif"], [{}], parse_dates("2018-05-05")) == [
        dt.date(2018, 5, 5)
    ]
    with pytest.raises(SeriesDateError, match="'soon' is not a date"):
        parse_dates("2019-01-01,soon")


def test_missing_and_repeated_dates_are_named():
    with pytest.raises(SeriesDateError, match="no date for b.tif"):
        resolve_dates(["a_2019-01-01.tif", "b.tif"], [{}, {}])
    with pytest.raises(SeriesDateError, match="a.tif and b.tif have the same date 2019-01-01"):
        resolve_dates(["a.tif", "b.tif"], [{}, {}], [dt.date(2019, 1, 1)] * 2)
    with pytest.raises(SeriesDateError, match="2 dates were given for 3 images"):
        resolve_dates(["a", "b", "c"], [{}] * 3, [dt.date(2019, 1, 1), dt.date(2019, 2, 1)])


def test_stack_is_sorted_by_date_and_needs_three_overlapping_images(tmp_path):
    paths = [
        _tif(tmp_path / "late.tif", {"TIFFTAG_DATETIME": "2021:06:01 00:00:00"}),
        _tif(tmp_path / "s_2019-06-01.tif"),
        _tif(tmp_path / "mid.tif", {"ACQUISITIONDATETIME": "2020-06-01T10:11:12Z"}),
    ]
    stack = open_stack(paths)
    assert [d.year for d in stack.dates] == [2019, 2020, 2021]
    assert stack.names == ("s_2019-06-01.tif", "mid.tif", "late.tif")
    with pytest.raises(SeriesInputError, match="at least 3 images, got 2"):
        open_stack(paths[:2])
    far = _tif(tmp_path / "far_2022-01-01.tif", x0=900000.0)
    with pytest.raises(PairAlignmentError, match="do not overlap"):
        open_stack([*paths, far])
