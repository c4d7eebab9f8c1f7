"""Painting simulated changes into a multispectral scene (the demo pair's "after" date).

Each change is placed by the pixel values of the before image (vegetation,
water, soil found through NDVI/NDWI) and painted with a spectrum taken from
the scene itself, so the result looks like the sensor saw it. Used by
:mod:`terrasight.samples.demo`; see its docstring for what each change is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

ROOF = np.array([2300, 2250, 2350, 2600, 2900, 2600], np.float32)
_BARE_SOIL = np.array([1307, 1125, 1243, 1818, 2504, 1863], np.float32)
_WATER = np.array([1259, 1001, 736, 333, 75, 54], np.float32)
# (kind, height, width) in pixels, painted in this order.
_CHANGES = (
    ("flood", 40, 90),
    ("cleared_vegetation", 48, 64),
    ("built_up", 16, 26),
    ("built_up", 14, 22),
    ("built_up", 18, 12),
    ("built_up", 10, 16),
)


def place_changes(scene: np.ndarray, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Choose where each change goes from the before pixel values; return (kind, mask) pairs."""
    green, red, nir = scene[1:4]
    ndvi = (nir - red) / np.maximum(nir + red, 1)
    water = (green - nir) / np.maximum(green + nir, 1) > 0
    veg = ndvi > 0.5
    taken = np.zeros(water.shape, bool)
    out: list[tuple[str, np.ndarray]] = []
    for kind, ph, pw in _CHANGES:
        ph, pw = min(ph, water.shape[0] // 4), min(pw, water.shape[1] // 4)
        centres = [centre(m) for _, m in out]
        row, col = _best_position(kind, ph, pw, veg, nir, water, taken, centres)
        box = np.zeros(water.shape, bool)
        box[row : row + ph, col : col + pw] = True
        mask = box if kind == "built_up" else _blob(ph, pw, rng, row, col, water.shape)
        taken |= ndimage.binary_dilation(box, iterations=12)
        out.append((kind, mask))
    return out


def _best_position(
    kind: str,
    ph: int,
    pw: int,
    veg: np.ndarray,
    nir: np.ndarray,
    water: np.ndarray,
    taken: np.ndarray,
    centres: list[tuple[float, float]],
) -> tuple[int, int]:
    """Top-left corner of a ``ph`` x ``pw`` box that suits ``kind``, spread from earlier ones."""
    h, w = veg.shape
    m = max(8, min(h, w) // 20)  # keep away from the edges
    rows, cols = np.mgrid[m : h - ph - m : 4, m : w - pw - m : 4]
    rows, cols = rows.ravel(), cols.ravel()
    masks = {"veg": veg, "lush": veg & (nir > 2500), "water": water, "taken": taken}
    frac = {n: _box_mean(m, rows, cols, ph, pw) for n, m in masks.items()}
    near = _box_mean(water, rows - 16, cols - 16, ph + 32, pw + 32)
    if kind == "flood":
        tiers = [(frac["water"] < 0.02) & (near > 0.05), frac["water"] < 0.05]
    elif kind == "cleared_vegetation":  # dense, bright-NIR vegetation: fields, meadows
        tiers = [frac["lush"] >= 0.9, frac["lush"] >= 0.6, frac["veg"] >= 0.9, frac["water"] < 0.05]
    else:
        tiers = [frac["veg"] >= 0.9, frac["veg"] >= 0.6, frac["water"] < 0.05]
    free = frac["taken"] == 0
    ok = next((t & free for t in tiers if (t & free).any()), free)
    if not ok.any():
        ok = np.ones_like(free)
    score = frac["veg"] - frac["water"]
    if centres:
        cy, cx = rows + ph / 2, cols + pw / 2
        d = np.min([np.hypot(cy - y, cx - x) for y, x in centres], axis=0)
        score = np.minimum(d, 0.3 * min(h, w)) + score
    i = int(np.argmax(np.where(ok, score, -np.inf)))
    return int(rows[i]), int(cols[i])


def _box_mean(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Mean of ``mask`` over boxes with top-left ``(rows, cols)``, clipped to the image."""
    ii = np.pad(mask.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = mask.shape
    r0, c0 = np.clip(rows, 0, h), np.clip(cols, 0, w)
    r1, c1 = np.clip(rows + ph, 0, h), np.clip(cols + pw, 0, w)
    area = np.maximum((r1 - r0) * (c1 - c0), 1)
    return (ii[r1, c1] - ii[r0, c1] - ii[r1, c0] + ii[r0, c0]) / area


def _blob(
    ph: int, pw: int, rng: np.random.Generator, row: int, col: int, shape: tuple[int, int]
) -> np.ndarray:
    """An irregular ellipse-like area filling most of a ``ph`` x ``pw`` box at ``(row, col)``."""
    y, x = np.mgrid[0:ph, 0:pw]
    ny, nx = (y + 0.5) / ph * 2 - 1, (x + 0.5) / pw * 2 - 1
    angle = np.arctan2(ny, nx)
    k = np.arange(1, 5)[:, None, None]
    amp, phase = rng.uniform(0.03, 0.09, (4, 1, 1)), rng.uniform(0, 2 * np.pi, (4, 1, 1))
    radius = 0.9 + (amp * np.cos(k * angle + phase)).sum(axis=0)
    inside = np.hypot(ny, nx) <= radius
    out = np.zeros(shape, bool)
    out[row : row + ph, col : col + pw] = ndimage.binary_opening(inside, iterations=1)
    return out


def _paint_built_up(
    scene: np.ndarray, mask: np.ndarray, before: np.ndarray, rng: np.random.Generator
) -> None:
    """Gable roof: sunlit and shaded halves, a darker ridge line, 3 % texture."""
    rs, cs = ndimage.find_objects(mask.astype(np.uint8))[0]
    h, w = rs.stop - rs.start, cs.stop - cs.start
    light = np.ones((h, w), np.float32)
    if w >= h:
        light[: h // 2], light[h // 2 :] = 1.06, 0.90
        light[h // 2] = 0.80
    else:
        light[:, : w // 2], light[:, w // 2 :] = 1.06, 0.90
        light[:, w // 2] = 0.80
    texture = rng.normal(1.0, 0.03, (scene.shape[0], h, w)).astype(np.float32)
    scene[:, rs, cs] = ROOF[:, None, None] * light * texture


def _paint_cleared(
    scene: np.ndarray, mask: np.ndarray, before: np.ndarray, rng: np.random.Generator
) -> None:
    """Bare soil of the scene (NIR at most 80 % of the vegetation's), keeping some texture."""
    soil = _scene_spectrum(scene, before, "soil").copy()
    nir = max(float(scene[3, mask].mean()), 1.0)
    soil[3] = min(soil[3], 0.8 * nir)  # moist soil where the vegetation was darker in NIR
    rel = scene[3, mask] / nir
    texture = np.clip(np.sqrt(rel), 0.8, 1.2) * rng.normal(1.0, 0.02, rel.shape)
    scene[:, mask] = soil[:, None] * texture[None].astype(np.float32)


def _paint_flood(
    scene: np.ndarray, mask: np.ndarray, before: np.ndarray, rng: np.random.Generator
) -> None:
    """Open water of the scene, smooth (2 % texture)."""
    water = _scene_spectrum(scene, before, "water")
    texture = rng.normal(1.0, 0.02, (scene.shape[0], int(mask.sum()))).astype(np.float32)
    scene[:, mask] = water[:, None] * texture


PAINTERS = {
    "built_up": _paint_built_up,
    "cleared_vegetation": _paint_cleared,
    "flood": _paint_flood,
}


def _scene_spectrum(scene: np.ndarray, before: np.ndarray, kind: str) -> np.ndarray:
    """Median spectrum of bare soil or water in the before image (a fixed one if too rare)."""
    b = before.astype(np.float32)
    ndvi = (b[3] - b[2]) / np.maximum(b[3] + b[2], 1)
    ndwi = (b[1] - b[3]) / np.maximum(b[1] + b[3], 1)
    if kind == "water":
        sel, default = ndwi > 0.3, _WATER
    else:
        sel, default = (ndvi < 0.2) & (ndwi < -0.1) & (b[4] > b[3]), _BARE_SOIL
    if sel.sum() < 200:
        return default
    return np.median(b[:, sel], axis=1).astype(np.float32)


def centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return float(rows.mean()), float(cols.mean())
