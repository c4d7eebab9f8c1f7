"""A tiny, real training run on a small AirChange-layout folder written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from terrasight.cli.train import train_group  # noqa: E402
from terrasight.errors import DatasetLayoutError  # noqa: E402
from terrasight.models.weights import load_npz, sha256_file  # noqa: E402
from terrasight.training.change import TrainConfig, load_airchange, train_change  # noqa: E402

H, W = 512, 832  # just larger than the 784 x 448 test window


def _pair(folder: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(H // 8, W // 8, 3)).repeat(8, 0).repeat(8, 1)
    before = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    after = np.clip(base * 0.85 + 15 + rng.normal(0, 6, base.shape), 0, 255)
    gt = np.zeros((H, W), np.uint8)
    for y, x in rng.integers([0, 0], [H - 24, W - 24], size=(12, 2)):
        gt[y : y + 20, x : x + 20] = 255
        after[y : y + 20, x : x + 20] = 235
    folder.mkdir(parents=True)
    Image.fromarray(before).save(folder / "im1.png")
    Image.fromarray(after.astype(np.uint8)).save(folder / "im2.png")
    Image.fromarray(gt).save(folder / "gt.png")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("data")
    _pair(root / "airchange" / "Site" / "1", 1)
    _pair(root / "airchange" / "Site" / "2", 2)
    rng = np.random.default_rng(3)
    for cls in ("Farmland", "DenseResidential"):
        (root / "aid" / cls).mkdir(parents=True)
        for i in range(2):
            img = (rng.random((60, 60, 3)) * 255).astype(np.uint8)
            Image.fromarray(img).save(root / "aid" / cls / f"{cls}_{i}.jpg")
    return root / "airchange", root / "aid"


TINY = dict(
    epochs=1,
    crop=64,
    batch_size=4,
    real_per_epoch=8,
    synthetic_per_epoch=4,
    aid_per_class=2,
    threads=1,
)


def test_split_never_reads_the_test_window(dataset):
    train, val = load_airchange(dataset[0])
    assert [r.name for r in train] == ["Site/1", "Site/2"]
    assert train[0].before.shape == (3, H - 448, W)
    assert val[0].before.shape == (3, 448, W - 784)


def test_one_epoch_writes_weights_entry_and_log_reproducibly(dataset, tmp_path: Path):
    data, aid = dataset
    entry = train_change(data, tmp_path / "a", TrainConfig(**TINY, seed=5), aid_dir=aid)
    weights = tmp_path / "a" / entry["weights"]["file"]
    assert entry["weights"]["sha256"] == sha256_file(weights)
    assert entry["weights"]["size"] == weights.stat().st_size
    assert entry["training"]["config"]["seed"] == 5 and entry["training"]["best_epoch"] == 1
    assert 0.0 <= entry["threshold"] <= 1.0
    saved = json.loads((tmp_path / "a" / "siamese-effnet-lite0.json").read_text())
    assert saved["weights"] == entry["weights"]
    log = [
        json.loads(line)
        for line in (tmp_path / "a" / "train_log.jsonl").read_text().split("\n")
        if line
    ]
    assert len(log) == 1 and {"loss", "val_f1", "val_threshold", "seconds"} <= set(log[0])
    again = train_change(data, tmp_path / "b", TrainConfig(**TINY, seed=5), aid_dir=aid)
    first, second = load_npz(weights), load_npz(tmp_path / "b" / again["weights"]["file"])
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_cli_trains_without_synthetic_pairs(dataset, tmp_path: Path):
    result = CliRunner().invoke(
        train_group,
        [
            "change",
            "--data",
            str(dataset[0]),
            "--layout",
            "airchange",
            "--epochs",
            "1",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "run"),
            "--synthetic",
            "0",
            "--real",
            "4",
            "--crop",
            "64",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["best_epoch"] == 1 and Path(summary["weights"]).is_file()


def test_cli_asks_for_aid_when_synthetic(dataset, tmp_path: Path):
    result = CliRunner().invoke(
        train_group,
        [
            "change",
            "--data",
            str(dataset[0]),
            "--out",
            str(tmp_path / "x"),
            "--synthetic",
            "4",
        ],
    )
    assert result.exit_code != 0 and "--aid" in result.output


def test_sites_keep_only_those_pairs(tmp_path: Path):
    root = tmp_path / "airchange"
    _pair(root / "Szada" / "1", 1)
    _pair(root / "Tiszadob" / "1", 2)
    _pair(root / "Tiszadob" / "2", 3)
    train, val = load_airchange(root, sites=("Tiszadob",))
    assert [r.name for r in train] == ["Tiszadob/1", "Tiszadob/2"]
    assert [r.name for r in val] == ["Tiszadob/1", "Tiszadob/2"]
    with pytest.raises(DatasetLayoutError, match="Nowhere"):
        load_airchange(root, sites=("Nowhere",))


def test_cli_sites_rich_synthetic_and_tuned_blocks(dataset, tmp_path: Path):
    data, aid = dataset
    args = ["change", "--data", str(data), "--aid", str(aid), "--epochs", "1", "--crop", "64"]
    args += ["--real", "4", "--synthetic", "4", "--threads", "1", "--out", str(tmp_path / "r")]
    args += ["--sites", "Site", "--rich-synthetic", "1", "--train-from-block", "9"]
    result = CliRunner().invoke(train_group, args)
    assert result.exit_code == 0, result.output
    entry = json.loads((tmp_path / "r" / "siamese-effnet-lite0.json").read_text())
    config = entry["training"]["config"]
    assert config["sites"] == ["Site"] and config["rich_synthetic"] == 1.0
    assert entry["params"]["train_from_block"] == 9
    saved = load_npz(tmp_path / "r" / entry["weights"]["file"])
    assert any(k.startswith("encoder.blocks.9.") for k in saved)
    assert not any(k.startswith("encoder.blocks.8.") for k in saved)


def test_init_starts_from_earlier_weights(dataset, tmp_path: Path):
    data, aid = dataset
    first = train_change(data, tmp_path / "a", TrainConfig(**TINY, seed=1), aid_dir=aid)
    weights = tmp_path / "a" / first["weights"]["file"]
    frozen = TrainConfig(**TINY, seed=2, lr=0.0, backbone_lr=0.0, init=str(weights))
    again = train_change(data, tmp_path / "b", frozen, aid_dir=aid)
    start, end = load_npz(weights), load_npz(tmp_path / "b" / again["weights"]["file"])
    assert start.keys() == end.keys()
    params = [k for k in start if not k.endswith(("running_mean", "running_var"))]
    assert all(np.array_equal(start[k], end[k]) for k in params)  # batch-norm stats still move
    fresh = train_change(
        data, tmp_path / "c", TrainConfig(**TINY, seed=2, lr=0.0, backbone_lr=0.0), aid_dir=aid
    )
    other = load_npz(tmp_path / "c" / fresh["weights"]["file"])
    assert not all(np.array_equal(start[k], other[k]) for k in params)
