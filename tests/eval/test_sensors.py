"""Loaders of the Landsat, SAR and OSCD pairs (real data, skipped where absent), and scoring."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from terrasight.errors import DatasetLayoutError
from terrasight.eval.sensors import (
    UNLABELLED,
    nanjing_pair,
    oscd_cities,
    oscd_pair,
    sar_pair,
    score_mask,
)


def _folder(shared_data, *parts):
    folder = shared_data.joinpath("change", *parts)
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


def _open(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path)


def test_nanjing_pair_keeps_grid_bands_and_labels(shared_data, tmp_path):
    root = _folder(shared_data, "landsat", "nanjing")
    pair = nanjing_pair(root, tmp_path)
    with rasterio.open(pair.before) as ds, rasterio.open(pair.after) as da:
        assert ds.count == da.count == 6 and ds.shape == (800, 800)
        assert ds.crs.to_epsg() == 32650 and ds.res == (30.0, 30.0)
        assert "0.485000 Micrometers" in ds.descriptions[0]
        assert ds.tags(6)["wavelength"].startswith("2.223")
    truth = pair.read_truth()
    changed = _open(root / "change.bmp").read(1) > 0
    unchanged = _open(root / "unchanged.bmp").read(1) > 0
    assert int((truth == 1).sum()) == int(changed.sum()) > 0
    assert int((truth == 0).sum()) == int(unchanged.sum()) > 0
    assert int((truth == UNLABELLED).sum()) == truth.size - changed.sum() - unchanged.sum()


@pytest.mark.parametrize(("name", "size"), [("bern", 301), ("sulzberger", 256)])
def test_sar_pairs_are_one_band_without_names(shared_data, tmp_path, name, size):
    pair = sar_pair(_folder(shared_data, "sar"), name, tmp_path)
    for path in (pair.before, pair.after):
        with _open(path) as ds:
            assert ds.count == 1 and ds.shape == (size, size) and ds.crs is None
            assert ds.descriptions == (None,) and ds.dtypes[0] == "uint8"
    truth = pair.read_truth()
    assert set(np.unique(truth)) == {0, 1} and 0.005 < truth.mean() < 0.3


def test_oscd_pair_stacks_the_ten_metre_bands(shared_data, tmp_path):
    root = _folder(shared_data, "oscd")
    assert "paris" in oscd_cities(root) and len(oscd_cities(root)) >= 9
    pair = oscd_pair(root, "paris", tmp_path)
    with rasterio.open(pair.before) as ds:
        assert ds.count == 4 and ds.descriptions == ("B02", "B03", "B04", "B08")
        assert ds.crs.to_epsg() == 4326
    with rasterio.open(root / "paris" / "cm" / "paris-cm.tif") as ds:
        label = ds.read(1)
    truth = pair.read_truth()
    assert np.array_equal(truth == 1, label == 2) and np.array_equal(truth == 0, label == 1)
    with pytest.raises(DatasetLayoutError, match="B99"):
        oscd_pair(root, "paris", tmp_path / "bad", bands=("B02", "B99"))


def test_score_mask_counts_labelled_pixels_only():
    truth = np.array([[1, 1, 0, 0], [UNLABELLED, UNLABELLED, 0, 0]], np.uint8)
    mask = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], np.uint8)
    s = score_mask(mask, truth)
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (1, 1, 1, 3)
    assert s["changed_share"] == pytest.approx(2 / 6) and s["truth_share"] == pytest.approx(2 / 6)
    assert s["kappa"] == pytest.approx(0.25)
    assert score_mask(np.full_like(mask, 255), truth)["tp"] == 0  # no answer is not change
