"""Small change datasets built in tmp_path: a LEVIR-style folder of PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

AIRCHANGE_SUBSET = ("Szada/1", "Tiszadob/3")


def write_levir(root: Path, n: int = 2, size: int = 96, seed: int = 3) -> dict[str, np.ndarray]:
    """Write ``root/{A,B,label}/pair_<i>.png``: RGB pairs with a planted bright square.

    Returns the truth (bool) by name.
    """
    rng = np.random.default_rng(seed)
    truths = {}
    for d in ("A", "B", "label"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"pair_{i}"
        base = rng.normal(100, 12, (size, size, 3))
        after = base * 0.85 + 12 + rng.normal(0, 3, base.shape)
        truth = np.zeros((size, size), bool)
        r, c = 10 + 20 * i, 30 + 10 * i
        truth[r : r + 24, c : c + 30] = True
        after[truth] = 240
        Image.fromarray(base.clip(0, 255).astype(np.uint8)).save(root / "A" / f"{name}.png")
        Image.fromarray(after.clip(0, 255).astype(np.uint8)).save(root / "B" / f"{name}.png")
        Image.fromarray((truth * 255).astype(np.uint8)).save(root / "label" / f"{name}.png")
        truths[name] = truth
    return truths


@pytest.fixture
def levir_writer():
    """The :func:`write_levir` builder, for folders of other shapes."""
    return write_levir


@pytest.fixture
def levir_dir(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A LEVIR-layout folder with two 96x96 pairs; returns (folder, truths by name)."""
    root = tmp_path / "levir"
    return root, write_levir(root)


@pytest.fixture
def airchange_subset(shared_data: Path, tmp_path: Path) -> Path:
    """An airchange-layout folder linking two real AirChange pairs (keeps tests fast)."""
    src = shared_data / "change" / "airchange"
    if not src.is_dir():
        pytest.skip(f"AirChange not found at {src}")
    root = tmp_path / "airchange"
    for name in AIRCHANGE_SUBSET:
        (root / name).mkdir(parents=True)
        for f in ("im1.png", "im2.png", "gt.png"):
            (root / name / f).symlink_to(src / name / f)
    return root
