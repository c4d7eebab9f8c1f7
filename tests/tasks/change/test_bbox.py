"""An area of interest: the job covers the box and reads only the windows covering it."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from terrasight.errors import InvalidOptionError, PairAlignmentError
from terrasight.io.aoi import parse_bbox
from terrasight.tasks.change.pipeline.detect import detect_changes


def _mask(result) -> np.ndarray:
    with rasterio.open(result.mask_path) as ds:
        return ds.read(1)


def test_remote_bbox_matches_local_and_fetches_little(cog_pair, range_server, tmp_path):
    before, after, box = cog_pair
    local = detect_changes(before, after, method="cva", bbox=box, outdir=tmp_path / "l")
    col, row, w, h = local.region  # the box was drawn 3 px inside pixels (560, 560, 180, 180)
    assert abs(col - 560) <= 4 and abs(w - 180) <= 8
    sizes = before.stat().st_size + after.stat().st_size
    remote = detect_changes(
        range_server.url("before.tif"),
        range_server.url("after.tif"),
        method="cva",
        bbox=box,
        outdir=tmp_path / "r",
    )
    assert remote.region == local.region and remote.before == range_server.url("before.tif")
    assert (_mask(remote) == _mask(local)).all() and _mask(remote).any()
    assert range_server.sent < 0.05 * sizes, (range_server.sent, sizes)
    # the same job again resumes from the journal (the URLs' identity has not changed)
    again = detect_changes(
        range_server.url("before.tif"),
        range_server.url("after.tif"),
        method="cva",
        bbox=box,
        outdir=tmp_path / "r",
    )
    assert (_mask(again) == _mask(remote)).all()


def test_bad_boxes_are_refused_clearly(cog_pair):
    before, after, _ = cog_pair
    with pytest.raises(InvalidOptionError, match="four numbers"):
        parse_bbox("1,2,3")
    with pytest.raises(InvalidOptionError, match="west must be less than east"):
        detect_changes(before, after, method="cva", bbox=(16, 45, 15, 46))
    with pytest.raises(PairAlignmentError, match="outside the images"):
        detect_changes(before, after, method="cva", bbox=(-60, -10, -59, -9))


def test_cli_change_with_urls_and_bbox(cog_pair, range_server, tmp_path):
    from terrasight.cli import main

    box = ",".join(f"{v:.6f}" for v in cog_pair[2])
    args = ["change", range_server.url("before.tif"), range_server.url("after.tif")]
    args += ["-o", str(tmp_path / "out"), "-m", "cva", "--bbox", box, "--no-facts", "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "change_mask.tif").exists()
    bad = CliRunner().invoke(main, [*args[:3], "-o", str(tmp_path / "o2"), "--bbox", "x"])
    assert bad.exit_code == 2 and "four numbers" in bad.output
