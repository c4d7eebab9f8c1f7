"""A job over a box of remote images reads the box's blocks once: local copies in the job folder."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from terrasight.io.box_copy import COPY_DIR, box_windows
from terrasight.io.pair import open_pair
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions

from ...conftest import block_bytes, write_raster

SAVE = {"facts": FactsOptions(classify=False), "report": True, "workers": 1}


def _box(path: Path, window: Window) -> tuple[float, float, float, float]:
    """WGS84 bounds of ``window`` of ``path``, 2 px inside it."""
    from rasterio.warp import transform_bounds
    from rasterio.windows import bounds

    inner = Window(window.col_off + 2, window.row_off + 2, window.width - 4, window.height - 4)
    with rasterio.open(path) as ds:
        return transform_bounds(ds.crs, "EPSG:4326", *bounds(inner, ds.transform))


def _pictures(folder: Path) -> list[str]:
    return re.findall(
        r"data:image/png;base64,[A-Za-z0-9+/=]+", (folder / "report.html").read_text()
    )


def _mask(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


@pytest.mark.parametrize("kind", ["cog", "tiled"])
def test_a_remote_box_job_fetches_at_most_twice_its_blocks(cog_pair, range_server, tmp_path, kind):
    before, after, _ = cog_pair
    box = _box(before, Window(300, 300, 700, 700))  # nine 256 px blocks of each file
    if kind == "tiled":  # the same pixels as a tiled GeoTIFF that is not a COG
        for path in (before, after):
            with rasterio.open(path) as ds:
                data = ds.read()
            write_raster(
                path, data, tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                photometric="RGB", transform=ds.transform,
            )  # fmt: skip
    local = detect_changes(before, after, method="cva", bbox=box, outdir=tmp_path / "l")
    local.save(tmp_path / "l", **SAVE)
    urls = [range_server.url("before.tif"), range_server.url("after.tif")]
    remote = detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "r")
    remote.save(tmp_path / "r", **SAVE)

    region = Window(*remote.region)
    blocks = block_bytes(before, region) + block_bytes(after, region)
    assert 0 < range_server.sent <= 2 * blocks, (range_server.sent, blocks)
    # the result names the URLs; the facts and the report read the copies in the job folder
    assert (remote.before, remote.after) == tuple(urls)
    assert len(remote.local_inputs) == 2 and all(COPY_DIR in p for p in remote.local_inputs)
    assert remote.region == local.region
    assert np.array_equal(_mask(remote.mask_path), _mask(local.mask_path))
    assert _pictures(tmp_path / "r") == _pictures(tmp_path / "l") != []

    # a rerun resumes on the same copies: no pixel fetched again
    sent = range_server.sent
    again = detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "r")
    assert range_server.sent == sent and again.local_inputs == remote.local_inputs


def test_an_after_image_on_another_grid_is_copied_with_a_margin(cog_pair, range_server, tmp_path):
    before, after, box = cog_pair
    with rasterio.open(after) as ds:  # the after image shifted by a third of a pixel
        data, t = ds.read(), ds.transform
    shifted = rasterio.Affine(t.a, t.b, t.c + 3.3, t.d, t.e, t.f - 3.3)
    write_raster(after, data, transform=shifted, tiled=True, blockxsize=256, blockysize=256)
    pair = open_pair(*(range_server.url(n) for n in ("before.tif", "after.tif")), bbox=box)
    b, a = box_windows(pair)
    assert not pair.same_grid and b == pair.region
    assert a.col_off < b.col_off - 4 and a.width > b.width + 8  # the resampling margin
    local = detect_changes(before, after, method="cva", bbox=box, outdir=tmp_path / "l")
    urls = [range_server.url("before.tif"), range_server.url("after.tif")]
    remote = detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "r")
    assert remote.local_inputs
    assert np.array_equal(_mask(remote.mask_path), _mask(local.mask_path))
    with rasterio.open(remote.probability_path) as r, rasterio.open(local.probability_path) as ref:
        assert np.allclose(r.read(1), ref.read(1), equal_nan=True)


def test_a_copy_cut_off_says_so_in_one_line_and_the_rerun_finishes(
    cog_pair, range_server, tmp_path, monkeypatch
):
    from terrasight.errors import RemoteReadError
    from terrasight.io import box_copy

    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    before, after, _ = cog_pair
    box = _box(before, Window(300, 300, 700, 700))
    identity = box_copy.remote_identity

    def server_gone(url: str) -> dict:
        found = identity(url)
        range_server.down = True  # the copy's reads find the server gone
        return found

    monkeypatch.setattr(box_copy, "remote_identity", server_gone)
    urls = [range_server.url("before.tif"), range_server.url("after.tif")]
    with pytest.raises(RemoteReadError, match="copying rows") as err:
        detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "r")
    assert urls[0] in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setattr(box_copy, "remote_identity", identity)
    range_server.down = False
    remote = detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "r")
    local = detect_changes(before, after, method="cva", bbox=box, outdir=tmp_path / "l")
    assert np.array_equal(_mask(remote.mask_path), _mask(local.mask_path))
