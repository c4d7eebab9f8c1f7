"""Dataset layouts: LEVIR-style folders built here, the real AirChange folder, bad folders."""

from pathlib import Path

import pytest
from PIL import Image

from terrasight.errors import DatasetLayoutError
from terrasight.eval.datasets import AIRCHANGE_TEST_WINDOW, ChangePair, iter_pairs, list_pairs


def test_levir_layout_is_found(levir_dir):
    root, truths = levir_dir
    pairs = list_pairs(root, "levir")
    assert [p.name for p in pairs] == sorted(truths)
    p = pairs[0]
    assert p == ChangePair(
        "pair_0", root / "A/pair_0.png", root / "B/pair_0.png", root / "label/pair_0.png"
    )
    assert p.window is None and p.exclude is None


def test_levir_split_subfolder(tmp_path, levir_writer):
    levir_writer(tmp_path / "ds" / "test", n=1)
    pairs = list_pairs(tmp_path / "ds", "levir", split="test")
    assert [p.name for p in pairs] == ["pair_0"]
    with pytest.raises(DatasetLayoutError, match="no split folder 'val'") as err:
        list_pairs(tmp_path / "ds", "levir", split="val")
    assert str(tmp_path / "ds") in str(err.value) and "test/" in str(err.value)


def test_levir_missing_folder_names_folder_expected_and_found(tmp_path):
    root = tmp_path / "notlevir"
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    (root / "images").mkdir()
    with pytest.raises(DatasetLayoutError) as err:
        list_pairs(root, "levir")
    msg = str(err.value)
    assert str(root) in msg and "label" in msg and "expected" in msg and "images/" in msg


def test_levir_pair_missing_its_after_image(levir_dir):
    root, _ = levir_dir
    (root / "B" / "pair_1.png").unlink()
    with pytest.raises(DatasetLayoutError, match="pair_1") as err:
        list_pairs(root, "levir")
    assert str(root / "B") in str(err.value)


def test_levir_rejects_airchange_options(levir_dir):
    root, _ = levir_dir
    with pytest.raises(DatasetLayoutError, match="airchange layout only"):
        list_pairs(root, "levir", crop="test")


def test_unknown_layout_and_missing_folder(tmp_path):
    with pytest.raises(DatasetLayoutError, match="unknown dataset layout"):
        list_pairs(tmp_path, "coco")
    with pytest.raises(DatasetLayoutError, match="does not exist") as err:
        list_pairs(tmp_path / "nope", "airchange")
    assert str(tmp_path / "nope") in str(err.value)


def test_airchange_folder_yields_13_pairs(shared_data):
    root = shared_data / "change" / "airchange"
    if not root.is_dir():
        pytest.skip(f"AirChange not found at {root}")
    pairs = list_pairs(root, "airchange", crop="test")
    assert len(pairs) == 13
    names = [p.name for p in pairs]
    assert names[0] == "Archieve" and "Szada/7" in names and names[-1] == "Tiszadob/5"
    assert names.index("Szada/2") < names.index("Szada/7")
    for p in pairs:
        assert p.before.name == "im1.png" and p.after.name == "im2.png" and p.truth.name == "gt.png"
        assert p.window == AIRCHANGE_TEST_WINDOW == (0, 0, 784, 448) and p.exclude is None
    train = list_pairs(root, "airchange", crop="train")
    assert all(p.window is None and p.exclude == AIRCHANGE_TEST_WINDOW for p in train)
    whole = list(iter_pairs(root, "airchange", crop=None))
    assert all(p.window is None and p.exclude is None for p in whole)


def test_airchange_incomplete_pair_folder(tmp_path):
    pair = tmp_path / "ac" / "Szada" / "1"
    pair.mkdir(parents=True)
    for f in ("im1.png", "im2.png"):
        Image.new("RGB", (16, 16)).save(pair / f)
    with pytest.raises(DatasetLayoutError, match="not gt") as err:
        list_pairs(tmp_path / "ac", "airchange")
    assert str(pair) in str(err.value)


def test_airchange_layout_on_wrong_folder(levir_dir):
    root, _ = levir_dir
    with pytest.raises(DatasetLayoutError) as err:
        list_pairs(root, "airchange")
    msg = str(err.value)
    assert str(root) in msg and "im1.png, im2.png and gt.png" in msg and "A/, B/, label/" in msg


def test_pairs_are_frozen(levir_dir):
    pair = list_pairs(levir_dir[0], "levir")[0]
    with pytest.raises(AttributeError):
        pair.name = "x"  # type: ignore[misc]
    assert isinstance(pair.before, Path)
