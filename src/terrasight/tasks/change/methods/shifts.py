"""Small misregistration between the dates: the global integer shift, and aligned samples.

Two dates a pixel or two apart light up every sharp edge as change in a
pixel-wise method. :func:`estimate_shift` finds the integer shift that best
aligns the dates (largest mean absolute correlation of the bands, which is
invariant to per-band gains and offsets), so a method can fit its statistics
on pixels that correspond (:func:`align`); applying it with a tolerance (the
smallest difference over nearby shifts) then covers the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from terrasight.tasks.change.methods.base import Sample

MAX_SCORE_PIXELS = 250_000
"""Pixels per shift used to score the shifts (a regular grid subset)."""


def estimate_shift(samples: Sequence[Sample], tolerance: int) -> tuple[int, int]:
    """The shift ``(dy, dx)``, each within ``tolerance``, such that ``before[r + dy, c + dx]``
    best matches ``after[r, c]``; ``(0, 0)`` unless another shift is clearly better.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> before = rng.normal(size=(2, 40, 40)).astype(np.float32)
        >>> after = np.roll(before, 1, axis=2)  # moved one column east
        >>> estimate_shift([(before, after, np.ones((40, 40), bool))], 2)
        (0, -1)
    """
    # Windows no wider than the search (a thin strip at the scene's edge) cannot be shifted.
    samples = [s for s in samples if min(s[2].shape) > 2 * tolerance]
    if tolerance <= 0 or not samples:
        return (0, 0)
    total = sum(s[2].size for s in samples)
    step = max(1, math.ceil(math.sqrt(total / MAX_SCORE_PIXELS)))
    shifts: list[tuple[int, int]] = sorted(
        (
            (dy, dx)
            for dy in range(-tolerance, tolerance + 1)
            for dx in range(-tolerance, tolerance + 1)
        ),
        key=lambda s: (abs(s[0]) + abs(s[1]), s),
    )
    scored = [_score(samples, s, tolerance, step) for s in shifts]
    scores = [score for score, _ in scored]
    best = int(np.argmax(scores))
    # A shift must beat no shift by more than chance correlations (about 1 / sqrt(n)) do.
    margin = max(0.01, 5 / math.sqrt(max(scored[0][1], 1)))
    return shifts[best] if scores[best] > scores[0] + margin else (0, 0)


def _score(
    samples: Sequence[Sample], shift: tuple[int, int], t: int, step: int
) -> tuple[float, int]:
    """Mean absolute correlation over bands between shifted before and after pixels, and
    how many pixels it is measured on."""
    sums = None
    for before, after, valid in samples:
        b, a, v = _pair_at(before, after, valid, shift, t, step)
        b, a = b[:, v].astype(np.float64), a[:, v].astype(np.float64)
        part = np.stack([np.full(b.shape[0], v.sum()), *_moments(b, a)])
        sums = part if sums is None else sums + part
    if sums is None or sums[0, 0] < 2:
        return 0.0, 0
    n, sb, sa, sbb, saa, sab = sums
    cov = sab / n - sb * sa / n**2
    var = (sbb / n - (sb / n) ** 2) * (saa / n - (sa / n) ** 2)
    corr = np.where(var > 0, np.abs(cov) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return float(corr.mean()), int(n[0])


def _moments(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, ...]:
    return b.sum(1), a.sum(1), (b * b).sum(1), (a * a).sum(1), (b * a).sum(1)


def _pair_at(
    before: np.ndarray,
    after: np.ndarray,
    valid: np.ndarray,
    shift: tuple[int, int],
    t: int,
    step: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``before`` moved by ``shift`` and ``after``, both cropped by ``t`` on every side."""
    dy, dx = shift
    h, w = valid.shape
    rows, cols = slice(t, h - t, step), slice(t, w - t, step)
    moved = (slice(t + dy, h - t + dy, step), slice(t + dx, w - t + dx, step))
    v = valid[rows, cols] & valid[moved]
    return before[:, moved[0], moved[1]], after[:, rows, cols], v


def align(samples: Sequence[Sample], shift: tuple[int, int], tolerance: int) -> list[Sample]:
    """The samples with ``before`` moved by ``shift``, cropped by ``tolerance`` on every side.

    Example:
        >>> ones = np.ones((1, 8, 8), np.float32)
        >>> [s[0].shape for s in align([(ones, ones, np.ones((8, 8), bool))], (0, 1), 1)]
        [(1, 6, 6)]
    """
    if tolerance <= 0:
        return list(samples)
    out = []
    for before, after, valid in samples:
        if min(valid.shape) > 2 * tolerance:
            out.append(_pair_at(before, after, valid, shift, tolerance))
    return out


def moved(image: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """``out[:, r, c] = image[:, r + dy, c + dx]``; the edge is repeated where that falls outside.

    Example:
        >>> moved(np.array([[[1, 2, 3]]]), (0, 1)).tolist()
        [[[2, 3, 3]]]
    """
    dy, dx = shift
    if dy == 0 and dx == 0:
        return image
    _, h, w = image.shape
    py, px = abs(dy), abs(dx)
    padded = np.pad(image, ((0, 0), (py, py), (px, px)), mode="edge")
    return padded[:, py + dy : py + dy + h, px + dx : px + dx + w]


def coregistered(samples: Sequence[Sample], search: int) -> tuple[tuple[int, int], list[Sample]]:
    """The global shift of the after date (up to ``search`` px, :func:`estimate_shift`) and
    the samples aligned at it (as they are when there is none).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> before = rng.normal(size=(2, 40, 40)).astype(np.float32)
        >>> shift, aligned = coregistered([(before, np.roll(before, 1, 2), np.ones((40, 40), bool))], 2)
        >>> shift, aligned[0][0].shape
        ((0, -1), (2, 36, 36))
    """
    shift = estimate_shift(samples, search)
    if shift == (0, 0):
        return shift, list(samples)
    return shift, align(samples, shift, search) or list(samples)


def shift_warnings(method: str, shift: Sequence[int]) -> tuple[str, ...]:
    """What the user should know about a corrected misregistration (``()`` for none).

    Example:
        >>> shift_warnings("cva", (0, 0)), shift_warnings("cva", (1, -2))[0][:59]
        ((), 'cva: the after image is offset from the before image by 1 r')
    """
    if tuple(shift) == (0, 0):
        return ()
    return (
        f"{method}: the after image is offset from the before image by {abs(shift[0])} rows "
        f"and {abs(shift[1])} columns; the dates were compared at that offset (co-register "
        "them for finer work)",
    )
