"""A date's cloud mask grown by a few pixels, across the borders of the windows read."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline.clouds import CloudLayer
from terrasight.tasks.series.fit import DateClouds, grow
from terrasight.tasks.series.options import SeriesOptions


def _layer(tmp_path) -> CloudLayer:
    """Codes of a 40 x 40 region at (5, 5) of the grid: a cloud over columns 10-14 (region)."""
    codes = np.zeros((40, 40), np.uint8)
    codes[:, 10:15] = cloud_rule.AFTER_MASKED
    path = tmp_path / "codes.tif"
    profile = dict(driver="GTiff", width=40, height=40, count=1, dtype="uint8")
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(codes, 1)
    return CloudLayer(path, Window(5, 5, 40, 40))


def test_the_buffer_reaches_into_the_next_window(tmp_path):
    layer = _layer(tmp_path)
    window = Window(20, 5, 16, 16)  # grid columns 20-35: region columns 15-30, right of the cloud
    plain = DateClouds((layer,), (cloud_rule.AFTER_MASKED,))
    buffered = DateClouds((layer,), (cloud_rule.AFTER_MASKED,), buffer=3)
    assert not plain.masked(0, window).any()
    masked = buffered.masked(0, window)
    assert masked.shape == (16, 16)
    assert masked[:, :3].all() and not masked[:, 3:].any()


def test_the_buffer_stops_at_the_region_edge(tmp_path):
    layer = _layer(tmp_path)
    window = Window(5, 5, 40, 40)  # the whole region
    masked = DateClouds((layer,), (cloud_rule.AFTER_MASKED,), buffer=2).masked(0, window)
    assert masked.shape == (40, 40)
    assert masked[:, 8:17].all() and not masked[:, :8].any() and not masked[:, 17:].any()


def test_grow_is_round_and_leaves_an_empty_mask():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    grown = grow(m, 2)
    assert grown.sum() == 13  # the pixels within distance 2: a disc, not a square
    assert not grow(np.zeros((4, 4), bool), 3).any()


def test_cloud_buffer_option():
    assert SeriesOptions().cloud_buffer == 5
    assert SeriesOptions(cloud_buffer=0).cloud_buffer == 0
    with pytest.raises(InvalidOptionError, match="cloud_buffer"):
        SeriesOptions(cloud_buffer=-1)
