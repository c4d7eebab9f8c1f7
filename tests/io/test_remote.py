"""Images behind URLs: range requests, one-line network errors, the journal's identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasterio.windows import Window

from terrasight.errors import RasterReadError, RemoteReadError
from terrasight.io import open_raster
from terrasight.io.remote import gdal_options, gdal_path, is_remote, remote_identity, repair
from terrasight.tasks.change.pipeline.job import file_identity


def test_urls_stay_strings_and_map_to_gdal_paths():
    assert repair(Path("https://host/a.tif")) == "https://host/a.tif"
    assert gdal_path("gs://b/k.tif") == "/vsigs/b/k.tif"
    assert is_remote("/vsis3/b/k.tif") and not is_remote("a.tif")
    assert gdal_options("a.tif") == {}


def test_buckets_are_unsigned_unless_credentials(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_NO_SIGN_REQUEST", raising=False)
    assert gdal_options("s3://b/k.tif")["AWS_NO_SIGN_REQUEST"] == "YES"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    assert "AWS_NO_SIGN_REQUEST" not in gdal_options("s3://b/k.tif")
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "3")
    assert "GDAL_HTTP_TIMEOUT" not in gdal_options("https://h/a.tif")


def test_a_window_of_a_remote_cog_fetches_a_small_part(cog_pair, range_server):
    url = range_server.url("before.tif")
    src = open_raster(url, bands=["red", "green", "blue"])
    assert src.path == url and src.name == "before.tif" and src.remote
    with src.open() as ds:
        data = ds.read(window=Window(600, 600, 100, 100))
    local = open_raster(cog_pair[0])
    with local.open() as ds:
        assert (ds.read(window=Window(600, 600, 100, 100)) == data).all()
    assert range_server.ranges and range_server.sent < 0.05 * cog_pair[0].stat().st_size


def test_missing_url_and_closed_port_give_one_line(range_server):
    url = range_server.url("nope.tif")
    with pytest.raises(RemoteReadError, match="404") as err:
        open_raster(url, role="before image")
    assert url in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RasterReadError, match="127.0.0.1:1/x.tif"):
        open_raster("http://127.0.0.1:1/x.tif")


def test_the_journal_identifies_a_url_by_size_and_etag(cog_pair, range_server):
    url = range_server.url("after.tif")
    identity = file_identity(url)
    assert identity["path"] == url and identity["size"] == cog_pair[1].stat().st_size
    assert identity["etag"] and range_server.sent == 0  # HEAD only
    assert remote_identity("http://127.0.0.1:1/x.tif") == {"path": "http://127.0.0.1:1/x.tif"}


def test_a_connection_lost_mid_job_resumes_from_the_journal(
    cog_pair, range_server, tmp_path, monkeypatch
):
    import numpy as np
    import rasterio

    from terrasight.tasks.change.pipeline.detect import detect_changes
    from terrasight.tasks.change.pipeline.job import TILES_FILE

    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    before, after = range_server.url("before.tif"), range_server.url("after.tif")
    options = {"cloud_mask": "off", "tile_size": 512, "workers": 1}

    def go_down(done: int, total: int) -> None:
        if done > 0:  # after the first window: the rest cannot be read
            range_server.down = True

    out = tmp_path / "job"
    with pytest.raises((RemoteReadError, RasterReadError)) as err:
        detect_changes(before, after, "cva", outdir=out, progress=go_down, **options)
    assert "127.0.0.1" in str(err.value) and "\n" not in str(err.value)
    finished = len((out / TILES_FILE).read_text().splitlines())
    assert 1 <= finished < 16
    range_server.down = False
    resumed = detect_changes(before, after, "cva", outdir=out, **options)
    assert len((out / TILES_FILE).read_text().splitlines()) == 16
    fresh = detect_changes(cog_pair[0], cog_pair[1], "cva", outdir=tmp_path / "fresh", **options)
    with rasterio.open(resumed.mask_path) as a, rasterio.open(fresh.mask_path) as b:
        assert np.array_equal(a.read(1), b.read(1))


def test_a_server_without_ranges_gets_the_file_downloaded_once(
    cog_pair, range_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("TERRASIGHT_CACHE", str(tmp_path / "cache"))
    range_server.whole = True
    url = range_server.url("before.tif")
    size = cog_pair[0].stat().st_size
    src = open_raster(url, role="before image")
    assert not src.remote and Path(src.path).read_bytes() == cog_pair[0].read_bytes()
    assert any("does not answer range requests" in w for w in src.warnings)
    sent = range_server.sent
    assert size <= sent < 3 * size  # the whole file once (plus the probes' first chunks)
    again = open_raster(url, role="before image")
    assert again.path == src.path and range_server.sent - sent < size  # reused, not fetched


@pytest.mark.parametrize("limit", ["0", "1"])
def test_a_server_without_ranges_and_a_large_file_says_to_download_it(
    cog_pair, range_server, tmp_path, monkeypatch, limit
):
    monkeypatch.setenv("TERRASIGHT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TERRASIGHT_DOWNLOAD_LIMIT_MB", limit)
    range_server.whole = True
    (range_server.root / "big.tif").write_bytes(cog_pair[0].read_bytes() * 2)  # > 1 MB
    url = range_server.url("big.tif")
    with pytest.raises(RemoteReadError, match="does not answer range requests") as err:
        open_raster(url, role="after image")
    text = str(err.value)
    assert "curl -O" in text and url in text and "\n" not in text
    assert not list((tmp_path / "cache").rglob("big.tif*"))  # nothing half-written left
