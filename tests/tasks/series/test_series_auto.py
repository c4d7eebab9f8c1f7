"""``detect_series(method="auto")`` chooses as ``detect_changes`` would for the first two dates."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.errors import UnknownMethodError
from terrasight.tasks.series import detect_series


def _write_dates(tmp_path, bands: int) -> list[str]:
    """Three dates of a small one- or multi-band scene; a square appears at the third."""
    rng = np.random.default_rng(0)
    base = rng.normal(800, 60, (bands, 64, 64))
    paths = []
    for k, date in enumerate(("2021-06-01", "2022-06-01", "2023-06-01")):
        img = base + rng.normal(0, 5, base.shape)
        if k == 2:
            img[:, 20:36, 20:36] += 900
        path = tmp_path / f"scene_{date}.tif"
        profile = dict(driver="GTiff", width=64, height=64, count=bands, dtype="uint16",
                       crs="EPSG:32631", transform=from_origin(440000, 5400000, 10, 10))  # fmt: skip
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(np.clip(img, 0, 65535).astype(np.uint16))
        paths.append(str(path))
    return paths


def test_auto_runs_the_chosen_method(tmp_path):
    paths = _write_dates(tmp_path, 1)
    result = detect_series(paths, method="auto", outdir=tmp_path / "out", workers=1)
    assert result.method == "cva"  # one band with no SAR name: what auto picks for a pair
    with rasterio.open(tmp_path / "out" / "change_date.tif") as ds:
        first = ds.read(1)
    assert (first[24:32, 24:32] == 2).mean() > 0.95  # the square, at the third date (index 2)
    assert (first[:16] == 2).mean() < 0.01


def test_an_unknown_method_still_fails(tmp_path):
    with pytest.raises(UnknownMethodError):
        detect_series(_write_dates(tmp_path, 1), method="autoo", outdir=tmp_path / "o")
