"""Change between STAC Items, and between the clearest Items a STAC API has near two dates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.tasks.change.pipeline.detect import detect_changes

from .conftest import CHANGE


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _box(values) -> str:
    return ",".join(f"{v:.7f}" for v in values)


def _found_where_planted(outdir, region) -> tuple[float, float]:
    """(share of the planted square found, share of the rest flagged) in the mask."""
    with rasterio.open(outdir / "change_mask.tif") as ds:
        mask = ds.read(1) > 0
    col0, row0 = int(region[0]), int(region[1])
    truth = np.zeros_like(mask)
    col, row, w, h = CHANGE
    truth[row - row0 : row - row0 + h, col - col0 : col - col0 + w] = True
    return float(mask[truth].mean()), float(mask[~truth].mean())


def test_change_between_two_items_finds_the_planted_square_and_reads_little(stac_scenes, tmp_path):
    out = tmp_path / "out"
    args = ["change", stac_scenes.before_url, stac_scenes.after_url, "-o", out, "-m", "cva"]
    args += ["--bbox", _box(stac_scenes.aoi), "--cloud-mask", "off", "--no-facts", "--no-report"]
    result = _cli(*args, "-q", "--json")
    assert result.exit_code == 0, result.output
    total = stac_scenes.total_bytes()
    assert stac_scenes.server.sent < 0.25 * total, (stac_scenes.server.sent, total)
    summary = json.loads(result.stdout)
    assert summary["before"] == stac_scenes.before_url  # the Item given, not its VRT
    assert [Path(p).parent.name for p in summary["local_inputs"]] == ["before", "after"]
    found, false = _found_where_planted(out, summary["region"])
    assert found > 0.9 and false < 0.02, (found, false)


def test_the_python_api_takes_items_and_resumes_until_an_item_changes(stac_scenes, tmp_path):
    box = stac_scenes.aoi
    kw = dict(method="cva", bbox=box, cloud_mask="off", outdir=tmp_path / "o")
    result = detect_changes(stac_scenes.before_file, stac_scenes.after_url, **kw)
    assert (
        result.band_names == ("blue", "green", "red", "nir")
        if hasattr(result, "band_names")
        else True
    )
    found, _ = _found_where_planted(tmp_path / "o", result.region)
    assert found > 0.9
    journal = (tmp_path / "o" / ".terrasight-job.json").read_text()
    again = detect_changes(stac_scenes.before_file, stac_scenes.after_url, **kw)
    assert again.region == result.region
    assert (tmp_path / "o" / ".terrasight-job.json").read_text() == journal


def test_change_stac_picks_the_clearest_items_and_says_why(stac_api, stac_scenes, tmp_path):
    out = tmp_path / "picked"
    args = ["change", "--stac", stac_api.url, "--collection", "s2-test"]
    args += ["--bbox", _box(stac_scenes.aoi), "--before", "2023-06-15", "--after", "2024-06-15"]
    args += ["-o", out, "-m", "cva", "--cloud-mask", "off", "--no-facts", "--no-report", "-q"]
    result = _cli(*args, "--window-days", 10)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("before: S2_20230614") and "4.0%" in lines[0]
    assert "lowest cloud cover (4%) of 4 items within 10 days of 2023-06-15, 1 days off" in lines[1]
    assert lines[2].startswith("after: S2_20240612") and "of 2 items" in lines[3]
    summary = json.loads((out / "summary.json").read_text())
    found, false = _found_where_planted(out, summary["region"])
    assert found > 0.9 and false < 0.02
    assert all(s.get("bbox") for s in stac_api.searches)


def test_change_stac_errors_are_one_line(stac_api, stac_scenes, tmp_path):
    base = ["change", "--stac", stac_api.url, "--collection", "s2-test", "-o", tmp_path / "x"]
    base += ["--bbox", _box(stac_scenes.aoi), "-m", "cva"]
    none = _cli(*base, "--before", "2020-01-01", "--after", "2024-06-15", "--window-days", 5)
    assert none.exit_code == 3 and "no STAC item found for 2020-01-01: searched" in none.output
    assert "2019-12-27..2020-01-06" in none.output and len(none.output.strip().splitlines()) == 1
    half = _cli(*base[:5], "-o", tmp_path / "y", "--before", "2023-06-15")
    assert half.exit_code == 2 and "--stac needs --bbox, --after as well" in half.output
    both = _cli(*base, stac_scenes.before_url, stac_scenes.after_url)
    assert both.exit_code == 2 and "not both" in both.output
    same = _cli(*base, "--before", "2023-06-14", "--after", "2023-06-15")
    assert same.exit_code == 2 and "same item S2_20230614" in same.output
    bands = _cli(
        "change",
        stac_scenes.before_url,
        stac_scenes.after_url,
        "-o",
        tmp_path / "b",
        "-b",
        "red,swir22",
    )
    assert bands.exit_code == 3 and "no asset with the band 'swir22'" in bands.output
    (stac_scenes.server.root / "2024" / "B08.tif").unlink()
    gone = _cli("change", stac_scenes.before_url, stac_scenes.after_url, "-o", tmp_path / "g")
    assert gone.exit_code == 4 and stac_scenes.hrefs["after"]["nir"] in gone.output
    assert len(gone.output.strip().splitlines()) == 1
