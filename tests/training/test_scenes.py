"""Object-level synthetic pairs from small AID-like folders written by the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from terrasight.training.scenes import ObjectLibrary, paste_object, rich_pair
from terrasight.training.synthetic import Jitter


@pytest.fixture()
def aid(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for cls, level in (("Industrial", 220), ("Pond", 30), ("BareLand", 150)):
        (tmp_path / cls).mkdir()
        for i in range(2):
            img = np.clip(rng.normal(level, 8, (80, 80, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(tmp_path / cls / f"{cls}_{i}.jpg")
    return tmp_path


def test_library_reads_the_kinds_present(aid: Path) -> None:
    lib = ObjectLibrary.from_aid(aid, 5, seed=0)
    assert sorted(lib.donors) == ["building", "cleared", "water"]
    assert all(len(v) == 2 and v[0].shape == (3, 80, 80) for v in lib.donors.values())
    with pytest.raises(FileNotFoundError):
        ObjectLibrary.from_aid(aid / "Pond", 5, seed=0)


def test_building_paste_is_bright_inside_the_mask_with_a_shadow(aid: Path) -> None:
    lib = ObjectLibrary.from_aid(aid, 5, seed=0)
    canvas = np.full((3, 96, 96), 0.5, np.float32)
    mask = paste_object(canvas, lib, "building", np.random.default_rng(2), (1, 1))
    assert mask.any() and canvas[:, mask == 1].mean() > 0.6
    assert (canvas[:, mask == 0] < 0.45).any()  # the cast shadow, outside the mask
    assert np.allclose(canvas[:, :2, :2], 0.5) or np.allclose(canvas[:, -2:, -2:], 0.5)


def test_rich_pair_is_reproducible_and_marks_change(aid: Path) -> None:
    lib = ObjectLibrary.from_aid(aid, 5, seed=0)
    bg = np.full((3, 150, 150), 0.4, np.float32)
    a = rich_pair(bg, lib, np.random.default_rng(7), size=96, p_empty=0)
    b = rich_pair(bg, lib, np.random.default_rng(7), size=96, p_empty=0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    before, after, mask = a
    assert before.shape == after.shape == (3, 96, 96) and mask.shape == (96, 96)
    assert mask.any()
    still = Jitter(0, 0, 0, 0, 0, 0, 0, 0)
    before, after, mask = rich_pair(bg, lib, np.random.default_rng(3), 96, 0, 0.0, still)
    diff = np.abs(after - before).mean(axis=0)
    assert diff[mask == 1].mean() > diff[mask == 0].mean() + 0.05
    _, _, empty = rich_pair(bg, lib, np.random.default_rng(7), size=96, p_empty=1)
    assert not empty.any()
