"""A build killed with SIGKILL loses and duplicates nothing; a Dask LocalCluster of 2 workers
builds the same table as this process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from terrasight import index
from terrasight.index import store
from terrasight.index.cluster import PLUGIN, make_runner
from terrasight.index.work import Rows, Unit

from .conftest import OVERLAP, TILE

TOTAL = 20 + 9 + 6 * 9  # tiles of the archive fixture
SCRIPT = (
    "import sys; from terrasight import index; "
    "index.build([sys.argv[1]], sys.argv[2], tile=int(sys.argv[3]), overlap=int(sys.argv[4]), "
    "flush_rows=1)"
)


def table_rows(db: Path) -> dict[tuple[str, int], dict]:
    rows = store.open_table(db).to_arrow().to_pylist()
    keyed = {(Path(r["source"]).name, r["tile"]): r for r in rows}
    assert len(keyed) == len(rows), "duplicate tiles"
    return keyed


def assert_whole_files(db: Path) -> int:
    """Every file in the table has all its tiles, under one hash; returns the row count."""
    table = store.open_table(db)
    if table is None:
        return 0
    rows = table_rows(db)
    by_file: dict[str, list[dict]] = {}
    for (name, _), row in rows.items():
        by_file.setdefault(name, []).append(row)
    for name, got in by_file.items():
        assert len(got) == got[0]["tiles"], f"{name}: {len(got)} of {got[0]['tiles']} tiles"
        assert len({r["source_hash"] for r in got}) == 1
    return len(rows)


def start_build(archive: Path, db: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-c", SCRIPT, str(archive), str(db), str(TILE), str(OVERLAP)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _rows(db: Path) -> int:
    """Rows in the table so far; 0 while the build is still creating it (its folder can
    appear before the table can be opened)."""
    if not (db / f"{store.TABLE}.lance").exists():
        return 0
    try:
        return store.open_table(db).count_rows()
    except ValueError:  # "Table 'tiles' was not found": created a moment later
        return 0


def kill_when(proc: subprocess.Popen, db: Path, least: int, timeout: float = 120.0) -> int:
    """SIGKILL the build once the table holds at least ``least`` rows (and not all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        n = _rows(db)
        if least <= n < TOTAL:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return n
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"the build ended (rc {proc.poll()}) before it could be killed mid-way")


def test_killing_a_build_at_any_moment_loses_and_duplicates_nothing(archive: Path, tmp_path: Path):
    db = tmp_path / "db"
    first = kill_when(start_build(archive, db), db, least=1)
    assert 0 < first < TOTAL and assert_whole_files(db) >= first
    # a second kill, at a random moment after the model is loaded
    proc = start_build(archive, db)
    time.sleep(float(np.random.default_rng().uniform(3.0, 6.0)))
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_whole_files(db)

    report = index.build([archive], db, tile=TILE, overlap=OVERLAP)
    assert assert_whole_files(db) == TOTAL == report.tiles_total
    clean = tmp_path / "clean"
    index.build([archive], clean, tile=TILE, overlap=OVERLAP)
    resumed, fresh = table_rows(db), table_rows(clean)
    assert resumed.keys() == fresh.keys()
    for key, row in fresh.items():
        assert np.allclose(resumed[key]["vector"], row["vector"], atol=1e-5), key
        assert resumed[key]["footprint"] == row["footprint"]


def test_a_local_cluster_of_two_workers_builds_the_same_table(archive: Path, tmp_path: Path):
    local, dask = tmp_path / "local", tmp_path / "dask"
    index.build([archive], local, tile=TILE, overlap=OVERLAP)
    report = index.build([archive], dask, tile=TILE, overlap=OVERLAP, workers=2)
    assert [Path(f.path).name for f in report.failures] == ["broken.tif"], report.failures
    assert report.tiles_added == TOTAL
    a, b = table_rows(local), table_rows(dask)
    assert a.keys() == b.keys()
    for key, row in a.items():
        assert np.allclose(b[key]["vector"], row["vector"], atol=1e-5), key
        assert (b[key]["bbox"], b[key]["date"]) == (row["bbox"], row["date"])


def test_both_workers_of_the_cluster_embed_and_keep_their_own_model(archive: Path):
    photos = sorted((archive / "photos").iterdir())
    units = [Unit(str(p), "h", 1, 1, 1, 0, 1, 224, 0) for p in photos]
    with make_runner(2, None, "terrasight-vl", None, None) as runner:
        results = list(runner.map([[u] for u in units]))
        held = runner.client.run(lambda dask_worker: len(dask_worker.plugins[PLUGIN].cache))  # type: ignore[attr-defined]
    assert all(isinstance(r, Rows) for r in results) and len(results) == 6
    assert sorted(r.unit.path for r in results) == [str(p) for p in photos]
    assert len(held) == 2 and set(held.values()) == {1}  # a model loaded on each worker


def test_a_running_scheduler_by_its_address_builds_the_same_table(archive: Path, tmp_path: Path):
    from distributed import LocalCluster

    local, remote = tmp_path / "local", tmp_path / "remote"
    index.build([archive], local, tile=TILE, overlap=OVERLAP)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        report = index.build([archive], remote, tile=TILE, overlap=OVERLAP, scheduler=address)
    assert report.tiles_added == TOTAL
    a, b = table_rows(local), table_rows(remote)
    assert a.keys() == b.keys()
    for key, row in a.items():
        assert np.allclose(b[key]["vector"], row["vector"], atol=1e-5), key
