"""evaluate_change: hand-computed scores with a stand-in detector; real runs."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

import terrasight.eval.change as evalchange
from terrasight.eval.change import EvalReport, evaluate_change, evaluate_pair, prepare_inputs
from terrasight.eval.datasets import list_pairs
from terrasight.eval.metrics import ConfusionMatrix, scores
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.result import ChangeResult


def _levir16(root: Path) -> None:
    """Two 16x16 pairs: 'a' has a 4x4 truth square at the top-left, 'b' no change."""
    for d in ("A", "B", "label"):
        (root / d).mkdir(parents=True)
    truth_a = np.zeros((16, 16), np.uint8)
    truth_a[0:4, 0:4] = 255
    for name, truth in (("a", truth_a), ("b", np.zeros((16, 16), np.uint8))):
        img = np.full((16, 16, 3), 100, np.uint8)
        Image.fromarray(img).save(root / "A" / f"{name}.png")
        Image.fromarray(img).save(root / "B" / f"{name}.png")
        Image.fromarray(truth).save(root / "label" / f"{name}.png")


def _fake_masks() -> dict[str, np.ndarray]:
    a = np.zeros((16, 16), np.uint8)
    a[0:4, 2:6] = 1  # 8 px on the truth (tp), 8 px beside it (fp); 8 truth px missed (fn)
    a[15, :] = 255  # a no-data row: left out
    b = np.zeros((16, 16), np.uint8)
    b[8:10, 8:10] = 1  # 4 false positives
    return {"a": a, "b": b}


def _fake_detect(before, after, method="cva", *, outdir, **kwargs) -> ChangeResult:
    mask = _fake_masks()[Path(before).stem]
    out = Path(outdir)
    out.mkdir(parents=True)
    prof = dict(driver="GTiff", width=16, height=16, count=1)
    with rasterio.open(out / "m.tif", "w", dtype="uint8", nodata=255, **prof) as ds:
        ds.write(mask, 1)
    return ChangeResult(
        method=method,
        before=str(before),
        after=str(after),
        crs=None,
        transform=(1, 0, 0, 0, 1, 0),
        width=16,
        height=16,
        mask_path=out / "m.tif",
        probability_path=out / "m.tif",
        objects=(),
        valid_pixels=0,
        changed_pixels=0,
        cloud_pixels=0,
        pixel_area=1.0,
        area_unit="px",
        region=(0, 0, 16, 16),
    )


def test_scores_match_a_hand_computation(tmp_path, monkeypatch):
    _levir16(tmp_path / "ds")
    monkeypatch.setattr(evalchange, "detect_changes", _fake_detect)
    seen = []
    report = evaluate_change(tmp_path / "ds", "levir", on_pair=seen.append)
    a, b = report.pairs
    assert [p.name for p in seen] == ["a", "b"]
    # a: 256 px - 16 no data = 240 counted; tp 8, fp 8, fn 8, tn 216.
    assert a.confusion == ConfusionMatrix(tp=8, fp=8, fn=8, tn=216)
    assert b.confusion == ConfusionMatrix(tp=0, fp=4, fn=0, tn=252)
    assert report.pooled == ConfusionMatrix(8, 12, 8, 468)
    s = report.scores
    assert s["f1"] == pytest.approx(2 * 8 / (2 * 8 + 12 + 8))  # 0.4444
    assert s["precision"] == pytest.approx(8 / 20) and s["recall"] == pytest.approx(0.5)
    assert s["iou"] == pytest.approx(8 / 28)
    assert s["overall_accuracy"] == pytest.approx(476 / 496)
    pe = (20 * 16 + 476 * 480) / 496**2
    assert s["kappa"] == pytest.approx((476 / 496 - pe) / (1 - pe))
    assert a.scores["f1"] == pytest.approx(0.5) and b.scores["f1"] == 0.0


def test_real_detection_on_a_built_levir_folder(levir_dir):
    root, truths = levir_dir
    report = evaluate_change(root, "levir", method="cva", min_pixels=5, workers=1)
    assert isinstance(report, EvalReport) and report.crop is None
    # The same by hand: run the detector on each pair and count with numpy.
    tp = fp = fn = 0
    for name, truth in truths.items():
        res = detect_changes(
            root / "A" / f"{name}.png",
            root / "B" / f"{name}.png",
            method="cva",
            min_pixels=5,
            workers=1,
        )
        pred = res.mask() == 1
        tp += int((pred & truth).sum())
        fp += int((pred & ~truth).sum())
        fn += int((~pred & truth).sum())
    assert report.scores["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert report.scores["f1"] > 0.9
    assert report.pooled.total == sum(t.size for t in truths.values())


def test_report_to_dict_and_table(levir_dir):
    report = evaluate_change(levir_dir[0], "levir", method="cva", min_pixels=5, workers=1)
    d = json.loads(json.dumps(report.to_dict()))
    assert (
        d["layout"] == "levir"
        and d["method"] == "cva"
        and d["options"] == {"min_pixels": 5, "workers": 1}
    )
    assert d["pooled"]["f1"] == pytest.approx(report.scores["f1"])
    assert [p["name"] for p in d["pairs"]] == ["pair_0", "pair_1"]
    assert d["pooled"]["tp"] == sum(p["tp"] for p in d["pairs"])
    table = report.table()
    assert "pair_0" in table and "pooled" in table and f"{report.scores['f1']:.3f}" in table


def test_airchange_test_crops(airchange_subset, tmp_path):
    pairs = list_pairs(airchange_subset, "airchange", crop="test")
    before, after = prepare_inputs(pairs[0], tmp_path / "crop")
    for path in (before, after):
        with rasterio.open(path) as ds:
            assert (ds.width, ds.height, ds.count) == (784, 448, 3)
    with rasterio.open(pairs[0].before) as full, rasterio.open(before) as crop:
        assert np.array_equal(full.read(window=((0, 448), (0, 784))), crop.read())
    report = evaluate_change(airchange_subset, "airchange", workers=1)
    assert report.crop == "test" and [p.name for p in report.pairs] == ["Szada/1", "Tiszadob/3"]
    for p in report.pairs:
        assert p.confusion.total == 784 * 448  # no nodata in AirChange
    assert report.pooled == report.pairs[0].confusion + report.pairs[1].confusion
    assert 0.1 < report.scores["f1"] < 0.9
    assert report.scores == scores(report.pooled)


def test_airchange_train_part_excludes_the_test_window(airchange_subset, tmp_path):
    pair = list_pairs(airchange_subset, "airchange", crop="train")[0]
    score = evaluate_pair(pair, tmp_path / "w", workers=1)
    assert score.confusion.total == 952 * 640 - 784 * 448
