"""Simulated changes and date-to-date nuisances on any RGB scene (numpy only).

Where :mod:`terrasight.samples.simulate` paints multispectral changes with the
scene's own spectra, this module works on 8-bit-like RGB at any pixel size
(10 cm aerial to 30 m satellite), for out-of-domain test pairs:

- changes (:func:`plant_changes`): new buildings (flat or gabled roofs of a
  random roof colour, with a cast shadow; one large building at fine pixel
  sizes, a block of small ones at coarse sizes), cleared land (bare soil
  keeping a little of the old texture), water (a smooth dark surface with a
  soft shore) and paved roads (a grey band with a lighter centre line at fine
  pixel sizes). One change in four is a removal (present before, gone after).
- nuisances (:func:`date_nuisance`): each date its own light and colour gains,
  gamma, a season shift of vegetation (greener or browner), haze, blur, sensor
  noise; and (:func:`misregister`) a sub-pixel shift of up to 3 px.

Sizes are chosen in metres and converted with the scene's pixel size, with a
minimum in pixels so that every change stays visible. Deterministic for a
given ``numpy.random.Generator`` state.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

ROOFS = np.array(
    [[150, 60, 45], [175, 95, 70], [200, 200, 195], [120, 120, 125], [80, 80, 85],
     [225, 220, 210], [110, 75, 60], [95, 115, 140]],
    np.float32,
)  # fmt: skip
"""Roof colours (RGB, 8-bit): red tiles, terracotta, light and dark concrete, slate, metal."""
SOILS = np.array([[165, 135, 105], [140, 110, 80], [190, 170, 140], [120, 95, 75]], np.float32)
WATERS = np.array([[35, 55, 65], [45, 70, 70], [60, 75, 60], [30, 40, 60]], np.float32)
ASPHALT = np.array([[95, 95, 100], [120, 118, 115], [70, 72, 78]], np.float32)
KINDS = ("building", "cleared", "water", "road")


def _blob(h: int, w: int, rng: np.random.Generator, smooth: float) -> np.ndarray:
    """An irregular filled shape in an ``h`` x ``w`` box (boolean)."""
    y, x = np.mgrid[0:h, 0:w]
    ny, nx = (y + 0.5) / h * 2 - 1, (x + 0.5) / w * 2 - 1
    angle = np.arctan2(ny, nx)
    k = np.arange(1, 6)[:, None, None]
    amp = rng.uniform(0.03, 0.12, (5, 1, 1)) / k
    radius = 0.85 + (amp * np.cos(k * angle + rng.uniform(0, 2 * np.pi, (5, 1, 1)))).sum(0)
    inside = np.hypot(ny, nx) <= radius
    if smooth > 0:
        inside = ndimage.gaussian_filter(inside.astype(np.float32), smooth) > 0.5
    return inside


def _place(shape: tuple[int, int], h: int, w: int, taken: np.ndarray, rng: np.random.Generator):
    """Top-left corner of a free ``h`` x ``w`` box (None when none of 40 tries is free)."""
    for _ in range(40):
        r = int(rng.integers(0, max(1, shape[0] - h)))
        c = int(rng.integers(0, max(1, shape[1] - w)))
        if not taken[r : r + h, c : c + w].any():
            return r, c
    return None


def _shadow(mask: np.ndarray, length: int, direction: tuple[int, int]) -> np.ndarray:
    """Pixels shaded by ``mask`` for a sun from the opposite of ``direction``."""
    out = np.zeros_like(mask)
    for i in range(1, length + 1):
        out |= np.roll(mask, (direction[0] * i, direction[1] * i), axis=(0, 1))
    return out & ~mask


def _roofs(
    h: int, w: int, gsd: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roof colours ``(3, h, w)``, a roof mask and a paved-ground mask for a building change."""
    colour = np.zeros((3, h, w), np.float32)
    roof = np.zeros((h, w), bool)
    side = max(3, int(round(rng.uniform(10, 30) / gsd)))
    if side * 2 >= min(h, w):  # one building fills the box: gabled roof
        roof[:] = True
        c = ROOFS[rng.integers(len(ROOFS))][:, None, None]
        light = np.ones((h, w), np.float32)
        if w >= h:
            light[: h // 2], light[h // 2 :] = 1.08, 0.85
        else:
            light[:, : w // 2], light[:, w // 2 :] = 1.08, 0.85
        colour[:] = c * light
        return colour, roof, np.zeros_like(roof)
    ground = np.ones((h, w), bool)  # a block: small roofs on paved ground
    colour[:] = ASPHALT[rng.integers(len(ASPHALT))][:, None, None] * 1.1
    step = side + max(1, side // 2)
    for r in range(0, h - side + 1, step):
        for c0 in range(0, w - side + 1, step):
            if rng.random() < 0.8:
                rh, rw = side + int(rng.integers(0, side // 2 + 1)), side
                roof[r : r + rh, c0 : c0 + rw] = True
                colour[:, r : r + rh, c0 : c0 + rw] = ROOFS[rng.integers(len(ROOFS))][:, None, None]
    return colour, roof, ground & ~roof


def _paint(
    scene: np.ndarray, kind: str, box: tuple[int, int, int, int], gsd: float,
    rng: np.random.Generator, sun: tuple[int, int],
) -> np.ndarray:  # fmt: skip
    """Paint one change of ``kind`` into ``scene`` (in place); return its mask."""
    r, c, h, w = box
    full = np.zeros(scene.shape[1:], bool)
    region = scene[:, r : r + h, c : c + w]
    detail = region - ndimage.gaussian_filter(region, (0, 2, 2))
    if kind == "building":
        colour, roof, ground = _roofs(h, w, gsd, rng)
        colour = colour * rng.normal(1.0, 0.03, colour.shape).astype(np.float32)
        area = roof | ground
        region[:, area] = colour[:, area]
        full[r : r + h, c : c + w] = area
        length = max(1, int(round(rng.uniform(3, 10) / gsd)))
        shade = _shadow(np.pad(roof, length), length, sun)[length:-length, length:-length]
        shade &= ~area
        region[:, shade] *= 0.55
        return full
    if kind == "road":
        width = max(2, int(round(rng.uniform(6, 14) / gsd)))
        band = np.zeros((h, w), bool)
        if h >= w:
            x0 = w // 2 + int(rng.integers(-w // 4, w // 4 + 1))
            band[:, max(0, x0 - width // 2) : x0 + width - width // 2] = True
        else:
            y0 = h // 2 + int(rng.integers(-h // 4, h // 4 + 1))
            band[max(0, y0 - width // 2) : y0 + width - width // 2] = True
        tone = ASPHALT[rng.integers(len(ASPHALT))][:, None]
        region[:, band] = tone * rng.normal(1.0, 0.02, (3, int(band.sum()))).astype(np.float32)
        full[r : r + h, c : c + w] = band
        return full
    shape = _blob(h, w, rng, smooth=1.0)
    if kind == "cleared":
        tone = SOILS[rng.integers(len(SOILS))][:, None, None]
        new = tone + 0.35 * detail
    else:  # water
        tone = WATERS[rng.integers(len(WATERS))][:, None, None]
        new = tone * rng.normal(1.0, 0.02, region.shape).astype(np.float32)
    alpha = ndimage.gaussian_filter(shape.astype(np.float32), 1.0)
    region[:] = alpha * new + (1 - alpha) * region
    full[r : r + h, c : c + w] = alpha >= 0.5
    return full


def plant_changes(
    scene: np.ndarray, gsd: float, rng: np.random.Generator, count: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plant 1-5 changes into a float32 RGB scene ``(3, h, w)`` (0-255 units).

    Args:
        scene: the unchanged scene.
        gsd: its pixel size in metres (sizes of buildings, roads and shadows follow it).
        rng: the random generator.
        count: number of changes (default 1 to 5).

    Returns:
        ``(before, after, mask)``: the two scenes (removals are painted into the
        before scene) and the uint8 change mask.

    Example:
        >>> s = np.full((3, 128, 128), 90, np.float32)
        >>> b, a, m = plant_changes(s, 1.0, np.random.default_rng(0), count=2)
        >>> b.shape, m.dtype, bool(m.any())
        ((3, 128, 128), dtype('uint8'), True)
    """
    before, after = scene.astype(np.float32).copy(), scene.astype(np.float32).copy()
    h, w = scene.shape[1:]
    mask, taken = np.zeros((h, w), bool), np.zeros((h, w), bool)
    sun = ((1, 1), (1, -1), (-1, 1), (-1, -1))[rng.integers(4)]
    n = int(rng.integers(1, 6)) if count is None else count
    for _ in range(n):
        kind = KINDS[rng.choice(4, p=(0.45, 0.25, 0.15, 0.15))]
        side_m = {"building": (15, 120), "cleared": (30, 400), "water": (30, 300)}
        lo, hi = side_m.get(kind, (40, 400))
        if gsd >= 2 and kind == "building":  # a new housing or industrial block
            lo, hi = 80, 500
        bh = int(np.clip(rng.uniform(lo, hi) / gsd, 8, h // 3))
        bw = int(np.clip(bh * rng.uniform(0.6, 1.6), 6, w // 3))
        where = _place((h, w), bh, bw, taken, rng)
        if where is None:
            continue
        target = after if rng.random() < 0.75 else before  # one in four is a removal
        old = target.copy()
        changed = _paint(target, kind, (*where, bh, bw), gsd, rng, sun)
        pull = rng.uniform(0.0, 0.5)  # some changes contrast little with what was there
        local = ndimage.uniform_filter(old, (1, 2 * bh + 1, 2 * bw + 1))
        target[:] = np.where(changed, (1 - pull) * target + pull * local, target)
        mask |= changed
        r, c = where
        taken[max(0, r - 4) : r + bh + 4, max(0, c - 4) : c + bw + 4] = True
    return before, after, mask.astype(np.uint8)


def smooth_field(h: int, w: int, rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """A smooth random field of about ``cells`` x ``cells`` blobs, values roughly in [-1, 1].

    Example:
        >>> smooth_field(32, 48, np.random.default_rng(0)).shape
        (32, 48)
    """
    coarse = rng.normal(0, 1, (cells + 1, cells + 1))
    zoom = ((h + 1) / (cells + 1), (w + 1) / (cells + 1))
    field = ndimage.zoom(coarse, zoom, order=3, mode="nearest", grid_mode=True)
    return np.clip(field[:h, :w], -2, 2) / 2


def date_nuisance(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """One date's light, colour, season, haze, blur and noise (0-255 float32 in and out).

    Example:
        >>> img = np.full((3, 16, 16), 100, np.float32)
        >>> out = date_nuisance(img, np.random.default_rng(0))
        >>> out.shape, out.dtype
        ((3, 16, 16), dtype('float32'))
    """
    s = strength
    x = np.clip(image, 0, 255) / 255.0
    r, g, b = x
    h, w = r.shape
    green = np.clip((g - np.maximum(r, b)) * 8, 0, 1)  # vegetation weight
    # crops and meadows change unevenly: a smooth field of season shifts (< 0 browner)
    season = (rng.uniform(-0.5, 0.5) + 0.6 * smooth_field(h, w, rng)) * s
    x = x + season * green * np.array([-0.08, 0.06, -0.04])[:, None, None]
    light = np.stack([smooth_field(h, w, rng) for _ in range(3)])  # uneven light and colour
    x = x * (1 + rng.uniform(0.0, 0.12) * s * light)
    x = np.clip(x, 0, None) ** (1 + rng.uniform(-0.25, 0.25) * s)
    x = x * (1 + rng.uniform(-0.12, 0.12, (3, 1, 1)) * s) + rng.uniform(-0.08, 0.08) * s
    haze = rng.uniform(0, 0.3) * s if rng.random() < 0.4 else 0.0
    x = (1 - haze) * x + haze * np.array([0.75, 0.78, 0.85])[:, None, None]
    if rng.random() < 0.5:
        x = ndimage.gaussian_filter(x, (0, *[rng.uniform(0.3, 1.5) * s] * 2))
    x = x + rng.normal(0, rng.uniform(0.0, 0.02) * s, x.shape)
    return np.clip(x * 255.0, 0, 255).astype(np.float32)


def recolour_fields(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recolour 1-3 large soft regions (crops grown, harvested or ploughed; not change).

    Example:
        >>> recolour_fields(np.full((3, 64, 64), 100, np.float32), np.random.default_rng(0)).shape
        (3, 64, 64)
    """
    out = image.astype(np.float32).copy()
    h, w = out.shape[1:]
    for _ in range(int(rng.integers(1, 4))):
        bh, bw = (int(rng.uniform(0.2, 0.5) * n) for n in (h, w))
        r, c = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        alpha = ndimage.gaussian_filter(_blob(bh, bw, rng, 1.0).astype(np.float32), 2.0)
        gain = rng.uniform(0.7, 1.35) * (1 + rng.uniform(-0.15, 0.15, (3, 1, 1)))
        region = out[:, r : r + bh, c : c + bw]
        region[:] = region * (1 + alpha * (gain - 1))
    return np.clip(out, 0, 255)


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coarsen an image by 1.5-2.5x and bring it back to its grid (another sensor's detail).

    Example:
        >>> degrade(np.zeros((3, 20, 30), np.float32), np.random.default_rng(0)).shape
        (3, 20, 30)
    """
    f = 1 / rng.uniform(1.5, 2.5)
    small = ndimage.zoom(image, (1, f, f), order=1)
    back = ndimage.zoom(small, (1, image.shape[1] / small.shape[1], image.shape[2] / small.shape[2]),
                        order=1)  # fmt: skip
    return back[:, : image.shape[1], : image.shape[2]].astype(np.float32)


def misregister(image: np.ndarray, rng: np.random.Generator, max_px: float = 3.0) -> np.ndarray:
    """Shift an image by a random sub-pixel offset of up to ``max_px`` (edges repeated).

    Example:
        >>> misregister(np.zeros((3, 8, 8), np.float32), np.random.default_rng(0)).shape
        (3, 8, 8)
    """
    dy, dx = rng.uniform(-max_px, max_px, 2)
    return ndimage.shift(image, (0, dy, dx), order=1, mode="nearest").astype(np.float32)
