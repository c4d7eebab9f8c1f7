"""Object-level synthetic change pairs for training (numpy only).

Richer than :func:`terrasight.training.synthetic.synthetic_pair`: instead of
soft blobs of built-up texture, each change is one kind of object cut from
real AID scenes and pasted with a shape that suits it:

- ``building``: a rectangle of a roof-like crop (Industrial, Commercial,
  residential scenes) with a hard edge and a cast shadow on the side away
  from the sun (the same sun for the whole pair);
- ``road``: a long band, 3-12 px wide, of Parking or Square texture;
- ``water``: an irregular soft-edged area of River or Pond texture;
- ``cleared``: an irregular area of BareLand or Desert texture.

Patches are colour-matched part of the way to the background around them.
The pair is cut at a random resolution (the background zoomed by 0.5-2x), and
each date gets its own nuisances: the photometric jitter of
:func:`~terrasight.training.synthetic.photometric`, haze (blend towards a
bright grey-blue), a greener or browner vegetation shift that varies across
the image, and the after date a sub-pixel shift of up to 3 px.

Images are float32 ``(3, h, w)`` in ``[0, 1]`` units.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from terrasight.training.synthetic import Jitter, Pair, blob_mask, load_scenes, photometric

OBJECT_CLASSES = {
    "building": ("Industrial", "Commercial", "DenseResidential", "MediumResidential", "School"),
    "road": ("Parking", "Square"),
    "water": ("River", "Pond"),
    "cleared": ("BareLand", "Desert"),
}
KIND_WEIGHTS = {"building": 0.45, "road": 0.15, "water": 0.15, "cleared": 0.25}


@dataclass
class ObjectLibrary:
    """Donor scenes per object kind (float32 ``(3, h, w)`` in [0, 1])."""

    donors: dict[str, list[np.ndarray]]

    @classmethod
    def from_aid(cls, aid_dir: str | Path, per_class: int, seed: int) -> ObjectLibrary:
        """Read ``per_class`` scenes of each object class (a seeded choice).

        Kinds with no scenes in the folder are left out.

        Raises:
            FileNotFoundError: no object class has any scene.
        """
        donors = {}
        for i, (kind, classes) in enumerate(OBJECT_CLASSES.items()):
            try:
                donors[kind] = load_scenes(aid_dir, classes, per_class, seed + i)
            except FileNotFoundError:
                continue
        if not donors:
            raise FileNotFoundError(f"no object scenes ({sorted(OBJECT_CLASSES)}) in {aid_dir}")
        return cls(donors)


def _crop(img: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``h`` x ``w`` crop (the image zoomed up first when too small)."""
    if img.shape[1] < h or img.shape[2] < w:
        z = max(h / img.shape[1], w / img.shape[2]) + 1e-3
        img = ndimage.zoom(img, (1, z, z), order=1)
    y = int(rng.integers(0, img.shape[1] - h + 1))
    x = int(rng.integers(0, img.shape[2] - w + 1))
    return img[:, y : y + h, x : x + w]


