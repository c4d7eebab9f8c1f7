"""A haze over part of the later dates must not date the bright unchanged pixels elsewhere.

Each pair's CVA standardises both dates; a haze brightening a tenth of a date
inflates its spread, which the mean and standard deviation turn into a false
gain, larger than the noise floor at every bright pixel (a field of cumulus).
The series matches each pair's dates pixel by pixel instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.tasks.series import detect_series

SIZE = 192
GAINS = [1.0, 1.08, 0.95, 1.12]


def _hazy_series(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Four dates: a roof at date 2, a haze over a disc at dates 2 and 3, bright pixels."""
    rng = np.random.default_rng(5)
    scene = rng.gamma(3.0, 250.0, (4, SIZE, SIZE)).astype(np.float32) + 100
    bright = np.zeros((SIZE, SIZE), bool)
    bright[10:40, 10:40] = True
    scene[:, bright] += 5000
    roof = np.zeros_like(bright)
    roof[150:175, 20:45] = True
    yy, xx = np.mgrid[:SIZE, :SIZE]
    haze = np.hypot(yy - 120, xx - 130) < 36
    profile = dict(driver="GTiff", width=SIZE, height=SIZE, count=4, dtype="uint16", nodata=0)
    profile.update(crs="EPSG:32633", transform=from_origin(500000, 5000000, 10, 10))
    paths = []
    for k, gain in enumerate(GAINS):
        image = scene.copy()
        if k >= 2:
            image[:, roof] = np.array([2500, 2300, 2600, 2000], np.float32)[:, None]
            image[:, haze] += 1800
        image = image * gain + 20 * k + rng.normal(0, 10, image.shape).astype(np.float32)
        path = folder / f"hazy_2020-0{k + 1}-01.tif"
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(np.clip(np.rint(image), 1, 65535).astype(np.uint16))
        paths.append(str(path))
    return paths, bright, roof, haze


@pytest.mark.parametrize("standardise", ["mean", "matched"])
def test_a_haze_does_not_date_bright_unchanged_pixels(tmp_path, standardise):
    paths, bright, roof, haze = _hazy_series(tmp_path)
    options = {"standardise": standardise}
    result = detect_series(paths, outdir=tmp_path / "out", cloud_mask="off", workers=1,
                           method_options=options, report=False)  # fmt: skip
    date = result.change_date()
    assert (date[roof] == 2).mean() > 0.95
    assert (date[haze] == 2).mean() > 0.95  # unmasked, a haze that stays is a change
    if standardise == "mean":  # the old standardisation, kept by ``terrasight change``
        assert (date[bright] >= 0).mean() > 0.5
    else:
        assert (date[bright] >= 0).mean() < 0.01
        assert (date[~(roof | haze)] >= 0).mean() < 0.001


def test_the_series_matches_its_dates_by_default(tmp_path):
    paths, bright, _, _ = _hazy_series(tmp_path)
    result = detect_series(paths, outdir=tmp_path / "out", cloud_mask="off", workers=1,
                           report=False)  # fmt: skip
    assert (result.change_date()[bright] >= 0).mean() < 0.01
