"""The windows of one series job on Dask workers give the outputs of the same job on threads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.tasks.series import detect_series

from ...conftest import write_raster

pytest.importorskip("distributed")

DATES = ("2019-06-01", "2020-06-01", "2021-06-01", "2022-06-01")


@pytest.fixture
def small_series(tmp_path: Path) -> list[str]:
    """Four 3-band 400 x 300 px dates (four 256 px windows), three squares that appear at
    dates 1, 2 and 3, one of them across a window border."""
    rng = np.random.default_rng(5)
    base = rng.normal(100, 10, size=(3, 300, 400))
    squares = {1: (30, 30), 2: (240, 240), 3: (120, 320)}
    paths = []
    for k, day in enumerate(DATES):
        data = base + rng.normal(0, 2, size=base.shape)
        for when, (r, c) in squares.items():
            if k >= when:
                data[:, r : r + 30, c : c + 30] = 230
        name = tmp_path / f"scene_{day}.tif"
        paths.append(str(write_raster(name, data.clip(0, 255).astype(np.uint8))))
    return paths


def _outputs(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    with (
        rasterio.open(folder / "change_date.tif") as d,
        rasterio.open(folder / "change_interval.tif") as i,
    ):
        return d.read(1), i.read()


def test_series_windows_on_a_running_scheduler_match_threads(small_series, tmp_path, monkeypatch):
    from distributed import LocalCluster

    from terrasight.tasks.series import detect

    opts = {"tile_size": 256, "cloud_mask": "off", "workers": 1, "report": False}
    here = detect_series(small_series, outdir=tmp_path / "here", **opts)

    def not_here(*args):
        raise AssertionError("a window ran in this process, not on a worker")

    monkeypatch.setattr(detect, "_date_tile", not_here)
    out = tmp_path / "dask"
    args = ["series", *small_series, "-o", str(out), "--tile-size", "256", "--cloud-mask"]
    args += ["off", "--workers", "1", "--no-report", "--json"]
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run = CliRunner().invoke(main, [*args, "--scheduler", cluster.scheduler_address])
    assert run.exit_code == 0, run.output
    date, interval = _outputs(out)
    ref_date, ref_interval = _outputs(tmp_path / "here")
    assert np.array_equal(date, ref_date) and np.array_equal(interval, ref_interval)
    assert set(np.unique(date[date >= 0]).tolist()) == {1, 2, 3}  # each square dated
    summary = json.loads(run.output)
    assert summary["object_count"] == len(here.objects) == 3
    # four 256 px windows, journalled as on threads
    assert len((out / ".terrasight-tiles.jsonl").read_text().splitlines()) == 4


def test_a_bad_series_scheduler_is_refused_before_any_work(small_series, tmp_path):
    with pytest.raises(InvalidOptionError, match="scheduler"):
        detect_series(small_series, outdir=tmp_path / "x", scheduler="my-cluster")
    assert not (tmp_path / "x").exists()
