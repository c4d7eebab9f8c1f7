"""Synthetic change pairs and the per-date photometric jitter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from terrasight.training.synthetic import (
    Jitter,
    blob_mask,
    load_scenes,
    paste_objects,
    photometric,
    synthetic_pair,
)

NO_JITTER = Jitter(
    brightness=0, contrast=0, colour=0, gamma=0, blur=0, noise=0, saturation=0, grey=0
)


def _texture(seed: int, value: float, size: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(value + rng.normal(0, 0.03, (3, size, size)), 0, 1).astype(np.float32)


def test_photometric_is_seeded_and_changes_light():
    img = _texture(0, 0.5, 32)
    a = photometric(img, np.random.default_rng(3))
    b = photometric(img, np.random.default_rng(3))
    c = photometric(img, np.random.default_rng(4))
    assert a.dtype == np.float32 and a.shape == img.shape
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.allclose(photometric(img, np.random.default_rng(0), NO_JITTER), img, atol=1e-6)


def test_blob_mask_is_soft_and_inside_its_box():
    m = blob_mask(30, 40, np.random.default_rng(1))
    assert m.shape == (30, 40) and 0 <= m.min() and m.max() <= 1
    assert m[15, 20] > 0.9 and m[0, 0] < 0.1


def test_pasted_objects_are_the_mask():
    bg, donor = _texture(1, 0.1, 96), _texture(2, 0.9)
    out, mask = paste_objects(bg, [donor], np.random.default_rng(5), 3)
    assert mask.dtype == np.uint8 and 0 < mask.mean() < 0.9
    diff = np.abs(out - bg).mean(0)
    assert diff[mask == 1].min() > 0.3
    assert np.median(diff[mask == 0]) < 0.01


def test_synthetic_pair_mask_follows_the_change():
    bg, donor = _texture(3, 0.2), _texture(4, 0.8)
    for seed in range(6):
        b, a, m = synthetic_pair(
            bg,
            [donor],
            np.random.default_rng(seed),
            size=64,
            p_empty=0,
            max_shift=0,
            jitter=NO_JITTER,
        )
        assert b.shape == a.shape == (3, 64, 64) and m.shape == (64, 64)
        diff = np.abs(a - b).mean(0)
        assert m.any() and diff[m == 1].mean() > 0.3 and np.median(diff[m == 0]) < 0.05


def test_synthetic_pairs_are_reproducible_and_some_are_empty():
    bg, donor = _texture(5, 0.3), _texture(6, 0.7)

    def draw(seed: int):
        rng = np.random.default_rng(seed)
        return [synthetic_pair(bg, [donor], rng, size=48) for _ in range(12)]

    first, again = draw(7), draw(7)
    for p, q in zip(first, again, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(p, q, strict=True))
    empties = sum(not m.any() for _, _, m in first)
    assert 0 < empties < 12
    b, a, m = synthetic_pair(bg, [donor], np.random.default_rng(8), size=48, p_empty=1.0)
    assert not m.any() and not np.allclose(a, b)  # no change, but other light


def test_load_scenes_reads_class_folders(tmp_path: Path):
    for cls in ("Farmland", "Meadow"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            arr = (np.random.default_rng(i).random((20, 20, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{cls.lower()}_{i}.jpg")
    scenes = load_scenes(tmp_path, ["Farmland", "Meadow"], limit=2, seed=0)
    assert len(scenes) == 4
    assert all(s.shape == (3, 20, 20) and s.dtype == np.float32 and s.max() <= 1 for s in scenes)
    names = [s.sum() for s in load_scenes(tmp_path, ["Farmland", "Meadow"], 2, seed=0)]
    assert names == [s.sum() for s in scenes]
