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
