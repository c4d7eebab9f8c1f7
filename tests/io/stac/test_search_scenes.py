"""Searching a STAC API: filtered by collection, box, dates and cloud; the clearest pick."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import SceneNotFoundError, StacError
from terrasight.io.stac import load_item
from terrasight.io.stac_search import find_clearest, pick_clearest, search_items

HERE = (14.9, 45.0, 15.2, 45.2)
"""A box over the stub's scenes (EPSG:32633 near 15 E, 45.1 N)."""


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_search_filters_by_collection_box_dates_and_cloud(stac_api, method):
    found = search_items(
        stac_api.url, "s2-test", HERE, date(2023, 6, 1), date(2023, 6, 30), 40, method=method
    )
    assert [s.id for s in found] == ["S2_20230606", "S2_20230609", "S2_20230614"]
    assert found[0].cloud_cover == 35.0 and found[0].collection == "s2-test"
    assert found[2].href == f"{stac_api.url}/collections/s2-test/items/S2_20230614"
    assert stac_api.searches[-1]["collections"] in (["s2-test"], "s2-test")
    everything = search_items(stac_api.url, "s2-test", HERE, date(2023, 1, 1), date(2024, 12, 31))
    assert len(everything) == 7 and "S2_20230616_far" not in {s.id for s in everything}
    assert (
        len(
            search_items(stac_api.url, "s2-test", HERE, date(2023, 1, 1), date(2025, 1, 1), limit=2)
        )
        == 2
    )


def test_the_clearest_is_the_least_cloudy_then_the_nearest(stac_api):
    pick = find_clearest(stac_api.url, "s2-test", HERE, date(2023, 6, 15), window_days=10)
    assert pick.scene.id == "S2_20230614" and pick.candidates == 4 and pick.days_off == 1
    assert "lowest cloud cover (4%) of 4 items within 10 days of 2023-06-15" in pick.reason
    scenes = search_items(stac_api.url, "s2-test", HERE, date(2024, 1, 1), date(2024, 12, 31))
    assert pick_clearest(scenes, date(2024, 6, 15), 30).scene.id == "S2_20240612"
    assert pick_clearest(scenes, date(2024, 6, 28), 5).scene.id == "S2_20240625"
    assert pick_clearest(scenes, date(2022, 1, 1), 30) is None
    with pytest.raises(SceneNotFoundError, match="searched collection 's2-test'") as err:
        find_clearest(stac_api.url, "s2-test", HERE, date(2022, 1, 1), 30, max_cloud=10)
    assert "2021-12-02..2022-01-31, cloud cover <= 10%" in str(err.value)


def test_search_scenes_lists_a_table_or_json_lines(stac_api):
    args = ["search-scenes", "--stac", stac_api.url, "--collection", "s2-test"]
    args += ["--bbox", ",".join(map(str, HERE)), "--from", "2023-06-01", "--to", "2024-06-30"]
    result = _cli(*args, "--max-cloud", 20)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "datetime", "cloud", "href"]
    assert [line.split()[0] for line in lines[1:]] == [
        "S2_20230609",
        "S2_20230614",
        "S2_20240601",
        "S2_20240612",
        "S2_20240625",
    ]
    assert "2023-06-14 10:00    4.0%" in lines[2]
    rows = [json.loads(line) for line in _cli(*args, "--json", "--limit", 2).output.splitlines()]
    assert [r["id"] for r in rows] == ["S2_20230606", "S2_20230609"]
    assert rows[0]["cloud_cover"] == 35.0 and rows[0]["datetime"].startswith("2023-06-06T10:00")


def test_search_errors_are_one_line_with_an_exit_code(stac_api, stac_scenes, monkeypatch):
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    base = ["--collection", "s2-test", "--bbox", "14.9,45,15.2,45.2", "--from", "2023-06-01"]
    down = _cli("search-scenes", "--stac", "http://127.0.0.1:1/api", *base, "--to", "2023-06-30")
    assert down.exit_code == 4 and "127.0.0.1:1/api" in down.output
    assert len(down.output.strip().splitlines()) == 1
    static = _cli("search-scenes", "--stac", stac_scenes.before_url, *base, "--to", "2023-06-30")
    assert (
        static.exit_code == 3
        and "not a STAC API" in static.output
        and stac_scenes.before_url in static.output
    )
    backwards = _cli("search-scenes", "--stac", stac_api.url, *base, "--to", "2023-05-01")
    assert backwards.exit_code == 2 and "before it starts" in backwards.output
    none = _cli("search-scenes", "--stac", stac_api.url, *base, "--to", "2023-06-02")
    assert none.exit_code == 0 and "no items found: searched collection 's2-test'" in none.output
    catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": "c", "description": "c"}
    (stac_scenes.server.root / "catalog.json").write_text(json.dumps({**catalog, "links": []}))
    with pytest.raises(StacError, match="not a STAC API with item search"):
        search_items(
            stac_scenes.server.url("catalog.json"), "c", HERE, date(2023, 1, 1), date(2023, 2, 1)
        )


def test_an_item_without_a_self_link_is_kept_as_a_file(stac_api):
    stac_api.items[-1]["links"] = []  # S2_20240625
    found = search_items(stac_api.url, "s2-test", HERE, date(2024, 6, 20), date(2024, 6, 30))
    assert [s.id for s in found] == ["S2_20240625"]
    assert found[0].href.endswith(".json") and not found[0].href.startswith("http")
    assert load_item(found[0].href).data["assets"]["B04"]["href"].startswith("http://")