def _shape(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of an object of ``kind`` in an ``h`` x ``w`` box."""
    if kind == "building":
        alpha = np.zeros((h, w), np.float32)
        m = max(1, min(h, w) // 8)
        alpha[m : h - m, m : w - m] = 1.0
        return alpha
    if kind == "road":
        alpha = np.zeros((h, w), np.float32)
        width = int(rng.integers(3, 13))
        if h >= w:
            x0 = int(rng.integers(0, max(1, w - width)))
            alpha[:, x0 : x0 + width] = 1.0
        else:
            y0 = int(rng.integers(0, max(1, h - width)))
            alpha[y0 : y0 + width] = 1.0
        return ndimage.gaussian_filter(alpha, 0.5)
    return blob_mask(h, w, rng)


def _shadow(alpha: np.ndarray, sun: tuple[int, int], length: int) -> np.ndarray:
    """Shadow weight cast by a hard-edged object away from the sun."""
    inside = alpha >= 0.5
    shade = np.zeros_like(inside)
    for i in range(1, length + 1):
        shade |= np.roll(inside, (sun[0] * i, sun[1] * i), axis=(0, 1))
    return (shade & ~inside).astype(np.float32)


def paste_object(
    canvas: np.ndarray,
    library: ObjectLibrary,
    kind: str,
    rng: np.random.Generator,
    sun: tuple[int, int],
) -> np.ndarray:
    """Paste one object of ``kind`` into ``canvas`` (in place); return its uint8 mask."""
    h, w = canvas.shape[1:]
    if kind == "road":
        long = int(rng.integers(h // 2, h + 1))
        bh, bw = (long, int(rng.integers(12, 24))) if rng.random() < 0.5 else (12, long)
        bh, bw = (bh, bw) if bh <= h and bw <= w else (min(bh, h), min(bw, w))
    else:
        bh = int(rng.integers(max(8, h // 10), max(9, h // 3)))
        bw = int(np.clip(bh * rng.uniform(0.6, 1.6), 8, w - 1))
    donors = library.donors.get(kind) or next(iter(library.donors.values()))
    patch = _crop(donors[int(rng.integers(len(donors)))], bh, bw, rng)
    alpha = _shape(kind, bh, bw, rng)
    y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    region = canvas[:, y : y + bh, x : x + bw]
    match = rng.uniform(0.0, 0.6)  # colour-match part of the way to the surroundings
    mean_r, mean_p = region.mean(axis=(1, 2), keepdims=True), patch.mean(axis=(1, 2), keepdims=True)
    patch = patch + match * (mean_r - mean_p)
    if kind == "building":
        length = int(rng.integers(1, max(2, bh // 4)))
        pad = np.pad(alpha, length)
        shade = _shadow(pad, sun, length)[length:-length, length:-length]
        region *= 1 - 0.45 * shade
    region[:] = alpha * patch + (1 - alpha) * region
    mask = np.zeros((h, w), np.uint8)
    mask[y : y + bh, x : x + bw] = alpha >= 0.5
    return mask


def _season(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Greener or browner vegetation, by an amount that varies smoothly over the image."""
    h, w = img.shape[1:]
    coarse = rng.normal(0, 1, (3, 3))
    field = ndimage.zoom(coarse, (h / 3 + 0.01, w / 3 + 0.01), order=1)[:h, :w]
    r, g, b = img
    veg = np.clip((g - np.maximum(r, b)) * 6, 0, 1)
    shift = (rng.uniform(-0.08, 0.08) + 0.04 * field) * veg
    return img + shift * np.array([-1.0, 0.7, -0.5], np.float32)[:, None, None]


def _nuisance(img: np.ndarray, rng: np.random.Generator, jitter: Jitter) -> np.ndarray:
    if rng.random() < 0.5:
        img = _season(img, rng)
    if rng.random() < 0.25:
        haze = rng.uniform(0.05, 0.35)
        img = (1 - haze) * img + haze * np.array([0.8, 0.82, 0.88], np.float32)[:, None, None]
    return photometric(img, rng, jitter)


def rich_pair(
    background: np.ndarray,
    library: ObjectLibrary,
    rng: np.random.Generator,
    size: int = 128,
    p_empty: float = 0.2,
    max_shift: float = 3.0,
    jitter: Jitter | None = None,
) -> Pair:
    """One object-level synthetic pair (``before``, ``after``, ``mask``).

    Objects appear in the after date, or one time in four disappear from the
    before date; with probability ``p_empty`` nothing changes.

    Example:
        >>> lib = ObjectLibrary({"building": [np.ones((3, 60, 60), np.float32)]})
        >>> bg = np.full((3, 150, 150), 0.3, np.float32)
        >>> b, a, m = rich_pair(bg, lib, np.random.default_rng(0), size=64, p_empty=0)
        >>> b.shape, a.shape, m.shape, bool(m.any())
        ((3, 64, 64), (3, 64, 64), (64, 64), True)
    """
    scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))  # resolution randomisation
    src = max(16, int(round(size / scale)))
    canvas = _crop(background, src, src, rng)
    canvas = ndimage.zoom(canvas, (1, size / src, size / src), order=1)[:, :size, :size]
    canvas = np.ascontiguousarray(canvas, dtype=np.float32)
    changed, mask = canvas.copy(), np.zeros((size, size), np.uint8)
    if rng.random() >= p_empty:
        sun = ((1, 1), (1, -1), (-1, 1), (-1, -1))[int(rng.integers(4))]
        kinds = list(KIND_WEIGHTS)
        p = np.array([KIND_WEIGHTS[k] for k in kinds])
        for _ in range(int(rng.integers(1, 4))):
            mask |= paste_object(
                changed, library, kinds[rng.choice(len(kinds), p=p / p.sum())], rng, sun
            )
    first, second = (canvas, changed) if rng.random() < 0.75 else (changed, canvas)
    jitter = jitter or Jitter()
    before, after = _nuisance(first, rng, jitter), _nuisance(second, rng, jitter)
    dy, dx = rng.uniform(-max_shift, max_shift, 2)
    after = ndimage.shift(after, (0, dy, dx), order=1, mode="nearest").astype(np.float32)
    return before, after, mask
