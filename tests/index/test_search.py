"""index search: equal to the in-memory search, filters that never widen, GeoJSON, sheets, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from PIL import Image

from terrasight import index
from terrasight.cli import main
from terrasight.errors import IndexNotFoundError, InvalidOptionError
from terrasight.models.runtime import ModelCache
from terrasight.tasks.embed import search as search_in_memory

from ..conftest import SHARED_DATA
from .conftest import OVERLAP, TILE, write_archive

AID_CLASSES = ("Port", "Forest", "Airport", "Stadium", "Beach", "Farmland")


@pytest.fixture(scope="module")
def models() -> ModelCache:
    return ModelCache()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, models: ModelCache) -> Path:
    """The archive indexed once for this module's searches (which only read it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    root = tmp_path_factory.mktemp("built")
    db = root / "db"
    index.build([write_archive(root, SHARED_DATA)], db, tile=TILE, overlap=OVERLAP, cache=models)
    return db


def test_retrieval_through_the_index_equals_the_in_memory_search(
    shared_data: Path, tmp_path: Path, models: ModelCache
):
    paths = [p for c in AID_CLASSES for p in sorted((shared_data / "aid" / c).glob("*.jpg"))[:5]]
    db = tmp_path / "aid"
    report = index.build(paths, db, tile=224, cache=models)  # 150 px photos: one tile each
    assert report.tiles_total == len(paths) == 30
    idx = index.open(db)
    for query in ("many boats in a harbour", "a stadium", "green farmland", "dense forest"):
        expected = search_in_memory(query, paths, k=10, cache=models)
        got = idx.search(query, k=10, cache=models)
        assert [h.source for h in got] == [str(Path(p).resolve()) for p, _ in expected]
        assert np.allclose([h.score for h in got], [s for _, s in expected], atol=1e-4)
    # an example image finds itself first
    first = idx.search(image=paths[7], k=1, cache=models).hits[0]
    assert first.source == str(paths[7].resolve()) and first.score > 0.999


def test_a_box_returns_only_tiles_inside_it_and_never_widens(built: Path, models: ModelCache):
    idx = index.open(built)
    # the north-west corner of coast_20230615.tif (its origin is 15.0 E, 45.15 N)
    box = (14.99, 45.146, 15.002, 45.16)
    result = idx.search("a harbour", bbox=box, k=50, cache=models)
    area = shapely.box(*box)
    assert 0 < len(result) < 20 and result.message == ""
    assert all(
        h.footprint.intersects(area) and h.source.endswith("coast_20230615.tif") for h in result
    )
    assert [h.rank for h in result] == list(range(1, len(result) + 1))
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:], strict=False))

    empty = idx.search("a harbour", bbox=(100.0, 10.0, 101.0, 11.0), k=5, cache=models)
    assert (
        empty.hits == []
        and "no tile of the index lies in the box 100.0,10.0,101.0,11.0" in empty.message
    )
    assert "never widened" in empty.message and "within 6.37300,45.13547,15.02951" in empty.message
    with pytest.raises(InvalidOptionError, match="west < east"):
        idx.search("x", bbox=(15.0, 45.0, 14.0, 46.0))


def test_since_keeps_tiles_dated_on_or_after_the_date(built: Path, models: ModelCache):
    idx = index.open(built)
    late = idx.search("fields", since="2022-01-01", k=100, cache=models)
    assert len(late) == 20 and {h.date for h in late} == {"2023-06-15"}
    both = idx.search("fields", since="2021-03-04", k=100, cache=models)
    assert len(both) == 29
    none = idx.search("fields", since="2024-01-01", k=5, cache=models)
    assert none.hits == [] and "dated 2024-01-01 or later" in none.message
    with pytest.raises(InvalidOptionError, match="YYYY-MM-DD"):
        idx.search("x", since="last week")


def test_geojson_contact_sheet_and_cli(built: Path, tmp_path: Path):
    out, sheet = tmp_path / "hits.geojson", tmp_path / "hits.png"
    args = ["index", "search", "a coast", "--db", str(built), "-k", "6", "-o", str(out)]
    args += ["--sheet", str(sheet), "--bbox", "14.9,45.0,15.1,45.2"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    fc = json.loads(out.read_text())
    assert len(fc["features"]) == 6 and fc["terrasight:query"]["bbox"] == [14.9, 45.0, 15.1, 45.2]
    feat = fc["features"][0]
    assert feat["geometry"]["type"] == "Polygon" and feat["properties"]["rank"] == 1
    lon, lat = feat["geometry"]["coordinates"][0][0]
    assert 14.9 < lon < 15.1 and 45.0 < lat < 45.2
    with Image.open(sheet) as img:
        assert img.size == (5 * 160, 2 * 190)
        pixels = np.asarray(img.convert("RGB"))
    assert pixels[:160, :160].std() > 5  # a real thumbnail, not a blank cell

    run = CliRunner().invoke(
        main, ["index", "search", "x", "--db", str(built), "--bbox", "1,2,3,4"]
    )
    assert run.exit_code == 0 and "no tile of the index lies in the box" in run.output
    run = CliRunner().invoke(main, ["index", "search", "x", "--db", str(tmp_path / "none")])
    assert run.exit_code == 4 and "no index there" in run.output and "Traceback" not in run.output
    run = CliRunner().invoke(main, ["index", "search", "--db", str(built)])
    assert run.exit_code == 2 and "give a text" in run.output


def test_build_cli_reports_skipped_files(archive: Path, tmp_path: Path):
    db = tmp_path / "db"
    run = CliRunner().invoke(
        main,
        [
            "index",
            "build",
            str(archive / "photos"),
            str(archive / "broken.tif"),
            "--db",
            str(db),
            "-q",
        ],
    )
    assert run.exit_code == 0, run.output
    assert "6 tiles of 6 files added" in run.output and "skipped 1 files" in run.output
    assert "broken.tif" in run.output
    with pytest.raises(IndexNotFoundError):
        index.open(tmp_path / "elsewhere")
