"""Inputs downloaded whole (their server answers no range requests) are named as given: the
result, summary, facts and report name the URLs; the downloads are the files read."""

from __future__ import annotations

import json
from pathlib import Path

from terrasight.tasks.change.load import load_result
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions

SAVE = {"facts": FactsOptions(classify=False), "report": True, "workers": 1}


def test_a_change_on_a_server_without_ranges_names_the_urls(
    cog_pair, range_server, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TERRASIGHT_CACHE", str(cache))
    range_server.whole = True  # before any read of these URLs (GDAL keeps what it saw)
    _, _, box = cog_pair
    urls = (range_server.url("before.tif"), range_server.url("after.tif"))
    result = detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "w", workers=1)
    assert (result.before, result.after) == urls
    assert all(Path(p).is_relative_to(cache) and Path(p).is_file() for p in result.local_inputs)
    assert [Path(p).name for p in result.input_paths] == ["before.tif", "after.tif"]
    result.save(tmp_path / "w", **SAVE)

    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert (summary["before"], summary["after"]) == urls
    assert summary["local_inputs"] == list(result.local_inputs)
    facts = json.loads((tmp_path / "w" / "facts.json").read_text())
    assert (facts["before"], facts["after"]) == urls
    report = (tmp_path / "w" / "report.html").read_text()
    assert urls[0] in report and urls[1] in report
    # the cache is named only where the warnings say where the files were downloaded
    assert report.count(str(cache)) == report.count("was downloaded to ") == 2
    loaded = load_result(tmp_path / "w")
    assert (loaded.before, loaded.after) == urls and loaded.input_paths == result.local_inputs


def test_the_dates_of_downloads_come_from_their_tags(cog_pair, range_server, tmp_path, monkeypatch):
    import rasterio

    from terrasight.tasks.interpret.ask import ask_result

    monkeypatch.setenv("TERRASIGHT_CACHE", str(tmp_path / "cache"))
    before, after, box = cog_pair
    for path, date in ((before, "2019-06-01"), (after, "2024-06-01")):
        with rasterio.open(
            path, "r+", IGNORE_COG_LAYOUT_BREAK="YES"
        ) as ds:  # the URLs' names say no date, the files do
            ds.update_tags(DATETIME=date)
    range_server.whole = True
    urls = (range_server.url("before.tif"), range_server.url("after.tif"))
    result = detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "w", workers=1)
    result.save(tmp_path / "w", facts=FactsOptions(classify=False), report=False, workers=1)
    facts = json.loads((tmp_path / "w" / "facts.json").read_text())
    assert facts["before"] == urls[0] and facts["dates"] == ["2019-06-01", "2024-06-01"]
    answer = ask_result(tmp_path / "w", "when were the images taken?")
    assert answer.value == ["2019-06-01", "2024-06-01"], answer.text


def test_a_message_about_a_copied_input_names_its_url(cog_pair, range_server, tmp_path):
    import numpy as np
    import pytest
    import rasterio

    from terrasight.errors import InvalidRasterError
    from terrasight.io.box_copy import COPY_DIR

    from ...conftest import write_raster

    before, _, box = cog_pair
    with rasterio.open(before) as ds:  # the before image with nodata everywhere
        shape, transform = ds.shape, ds.transform
    write_raster(before, np.zeros((3, *shape), np.uint8), transform=transform, nodata=0,
                 tiled=True, blockxsize=256, blockysize=256)  # fmt: skip
    urls = (range_server.url("before.tif"), range_server.url("after.tif"))
    with pytest.raises(InvalidRasterError) as err:
        detect_changes(*urls, method="cva", bbox=box, outdir=tmp_path / "n", workers=1)
    assert (tmp_path / "n" / COPY_DIR / "before").is_dir()  # the job read the copies
    assert f"the before image {urls[0]} " in str(err.value) and COPY_DIR not in str(err.value)
