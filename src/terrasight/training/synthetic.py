"""Synthetic change pairs and per-date photometric augmentation (numpy only).

After "The change you want to detect" and Changen2: paste patches of built-up
scenes (AID DenseResidential, Industrial, ...) with soft-edged random shapes
onto a background scene (AID BareLand, Farmland, Meadow, ... or crops of real
training images); the pasted region is the change mask. Each date then gets
its own colour, light, blur and noise, and the dates are shifted by a pixel
or two, so that the network learns to ignore exactly what differs between
real dates without being change. Some pairs get no paste at all (pure
nuisance, empty mask).

Images here are float32 ``(3, h, w)`` in ``[0, 1]`` units (values may leave
the range after jitter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

BUILT_CLASSES = ("DenseResidential", "MediumResidential", "Industrial", "Commercial")
BACKGROUND_CLASSES = ("BareLand", "Farmland", "Meadow", "Forest", "Desert")

Pair = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(before, after, mask)``: float32 ``(3, h, w)`` twice and a uint8 ``(h, w)`` mask."""


@dataclass(frozen=True)
class Jitter:
    """Ranges of the per-date photometric augmentation.

    Attributes:
        brightness: additive offset range (``+-``).
        contrast: multiplicative gain range around 1 (``+-``).
        colour: per-channel gain range around 1 (``+-``).
        gamma: exponent range around 1 (``+-``), applied to the [0, 1] values.
        blur: probability of a Gaussian blur (sigma 0.3 to 1.2).
        noise: standard deviation of additive Gaussian noise (upper bound).
        saturation: colour saturation range around 1 (``+-``).
        grey: probability of turning the date to grey levels (old panchromatic photos).
    """

    brightness: float = 0.12
    contrast: float = 0.25
    colour: float = 0.12
    gamma: float = 0.25
    blur: float = 0.3
    noise: float = 0.02
    saturation: float = 0.3
    grey: float = 0.1


def photometric(
    image: np.ndarray, rng: np.random.Generator, jitter: Jitter = Jitter()
) -> np.ndarray:
    """Jitter one date's light and colour: gamma, contrast, gains, saturation, blur, noise.

    Example:
        >>> img = np.full((3, 8, 8), 0.5, np.float32)
        >>> out = photometric(img, np.random.default_rng(0))
        >>> out.shape, out.dtype
        ((3, 8, 8), dtype('float32'))
    """
    gamma = 1.0 + rng.uniform(-jitter.gamma, jitter.gamma)
    out = np.clip(image, 0.0, None) ** gamma
    mean = out.mean()
    out = (out - mean) * (1 + rng.uniform(-jitter.contrast, jitter.contrast)) + mean
    out = out * (1 + rng.uniform(-jitter.colour, jitter.colour, size=(3, 1, 1)))
    sat = (
        0.0
        if rng.random() < jitter.grey
        else 1 + rng.uniform(-jitter.saturation, jitter.saturation)
    )
    if sat != 1.0:
        grey = out.mean(axis=0, keepdims=True)
        out = grey + sat * (out - grey)
    out = out + rng.uniform(-jitter.brightness, jitter.brightness)
    if rng.random() < jitter.blur:
        out = ndimage.gaussian_filter(out, sigma=(0, *([rng.uniform(0.3, 1.2)] * 2)))
    if jitter.noise > 0:
        out = out + rng.normal(0, rng.uniform(0, jitter.noise), size=out.shape)
    return out.astype(np.float32)


def load_scenes(
    folder: str | Path, classes: Sequence[str], limit: int, seed: int
) -> list[np.ndarray]:
    """Read up to ``limit`` images per class folder as float32 ``(3, h, w)`` in [0, 1].

    Files are picked in a seeded random order, so the same seed gives the same scenes.

    Raises:
        FileNotFoundError: none of the class folders holds an image.

    Example:
        >>> scenes = load_scenes("data/aid", ["Farmland"], 10, seed=0)  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    out = []
    for name in classes:
        files = sorted(
            p
            for p in (Path(folder) / name).glob("*")
            if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif")
        )
        for i in rng.permutation(len(files))[:limit]:
            with Image.open(files[i]) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
            out.append(arr.transpose(2, 0, 1).copy())
    if not out:
        raise FileNotFoundError(f"no images found in {folder} for classes {list(classes)}")
    return out


def blob_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A soft random shape (rotated rectangle or ellipse) filling most of an ``h x w`` box.

    Example:
        >>> m = blob_mask(20, 30, np.random.default_rng(0))
        >>> m.shape, float(m.max()) <= 1.0
        ((20, 30), True)
    """
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = (y - (h - 1) / 2) / (h / 2), (x - (w - 1) / 2) / (w / 2)
    angle = rng.uniform(-0.4, 0.4)
    u = x * np.cos(angle) - y * np.sin(angle)
    v = x * np.sin(angle) + y * np.cos(angle)
    power = 2.0 if rng.random() < 0.4 else 8.0  # ellipse or rounded rectangle
    inside = (np.abs(u) ** power + np.abs(v) ** power) <= rng.uniform(0.5, 0.9) ** power
    soft = ndimage.gaussian_filter(inside.astype(np.float32), rng.uniform(0.5, 1.5))
    return np.clip(soft, 0.0, 1.0)


