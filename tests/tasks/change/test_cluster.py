"""The windows of one job on Dask workers give the outputs of the same job on threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.pipeline.detect import detect_changes

from ...conftest import write_raster

pytest.importorskip("distributed")


@pytest.fixture
def big_pair(tmp_path: Path) -> tuple[Path, Path]:
    """600 x 700 px, 3 bands: several 256 px windows, four planted changes across borders."""
    rng = np.random.default_rng(7)
    base = rng.normal(110, 12, size=(3, 600, 700)).clip(0, 255)
    after = base * 0.9 + 8 + rng.normal(0, 3, size=base.shape)
    for r, c in ((40, 40), (240, 240), (500, 600), (250, 500)):
        after[:, r : r + 30, c : c + 40] = 235
    return (
        write_raster(tmp_path / "b.tif", base.astype(np.uint8)),
        write_raster(tmp_path / "a.tif", after.clip(0, 255).astype(np.uint8)),
    )


def _read(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    with (
        rasterio.open(folder / "change_mask.tif") as m,
        rasterio.open(folder / "change_probability.tif") as p,
    ):
        return m.read(1), p.read(1)


def test_windows_on_a_local_cluster_match_threads(big_pair, tmp_path):
    opts = {"method": "cva", "tile_size": 256, "cloud_mask": "off"}
    here = detect_changes(*big_pair, outdir=tmp_path / "here", **opts)
    there = detect_changes(*big_pair, outdir=tmp_path / "dask", scheduler="local", **opts)
    mask_a, prob_a = _read(tmp_path / "here")
    mask_b, prob_b = _read(tmp_path / "dask")
    assert np.array_equal(mask_a, mask_b)
    assert np.array_equal(np.nan_to_num(prob_a, nan=-1), np.nan_to_num(prob_b, nan=-1))
    assert len(here.objects) == len(there.objects) >= 4


def test_windows_on_a_running_scheduler_and_the_cli(big_pair, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        args = ["change", *map(str, big_pair), "-o", str(tmp_path / "cli"), "-m", "cva"]
        args += ["--tile-size", "256", "--no-report", "--no-facts", "-q"]
        run = CliRunner().invoke(main, [*args, "--scheduler", cluster.scheduler_address])
    assert run.exit_code == 0, run.output
    local = detect_changes(*big_pair, method="cva", tile_size=256)
    with rasterio.open(local.mask_path) as ds:
        assert np.array_equal(ds.read(1), _read(tmp_path / "cli")[0])


def test_a_bad_scheduler_is_refused_before_any_work(big_pair, tmp_path):
    with pytest.raises(InvalidOptionError, match="scheduler"):
        detect_changes(*big_pair, method="cva", outdir=tmp_path / "x", scheduler="my-cluster")
    assert not (tmp_path / "x").exists()
