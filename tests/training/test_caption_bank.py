"""Caption banks built from real AID images and RSICD captions: reproducible, split-safe, readable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from terrasight.errors import DatasetLayoutError, ModelWeightsError
from terrasight.tasks.interpret.bank import (
    default_bank_path,
    load_caption_bank,
    read_caption_bank,
    write_caption_bank,
)
from terrasight.training.caption_bank import caption_split
from terrasight.training.vl_data import is_validation

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("efficientnet_lite_pytorch")

SHARED_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    )
).resolve()
CLASSES = ["Beach", "Forest", "Airport"]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not (SHARED_DATA / "aid").is_dir() or not (SHARED_DATA / "rsicd").is_dir():
        pytest.skip(f"AID/RSICD not found under {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def two_builds(data_dir: Path):
    from terrasight.training.caption_bank import build_caption_bank

    return [build_caption_bank(data_dir, classes=CLASSES, per_class=4, threads=1) for _ in range(2)]


def test_two_builds_give_equal_arrays_and_bytes(two_builds, tmp_path: Path) -> None:
    first, second = (b.arrays() for b in two_builds)
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    a = write_caption_bank(two_builds[0], tmp_path / "a.npz")
    b = write_caption_bank(two_builds[1], tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()


def test_a_bank_holds_training_images_and_their_own_captions(two_builds, data_dir) -> None:
    from terrasight.training.vl_data import load_pairs

    bank = two_builds[0]
    assert len(bank.image_names) == 12 and sorted(bank.classes) == sorted(CLASSES)
    assert not any(is_validation(n, 0.1) for n in bank.image_names)
    truth = {p.name: p for p in load_pairs(data_dir / "aid", data_dir / "rsicd")}
    for i, name in enumerate(bank.image_names):
        caps = [bank.captions[c] for c in bank.pair_caption[bank.pair_image == i]]
        assert caps == list(truth[name].captions)
        assert bank.classes[bank.image_class[i]] == truth[name].label
    assert bank.model_name == "terrasight-vl" and len(bank.model_sha256) == 64
    np.testing.assert_allclose(np.linalg.norm(bank.image_embeddings, axis=1), 1, atol=1e-5)


def test_write_read_round_trip(two_builds, tmp_path: Path) -> None:
    bank = two_builds[0]
    back = read_caption_bank(write_caption_bank(bank, tmp_path / "bank.npz"))
    assert back.captions == bank.captions and back.image_names == bank.image_names
    assert (back.model_name, back.model_sha256) == (bank.model_name, bank.model_sha256)
    np.testing.assert_array_equal(back.pair_caption, bank.pair_caption)
    np.testing.assert_allclose(back.image_embeddings, bank.image_embeddings, atol=2e-3)


def test_the_shipped_bank_is_reproduced(two_builds) -> None:
    shipped = load_caption_bank()
    assert not any(is_validation(n, 0.1) for n in shipped.image_names)
    assert len(shipped.image_names) == 8114 and default_bank_path().stat().st_size < 4_000_000
    index = {n: i for i, n in enumerate(shipped.image_names)}
    bank = two_builds[0]
    rows = [index[n] for n in bank.image_names]
    # same arrays up to float16 rounding (another thread count may move the last bit)
    np.testing.assert_allclose(shipped.image_embeddings[rows], bank.image_embeddings, atol=1e-3)
    np.testing.assert_allclose(shipped.probe, bank.probe, atol=1e-4)
    own = {bank.captions[c] for c in bank.pair_caption}
    assert own <= set(shipped.captions)


def test_cli_writes_a_bank(data_dir: Path, tmp_path: Path) -> None:
    from terrasight.cli.train import train_group

    out = tmp_path / "bank.npz"
    args = ["caption-bank", "--data", str(data_dir), "-o", str(out)]
    result = CliRunner().invoke(train_group, [*args, "--classes", "Beach", "--per-class", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["images"] == 3 and summary["bytes"] == out.stat().st_size
    assert read_caption_bank(out).classes == ("Beach",)


def test_unknown_class_and_broken_files_are_clear_errors(data_dir: Path, tmp_path: Path) -> None:
    from terrasight.training.caption_bank import build_caption_bank

    with pytest.raises(DatasetLayoutError, match="AID folder names"):
        build_caption_bank(data_dir, classes=["NoSuchClass"])
    with pytest.raises(ModelWeightsError, match="missing"):
        read_caption_bank(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelWeightsError, match="cannot be read"):
        read_caption_bank(tmp_path / "bad.npz")


def test_caption_splits_are_about_half_and_stable() -> None:
    names = [f"scene_{i}.jpg" for i in range(2000)]
    share = sum(caption_split(n) == "test" for n in names) / len(names)
    assert 0.45 < share < 0.55
    assert [caption_split(n) for n in names[:50]] == [caption_split(n) for n in names[:50]]
