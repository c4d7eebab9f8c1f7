"""A series of dates taken from a STAC API search."""

from __future__ import annotations

import json

from click.testing import CliRunner

from terrasight.cli import main
from terrasight.tasks.interpret.ask import ask


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _box(values) -> str:
    return ",".join(f"{v:.7f}" for v in values)


def test_series_from_a_stac_search_dates_the_planted_change(stac_api, stac_scenes, tmp_path):
    out = tmp_path / "series"
    args = ["series", "--stac", stac_api.url, "--collection", "s2-test"]
    args += ["--bbox", _box(stac_scenes.aoi), "--from", "2023-01-01", "--to", "2024-12-31"]
    args += ["--max-cloud", 20, "-o", out, "--cloud-mask", "off", "--no-report"]
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "5 of 5 items:"
    assert [line.split()[0] for line in lines[1:6]] == [
        "S2_20230609",
        "S2_20230614",
        "S2_20240601",
        "S2_20240612",
        "S2_20240625",
    ]
    summary = json.loads((out / "series.json").read_text())
    assert summary["dates"][0] == "2023-06-09" and len(summary["dates"]) == 5
    largest = summary["objects"][0]
    assert (largest["last_unchanged"], largest["first_seen"]) == ("2023-06-14", "2024-06-01")
    answer = ask(out, question="when did the largest change happen?")
    assert answer.value == "2024-06-01"


def test_series_stac_keeps_the_clearest_per_period_and_needs_three(stac_api, stac_scenes, tmp_path):
    base = ["series", "--stac", stac_api.url, "--collection", "s2-test"]
    base += ["--bbox", _box(stac_scenes.aoi), "--from", "2023-01-01", "--to", "2024-12-31"]
    base += ["--cloud-mask", "off", "--no-report"]
    every = _cli(*base, "--every", 30, "-o", tmp_path / "a", "--max-cloud", 20)
    assert every.exit_code == 0, every.output
    assert every.output.splitlines()[0] == "3 of 5 items, the clearest per 30 days:"
    picked = [line.split()[0] for line in every.output.splitlines()[1:4]]
    assert picked == ["S2_20230609", "S2_20240601", "S2_20240612"]
    few = _cli(*base, "--max-cloud", 3, "-o", tmp_path / "b")
    assert few.exit_code == 3 and "1 date found, a series needs 3 or more" in few.output
    half = _cli("series", "--stac", stac_api.url, "-o", tmp_path / "c", "--from", "2023-01-01")
    assert (
        half.exit_code == 2 and "--stac needs --collection, --bbox, --until as well" in half.output
    )
    both = _cli(*base, "-o", tmp_path / "d", stac_scenes.before_url)
    assert both.exit_code == 2 and "not both" in both.output