def _patch(donor: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    scale = rng.uniform(1.0, 2.0)
    src = max(8, min(int(size / scale), donor.shape[1], donor.shape[2]))
    y = rng.integers(0, donor.shape[1] - src + 1)
    x = rng.integers(0, donor.shape[2] - src + 1)
    crop = donor[:, y : y + src, x : x + src]
    zoom = size / src
    return ndimage.zoom(crop, (1, zoom, zoom), order=1)[:, :size, :size]


def paste_objects(
    image: np.ndarray, donors: Sequence[np.ndarray], rng: np.random.Generator, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``count`` soft-edged patches of random donor scenes into a copy of ``image``.

    Returns:
        The new image and the uint8 mask of the pasted pixels (alpha >= 0.5).

    Example:
        >>> img = np.zeros((3, 64, 64), np.float32)
        >>> out, mask = paste_objects(img, [np.ones((3, 150, 150), np.float32)],
        ...                           np.random.default_rng(1), 2)
        >>> bool(mask.any()), bool((out[:, mask == 1] > 0.4).all())
        (True, True)
    """
    out = image.copy()
    mask = np.zeros(image.shape[1:], dtype=np.uint8)
    h, w = int(image.shape[-2]), int(image.shape[-1])
    for _ in range(count):
        ph = int(rng.integers(max(8, h // 8), max(9, h // 2)))
        pw = int(np.clip(ph * rng.uniform(0.6, 1.6), 8, w // 2 + 1))
        size = max(ph, pw)
        patch = _patch(donors[int(rng.integers(len(donors)))], size, rng)[:, :ph, :pw]
        alpha = blob_mask(ph, pw, rng)
        y, x = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        region = out[:, y : y + ph, x : x + pw]
        out[:, y : y + ph, x : x + pw] = alpha * patch + (1 - alpha) * region
        mask[y : y + ph, x : x + pw] |= (alpha >= 0.5).astype(np.uint8)
    return out, mask


def _crop(image: np.ndarray, size: int, margin: int, rng: np.random.Generator) -> np.ndarray:
    need = size + 2 * margin
    if min(image.shape[1:]) < need:
        zoom = need / min(image.shape[1:]) + 1e-3
        image = ndimage.zoom(image, (1, zoom, zoom), order=1)
    y = rng.integers(0, image.shape[1] - need + 1)
    x = rng.integers(0, image.shape[2] - need + 1)
    return image[:, y : y + need, x : x + need]


def synthetic_pair(
    background: np.ndarray,
    donors: Sequence[np.ndarray],
    rng: np.random.Generator,
    size: int = 128,
    p_empty: float = 0.25,
    max_shift: int = 2,
    jitter: Jitter = Jitter(),
) -> Pair:
    """One synthetic pair: objects pasted into one date of a background, each date jittered.

    Objects appear in the after date (or, one time in five, disappear from
    the before date); with probability ``p_empty`` nothing changes. The dates
    are offset by up to ``max_shift`` pixels (registration error).

    Example:
        >>> bg, donor = np.full((3, 150, 150), .4, np.float32), np.ones((3, 150, 150), np.float32)
        >>> b, a, m = synthetic_pair(bg, [donor], np.random.default_rng(0), size=64, p_empty=0)
        >>> b.shape, a.shape, m.shape, m.dtype
        ((3, 64, 64), (3, 64, 64), (64, 64), dtype('uint8'))
    """
    canvas = _crop(background, size, max_shift, rng)
    changed, mask = canvas, np.zeros(canvas.shape[1:], np.uint8)
    if rng.random() >= p_empty:
        changed, mask = paste_objects(canvas, donors, rng, int(rng.integers(1, 4)))
    appear = rng.random() < 0.8
    first, second = (canvas, changed) if appear else (changed, canvas)
    m = max_shift
    dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    before = first[:, m : m + size, m : m + size]
    after = second[:, m + dy : m + dy + size, m + dx : m + dx + size]
    oy, ox = (m + dy, m + dx) if appear else (m, m)  # the mask follows the changed date
    mask = mask[oy : oy + size, ox : ox + size]
    return photometric(before, rng, jitter), photometric(after, rng, jitter), mask.copy()
