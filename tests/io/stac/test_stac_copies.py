"""STAC Items of remote assets over a box: one local multi-band copy of each Item's box, the
same outputs as reading the assets directly, bytes bounded; assets on a server without
range requests downloaded whole, as image URLs are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from terrasight.io.box_copy import COPY_DIR, source_identity
from terrasight.io.raster import open_raster
from terrasight.tasks.change.pipeline import local_inputs
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions
from terrasight.tasks.series import detect_series
from terrasight.tasks.series import local_inputs as series_inputs

from ...conftest import block_bytes
from .conftest import BANDS, item_json, write_scene

KW = {"method": "cva", "cloud_mask": "off", "workers": 1}
SAVE = {"facts": FactsOptions(classify=False), "report": True, "workers": 1}


def _read(path: str | Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def _without_paths(folder: Path) -> dict:
    data = json.loads((folder / "summary.json").read_text())
    for key in ("before", "after", "mask_path", "probability_path", "local_inputs", "folder"):
        data.pop(key, None)
    return data


def test_change_between_remote_items_reads_one_copy_of_each_box(stac_scenes, tmp_path, monkeypatch):
    server, urls = stac_scenes.server, (stac_scenes.before_url, stac_scenes.after_url)
    with monkeypatch.context() as m:  # the assets read directly, as before copies
        m.setattr(local_inputs, "wants_copies", lambda plan: False)
        direct = detect_changes(*urls, bbox=stac_scenes.aoi, outdir=tmp_path / "d", **KW)
        direct.save(tmp_path / "d", **SAVE)
    start = server.settled()
    copied = detect_changes(*urls, bbox=stac_scenes.aoi, outdir=tmp_path / "c", **KW)
    copied.save(tmp_path / "c", **SAVE)
    fetched = server.settled() - start

    region = Window(*copied.region)
    assets = [server.root / y / f"{BANDS[n]}.tif" for y in ("2023", "2024") for n in BANDS]
    blocks = sum(block_bytes(p, region) for p in assets)
    assert 0 < fetched <= 2 * blocks, (fetched, blocks)
    # one 4-band GeoTIFF per Item, named after its VRT; the result names the Items given
    assert (copied.before, copied.after) == (direct.before, direct.after) == urls
    assert [Path(p).parent.name for p in copied.local_inputs] == ["before", "after"]
    assert all(p.endswith(".vrt") for p in direct.local_inputs)  # the VRTs were read
    with rasterio.open(copied.local_inputs[0]) as ds, rasterio.open(direct.local_inputs[0]) as vrt:
        assert ds.driver == "GTiff" and ds.descriptions == vrt.descriptions == tuple(BANDS)
        assert ds.scales == vrt.scales and ds.transform == vrt.transform
    assert np.array_equal(_read(copied.mask_path), _read(direct.mask_path))
    assert np.array_equal(_read(copied.probability_path), _read(direct.probability_path))
    assert _without_paths(tmp_path / "c") == _without_paths(tmp_path / "d")
    facts = json.loads((tmp_path / "c" / "facts.json").read_text())
    assert facts == json.loads((tmp_path / "d" / "facts.json").read_text())

    sent = server.settled()  # a rerun reads the copies: only the Items' JSON is fetched again
    again = detect_changes(*urls, bbox=stac_scenes.aoi, outdir=tmp_path / "c", **KW)
    again.save(tmp_path / "c", **SAVE)
    items = stac_scenes.before_file.stat().st_size + stac_scenes.after_file.stat().st_size
    assert server.settled() - sent == items and again.local_inputs == copied.local_inputs


def test_a_changed_item_is_copied_again(stac_scenes):
    first = source_identity(open_raster(stac_scenes.after_file))
    assert first["item_sha256"] and len(first["assets"]) == 4
    assert all("etag" in a and "size" in a for a in first["assets"])
    item = json.loads(stac_scenes.after_file.read_text())
    item["properties"]["eo:cloud_cover"] = 9.0
    stac_scenes.after_file.write_text(json.dumps(item))
    changed = source_identity(open_raster(stac_scenes.after_file))
    assert changed["item_sha256"] != first["item_sha256"]
    assert changed["assets"] == first["assets"]  # the same asset files


@pytest.fixture
def three_items(stac_scenes) -> list[str]:
    """The two served Items and a third date, with absolute asset URLs."""
    server = stac_scenes.server
    write_scene(server.root / "2025", planted=True, seed=3)
    hrefs = {n: server.url(f"2025/{BANDS.get(n, 'B11')}.tif") for n in (*BANDS, "swir16")}
    item = item_json("S2_20250610", "2025-06-10T10:00:00Z", 1.0, hrefs)
    (server.root / "2025" / "S2_20250610.json").write_text(json.dumps(item))
    return [stac_scenes.before_url, stac_scenes.after_url, server.url("2025/S2_20250610.json")]


def test_a_series_of_remote_items_reads_copies_and_matches_direct_reads(
    three_items, stac_scenes, tmp_path, monkeypatch
):
    kw = {**KW, "bbox": stac_scenes.aoi, "tile_size": 256}
    with monkeypatch.context() as m:
        m.setattr(series_inputs, "wants_copies", lambda stack, opts: False)
        direct = detect_series(three_items, outdir=tmp_path / "d", **kw)
    copied = detect_series(three_items, outdir=tmp_path / "c", **kw)
    assert copied.dates == ("2023-06-14", "2024-06-12", "2025-06-10")  # the Items' datetimes
    copies = sorted((tmp_path / "c" / COPY_DIR).rglob("*.tif"))
    assert [p.parent.name for p in copies] == list(copied.dates)
    assert all(len(_read(p)) == 4 for p in copies)
    for name in ("change_date.tif", "change_interval.tif"):
        assert np.array_equal(_read(tmp_path / "c" / name), _read(tmp_path / "d" / name))
    summary = copied.summary()
    assert summary == direct.summary() and copied.objects


def test_items_on_a_server_without_ranges_have_their_assets_downloaded(stac_scenes, tmp_path):
    urls = (stac_scenes.before_url, stac_scenes.after_url)
    stac_scenes.server.whole = True  # before any read of these URLs (GDAL keeps what it saw)
    whole = detect_changes(*urls, bbox=stac_scenes.aoi, outdir=tmp_path / "w", **KW)
    notes = [w for w in whole.warnings if "does not answer range requests" in w]
    assert len(notes) == 8 and all("STAC item" in n for n in notes)  # 4 assets of 2 Items
    # local files now: nothing to copy; the VRTs of the downloads were read
    assert whole.before == urls[0] and all(p.endswith(".vrt") for p in whole.local_inputs)
    # the same Items on the local files give the same change
    local = []
    for year, item in (("2023", stac_scenes.before_file), ("2024", stac_scenes.after_file)):
        data = json.loads(item.read_text())
        for asset in data["assets"].values():
            asset["href"] = str(stac_scenes.server.root / year / Path(asset["href"]).name)
        local.append(tmp_path / f"{year}.json")
        local[-1].write_text(json.dumps(data))
    files = detect_changes(*local, bbox=stac_scenes.aoi, outdir=tmp_path / "f", **KW)
    assert np.array_equal(_read(whole.mask_path), _read(files.mask_path))
    sent = stac_scenes.server.settled()
    open_raster(stac_scenes.after_url)  # the VRT and the downloads are reused
    assert stac_scenes.server.settled() - sent == stac_scenes.after_file.stat().st_size


def test_items_with_an_asset_too_large_to_download_say_so(stac_scenes, tmp_path, monkeypatch):
    from terrasight.errors import RemoteReadError

    monkeypatch.setenv("TERRASIGHT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TERRASIGHT_DOWNLOAD_LIMIT_MB", "0")
    stac_scenes.server.whole = True
    with pytest.raises(RemoteReadError, match="does not answer range requests") as err:
        open_raster(stac_scenes.after_url)
    assert "STAC item" in str(err.value) and "curl -O" in str(err.value)


def test_the_change_command_on_remote_items_copies_each_box_once(stac_scenes, tmp_path):
    from click.testing import CliRunner

    from terrasight.cli import main

    out = tmp_path / "cli"
    box = ",".join(f"{v:.7f}" for v in stac_scenes.aoi)
    args = ["change", stac_scenes.before_url, stac_scenes.after_url, "-o", str(out), "-m", "cva",
            "--bbox", box, "--cloud-mask", "off", "--no-report", "-q", "--json"]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    copies = sorted((out / COPY_DIR).rglob("*.tif"))
    assert [p.parent.name for p in copies] == ["after", "before"]
    assert all(p.with_name(p.name + ".json").is_file() for p in copies)
    assert json.loads(first.stdout)["before"] == stac_scenes.before_url
    sent = stac_scenes.server.settled()
    stamps = [p.stat().st_mtime_ns for p in copies]
    again = CliRunner().invoke(main, args)  # the job again, on the same copies
    assert again.exit_code == 0, again.output
    assert [p.stat().st_mtime_ns for p in copies] == stamps
    items = stac_scenes.before_file.stat().st_size + stac_scenes.after_file.stat().st_size
    assert stac_scenes.server.settled() - sent <= items
