"""A table of pairs: checked table, one folder per pair, failures kept apart, resume, Dask."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import BatchTableError, InvalidOptionError
from terrasight.tasks.batch import read_pairs, run_batch

from ..conftest import write_raster

FAST = {"method": "cva", "min_pixels": 10}


def _pair(folder: Path, name: str, box: tuple[int, int], seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    base = rng.normal(100, 10, size=(3, 96, 128)).clip(0, 255)
    after = base + rng.normal(0, 2, size=base.shape)
    r, c = box
    after[:, r : r + 16, c : c + 20] = 235
    return (
        write_raster(folder / f"{name}_1.tif", base.astype(np.uint8)),
        write_raster(folder / f"{name}_2.tif", after.clip(0, 255).astype(np.uint8)),
    )


@pytest.fixture
def table(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    _pair(data, "north", (10, 20), 1)
    _pair(data, "south", (60, 80), 2)
    path = data / "pairs.csv"
    path.write_text(
        "before,after,name\n"
        "north_1.tif,north_2.tif,North field\n"
        "south_1.tif,south_2.tif,south\n"
        "gone_1.tif,gone_2.tif,gone\n"
    )
    return path


def _mask(folder: Path) -> np.ndarray:
    with rasterio.open(folder / "change_mask.tif") as ds:
        return ds.read(1)


def test_the_table_is_checked_with_its_line(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("before,name\na.tif,x\n")
    with pytest.raises(BatchTableError, match="no column 'after'"):
        read_pairs(bad)
    bad.write_text("before,after,name\na.tif,b.tif,x\nc.tif,,y\n")
    with pytest.raises(BatchTableError, match="line 3: the after cell is empty"):
        read_pairs(bad)
    bad.write_text("before,after,name\na.tif,b.tif,x\nc.tif,d.tif,x\n")
    with pytest.raises(BatchTableError, match="line 3: the name 'x' is also on line 2"):
        read_pairs(bad)
    with pytest.raises(BatchTableError, match="cannot read"):
        read_pairs(tmp_path / "missing.csv")


def test_pairs_run_apart_a_failure_is_one_line_and_a_rerun_resumes(table, tmp_path):
    pairs = read_pairs(table)
    assert [p.name for p in pairs] == ["North_field", "south", "gone"]
    out = tmp_path / "out"
    seen: list[tuple[int, int, str]] = []
    batch = run_batch(
        pairs,
        out,
        FAST,
        report=False,
        facts=False,
        progress=lambda d, t, o: seen.append((d, t, o.name)),
    )
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    north, south, gone = batch.pairs
    assert north.status == south.status == "done" and gone.status == "failed"
    assert "gone_1.tif" in gone.error and "\n" not in gone.error
    for outcome, (r, c) in ((north, (10, 20)), (south, (60, 80))):
        mask = _mask(out / outcome.name)
        assert mask[r + 8, c + 10] == 1 and outcome.objects >= 1
        assert (mask == 1).sum() < 0.1 * mask.size
    rows = (out / "batch_summary.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[3].startswith("gone,failed")
    totals = json.loads((out / "batch_summary.json").read_text())["totals"]
    assert totals == {**totals, "pairs": 3, "done": 2, "failed": 1}
    with sqlite3.connect(out / "batch_changes.gpkg") as db:
        names = [r[0] for r in db.execute("SELECT pair FROM changes")]
        srs = db.execute("SELECT srs_id FROM gpkg_geometry_columns").fetchone()[0]
    assert sorted(set(names)) == ["North_field", "south"] and srs == 4326
    assert len(names) == north.objects + south.objects
    again = run_batch(pairs, out, FAST, report=False, facts=False)
    assert [p.resumed for p in again.pairs] == [True, True, False]
    assert again.pairs[0].objects == north.objects


def test_options_are_checked_before_any_pair_runs(table, tmp_path):
    with pytest.raises(InvalidOptionError, match="tolerence"):
        run_batch(read_pairs(table), tmp_path / "o", {"method": "cva", "tolerence": 1})
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_pairs_on_a_dask_cluster_give_the_same_outputs(table, tmp_path):
    pytest.importorskip("distributed")
    pairs = read_pairs(table)[:2]
    here = run_batch(pairs, tmp_path / "here", FAST, report=False, facts=False)
    there = run_batch(pairs, tmp_path / "dask", FAST, report=False, facts=False, workers=2)
    for a, b in zip(here.pairs, there.pairs, strict=True):
        assert (a.name, a.objects, a.changed_area) == (b.name, b.objects, b.changed_area)
        assert np.array_equal(_mask(tmp_path / "here" / a.name), _mask(tmp_path / "dask" / a.name))


def test_the_cli_prints_one_row_per_pair_and_exits_1_on_a_failure(table, tmp_path):
    out = tmp_path / "cli"
    args = ["batch", str(table), "-o", str(out), "-m", "cva", "--no-report", "--no-facts", "-q"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 1, run.output
    assert "gone" in run.output and "3 pairs, 2 done, 1 failed." in run.output
    run = CliRunner().invoke(main, [*args, "--json"])
    data = json.loads(run.stdout)
    assert data["totals"]["done"] == 2 and data["pairs"][0]["resumed"] is True
