"""The semantic step within a time budget: what is left out is said, and what is kept is
what the whole step gives."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

import terrasight
from terrasight.cli import main
from terrasight.tasks.semantic import budget as budget_module
from terrasight.tasks.semantic import classify_changes
from terrasight.tasks.semantic.budget import WindowBudget
from terrasight.tasks.semantic.table import class_changes

SIDE = 320
OPTIONS = {"tile_size": 128, "overlap": 16}
"""Windows of 128 px (whole blocks of 256: 2 x 2 windows) keep the network's work small."""


@pytest.fixture(scope="module")
def busy_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 320 px RGB pair with some 90 planted changes spread over the whole scene."""
    rng = np.random.default_rng(5)
    base = np.zeros((3, SIDE, SIDE), np.float32)
    for band, level in enumerate((90, 120, 80)):
        field = rng.normal(level, 25, size=(SIDE // 8, SIDE // 8))
        base[band] = np.kron(field, np.ones((8, 8))) + rng.normal(0, 4, size=(SIDE, SIDE))
    after = base + rng.normal(0, 3, size=base.shape)
    for _ in range(90):
        r, c = rng.integers(0, SIDE - 14, size=2)
        h, w = rng.integers(5, 14, size=2)
        after[:, r : r + h, c : c + w] = rng.uniform(20, 240, size=(3, 1, 1))
    folder = tmp_path_factory.mktemp("busy")
    paths = []
    for name, data in (("before", base), ("after", after)):
        path = folder / f"{name}.tif"
        profile = dict(driver="GTiff", width=SIDE, height=SIDE, count=3, dtype="uint8")
        profile.update(crs="EPSG:32633", transform=from_origin(500000, 5000000, 1.0, 1.0))
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data.clip(0, 255).astype(np.uint8))
        paths.append(path)
    return paths[0], paths[1]


def _detect(pair: tuple[Path, Path], out: Path):
    return terrasight.detect_changes(*pair, method="cva", outdir=out)


def _pieces(objects) -> Counter:
    return Counter((o.parent_id, o.from_class, o.to_class, o.pixels) for o in objects)


def test_a_tiny_budget_classifies_nothing_and_says_so(busy_pair, tmp_path):
    plain = _detect(busy_pair, tmp_path / "out")
    n = len(plain.objects)
    result = classify_changes(plain, options=OPTIONS, budget_s=1e-6)
    table = json.loads((tmp_path / "out" / "change_classes.json").read_text())
    assert table["complete"] is False and table["objects_classified"] == 0
    assert table["windows_skipped"] == table["windows_with_changes"] > 1
    assert table["transitions"] == [] and table["changed_pixels_classified"] == 0
    note = result.warnings[-1]
    windows = table["windows_with_changes"]
    assert note.startswith(f"classes not computed for {windows} of {windows} windows")
    assert "--classes" in note and f"{n} of {n} objects" in note
    # the objects are the change job's own regions, without classes (unknown, not unchanged)
    assert len(result.objects) == n and all(o.from_class is None for o in result.objects)
    assert sorted(o.pixels for o in result.objects) == sorted(o.pixels for o in plain.objects)
    assert [o.id for o in result.objects] == list(range(1, n + 1))
    assert result.changed_pixels == plain.changed_pixels
    with rasterio.open(tmp_path / "out" / "change_classes.tif") as ds:
        assert (ds.read() == 255).all()
    read = class_changes(tmp_path / "out")
    assert read["measured"] and not read["complete"]
    assert read["buildings"]["objects_without_classes"] == n
    assert any(t.startswith("classes not computed") for t in read["notes"])


def test_a_budget_that_fits_gives_the_same_outputs_as_no_budget(busy_pair, tmp_path):
    whole = classify_changes(_detect(busy_pair, tmp_path / "a"), options=OPTIONS)
    fits = classify_changes(_detect(busy_pair, tmp_path / "b"), options=OPTIONS, budget_s=1e9)
    with rasterio.open(tmp_path / "a" / "change_classes.tif") as a:
        with rasterio.open(tmp_path / "b" / "change_classes.tif") as b:
            assert np.array_equal(a.read(), b.read())
            assert (a.read(1) != 255).sum() == whole.changed_pixels
    assert [o.to_dict() for o in whole.objects] == [o.to_dict() for o in fits.objects]
    assert json.loads((tmp_path / "b" / "change_classes.json").read_text())["complete"] is True
    assert not any(w.startswith("classes not computed") for w in fits.warnings)


def test_objects_in_classified_windows_are_cut_as_without_a_budget(
    busy_pair, tmp_path, monkeypatch
):
    whole = classify_changes(_detect(busy_pair, tmp_path / "a"), options=OPTIONS)
    monkeypatch.setattr(WindowBudget, "allows", lambda self, tile, elapsed: tile.index % 2 == 0)
    part = classify_changes(_detect(busy_pair, tmp_path / "b"), options=OPTIONS, budget_s=5.0)
    cut = [o for o in part.objects if o.from_class is not None]
    kept = [o for o in part.objects if o.from_class is None]
    assert cut and kept
    covered = {o.parent_id for o in cut}
    assert _pieces(cut) == _pieces(o for o in whole.objects if o.parent_id in covered)
    assert sum(o.pixels for o in part.objects) == part.changed_pixels == whole.changed_pixels
    table = json.loads((tmp_path / "b" / "change_classes.json").read_text())
    assert table["objects_classified"] == len(covered)
    assert 0 < table["classified_share"] < 1


def test_the_command_says_which_classes_it_left_out(busy_pair, tmp_path, monkeypatch):
    monkeypatch.setattr("terrasight.cli.change.default_budget", lambda seconds: 1e-6)
    args = ["change", *map(str, busy_pair), "-q", "--method", "cva", "--no-facts"]
    budgeted = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "d")])
    assert budgeted.exit_code == 0, budgeted.output
    assert "classes not computed for" in budgeted.output and "--classes" in budgeted.output
    assert "classes not computed for" in (tmp_path / "d" / "report.html").read_text()
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert any(w.startswith("classes not computed") for w in summary["warnings"])
    forced = CliRunner().invoke(
        main, [*args, "--no-report", "--classes", "-o", str(tmp_path / "f")]
    )
    assert forced.exit_code == 0, forced.output
    assert "classes not computed" not in forced.output
    assert json.loads((tmp_path / "f" / "change_classes.json").read_text())["complete"]
    plain = CliRunner().invoke(main, [*args, "--no-classes", "-o", str(tmp_path / "n")])
    assert plain.exit_code == 0 and not (tmp_path / "n" / "change_classes.json").exists()


def test_the_budget_counts_objects_of_each_window():
    from rasterio.windows import Window

    from terrasight.io.tiling import TileGrid

    grid = TileGrid(Window(0, 0, 64, 32), size=32)
    b = WindowBudget.of(10.0, grid, [(0, 0, 10, 10), (20, 0, 40, 8), (40, 4, 50, 9)])
    assert [t.tolist() for t in b.touches] == [[0, 1], [1, 2]]
    b.mark(grid[1], 0.5)
    assert b.covered.tolist() == [False, False, True]
    assert b.allows(grid[0], 0.5)  # 0.5 s spent, 0.5 s next, 3 objects
    assert not b.allows(grid[0], 9.6)
    assert budget_module.default_budget(100.0) == 100.0
