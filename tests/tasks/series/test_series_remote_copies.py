"""A series over a box of remote images reads each date's box once: local copies in the job
folder, outputs identical to the same series on the files, the URLs named in the result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from terrasight.cli import main
from terrasight.io.box_copy import COPY_DIR
from terrasight.tasks.series import detect, detect_series

from ...conftest import block_bytes, write_cog

DATES = ("2019-06-01", "2020-06-01", "2021-06-01")
BOX = Window(300, 300, 700, 700)
"""Nine 256 px blocks of each 2048 px file, off the block grid."""
OPTS = {"tile_size": 256, "workers": 1}


@pytest.fixture
def remote_series(cog_pair, range_server) -> tuple[list[Path], list[str], tuple[float, ...]]:
    """Three served COG dates (the cog pair and a third with another square): the files,
    their URLs and a WGS84 box inside :data:`BOX`."""
    before, after, _ = cog_pair
    with rasterio.open(after) as ds:
        data, transform, crs = ds.read(), ds.transform, ds.crs
    data[:, 800:850, 700:760] = 250
    third = write_cog(range_server.root / "third.tif", data)
    files = [before, after, third]
    inner = Window(BOX.col_off + 2, BOX.row_off + 2, BOX.width - 4, BOX.height - 4)
    box = transform_bounds(crs, "EPSG:4326", *window_bounds(inner, transform))
    return files, [range_server.url(p.name) for p in files], box


def _raster(path: Path) -> tuple[np.ndarray, dict, dict]:
    with rasterio.open(path) as ds:
        return ds.read(), {**ds.profile}, ds.tags()


def _same_outputs(a: Path, b: Path) -> None:
    """Rasters equal by pixels, profile and tags; series.json equal but for the images."""
    for name in ("change_date.tif", "change_interval.tif"):
        (pa, fa, ta), (pb, fb, tb) = _raster(a / name), _raster(b / name)
        assert np.array_equal(pa, pb) and fa == fb and ta == tb, name
    ja, jb = (json.loads((f / "series.json").read_text()) for f in (a, b))
    assert ja.pop("images") != jb.pop("images")
    assert ja == jb
    assert (a / "series_objects.geojson").read_text() == (b / "series_objects.geojson").read_text()


def test_a_remote_series_over_a_box_reads_copies_and_matches_the_files(
    remote_series, range_server, tmp_path, monkeypatch
):
    files, urls, box = remote_series
    local = detect_series(files, DATES, bbox=box, outdir=tmp_path / "l", **OPTS)

    def interrupted(*args, **kwargs):
        raise RuntimeError("stopped after the copies")

    with monkeypatch.context() as m:  # the first run stops once the copies are made
        m.setattr(detect, "fit_pairs", interrupted)
        with pytest.raises(RuntimeError, match="after the copies"):
            detect_series(urls, DATES, bbox=box, outdir=tmp_path / "r", **OPTS)
    copied = range_server.settled()
    blocks = sum(block_bytes(p, BOX) for p in files)
    assert 0 < copied <= 2 * blocks, (copied, blocks)
    copies = sorted((tmp_path / "r" / COPY_DIR).rglob("*.tif"))
    assert [p.parent.name for p in copies] == list(DATES)

    remote = detect_series(urls, DATES, bbox=box, outdir=tmp_path / "r", **OPTS)
    assert range_server.settled() == copied  # the rerun reads the copies made before
    assert remote.images == tuple(urls) and local.objects
    _same_outputs(tmp_path / "r", tmp_path / "l")


def test_a_series_copies_its_remote_dates_and_reads_a_local_one_in_place(
    remote_series, range_server, tmp_path
):
    files, urls, box = remote_series
    mixed = [str(files[0]), *urls[1:]]  # a local first date is read where it is
    result = detect_series(mixed, DATES, bbox=box, outdir=tmp_path / "m", report=False, **OPTS)
    copies = sorted(str(p.relative_to(tmp_path / "m" / COPY_DIR)) for p in
                    (tmp_path / "m" / COPY_DIR).rglob("*.tif"))  # fmt: skip
    assert copies == [f"{DATES[1]}/after.tif", f"{DATES[2]}/third.tif"]
    assert result.images == tuple(mixed)


def test_the_series_command_copies_once_and_reruns_on_the_copies(
    remote_series, range_server, tmp_path
):
    files, urls, box = remote_series
    out = tmp_path / "cli"
    args = ["series", *urls, "--dates", ",".join(DATES), "--bbox", ",".join(map(str, box)),
            "-o", str(out), "--tile-size", "256", "--json"]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["images"] == urls
    assert len(list((out / COPY_DIR).rglob("*.tif.json"))) == 3
    sent = range_server.settled()
    (out / "series.json").unlink()  # the finished job runs its last steps again
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert range_server.settled() == sent and json.loads(again.stdout)["images"] == urls


def test_a_series_on_a_server_without_ranges_downloads_its_dates_as_change_does(
    remote_series, range_server, tmp_path
):
    files, urls, box = remote_series
    range_server.whole = True  # before any read of these URLs (GDAL keeps what it saw)
    opts = {**OPTS, "bbox": box, "report": False}
    result = detect_series(urls, DATES, outdir=tmp_path / "w", **opts)
    notes = [w for w in result.warnings if "does not answer range requests" in w]
    assert len(notes) == 3 and not (tmp_path / "w" / COPY_DIR).exists()  # local: no copies
    assert result.images == tuple(urls)  # the URLs given, not the downloads in the cache
    assert json.loads((tmp_path / "w" / "series.json").read_text())["images"] == urls
    detect_series(files, DATES, outdir=tmp_path / "l", **opts)
    for name in ("change_date.tif", "change_interval.tif"):
        assert np.array_equal(_raster(tmp_path / "w" / name)[0], _raster(tmp_path / "l" / name)[0])


def _stop_after_copies(monkeypatch) -> list[str]:
    """Stop series jobs once the method is planned (the dates copied): the methods planned."""
    planned: list[str] = []

    def stop(stack, spec, *args, **kwargs):
        planned.append(spec.name)
        raise RuntimeError("stopped after the copies")

    monkeypatch.setattr(detect, "fit_pairs", stop)
    return planned


def _fresh_urls(range_server, files: list[Path], tag: str) -> tuple[list[Path], list[str]]:
    """The files under new names (GDAL keeps what it read of a URL), and their URLs."""
    copies = [range_server.root / f"{tag}_{p.name}" for p in files]
    for src, dest in zip(files, copies, strict=True):
        dest.write_bytes(src.read_bytes())
    return copies, [range_server.url(p.name) for p in copies]


def test_auto_chooses_from_the_copies_and_fetches_no_more_than_a_named_method(
    remote_series, range_server, tmp_path, monkeypatch
):
    files, _, box = remote_series
    planned = _stop_after_copies(monkeypatch)
    sent = {}
    for method in ("cva", "auto"):
        copies, urls = _fresh_urls(range_server, files, method)
        start = range_server.settled()
        with pytest.raises(RuntimeError, match="after the copies"):
            detect_series(urls, DATES, method, bbox=box, outdir=tmp_path / method, **OPTS)
        sent[method] = range_server.settled() - start
        blocks = sum(block_bytes(p, BOX) for p in copies)
        assert 0 < sent[method] <= 2 * blocks, (method, sent[method], blocks)
    assert planned == ["cva", "learned"]  # three RGB bands: what auto picks for a pair
    assert sent["auto"] <= 1.01 * sent["cva"], sent  # the choice read the copies, not the URLs


def test_auto_on_copies_finds_db_values_inside_the_box(range_server, tmp_path, monkeypatch):
    """The dB probe reads inside the box: a copy holds nothing outside it (read as 0 there)."""
    rng = np.random.default_rng(3)
    paths = []
    for date in DATES:
        data = rng.normal(-12, 2, (1, 1024, 1024)).astype(np.float32)
        path = range_server.root / f"sar_{date}.tif"
        profile = dict(driver="GTiff", width=1024, height=1024, count=1, dtype="float32",
                       crs="EPSG:32633", transform=rasterio.transform.from_origin(
                           500000, 5000000, 10, 10), tiled=True, blockxsize=256,
                       blockysize=256)  # fmt: skip
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
            transform, crs = ds.transform, ds.crs
        paths.append(path)
    inner = Window(520, 520, 300, 300)  # off the top left block
    box = transform_bounds(crs, "EPSG:4326", *window_bounds(inner, transform))
    urls = [range_server.url(p.name) for p in paths]
    planned = _stop_after_copies(monkeypatch)
    with pytest.raises(RuntimeError, match="after the copies"):
        detect_series(urls, DATES, "auto", bbox=box, outdir=tmp_path / "sar", **OPTS)
    assert (tmp_path / "sar" / COPY_DIR).is_dir()
    assert planned == ["sar"]  # float values below -3 dB: radar backscatter
