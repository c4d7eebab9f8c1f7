"""Per-pixel features of a multispectral pair for the ``learned-ms`` change model.

Each date's bands are first put on a common footing: each band minus its
scene median, divided by its scene spread (the 2nd to 98th percentile range),
both estimated per date (:func:`band_stats`). That removes a gain and an offset
per band and date (calibration, light, the DN scale of the file), so the same
model reads Sentinel-2 L1C or L2A, Landsat or reflectance floats.

From those standardised bands, :func:`pixel_features` computes, per pixel:

* both dates' bands and their difference, at the pixel and as local means over
  3 x 3 and 9 x 9 pixels;
* the difference less its 21 x 21 local mean (change against the surroundings);
* each date's local standard deviation (texture) over 5 x 5 pixels and its log ratio;
* the size of the difference vector, at the pixel and over 5 x 5 pixels;
* two normalised-difference indices of the standardised bands (nir against red,
  green against nir) per date and their change.

Example:
    >>> rng = np.random.default_rng(0)
    >>> b = rng.normal(0.1, 0.02, (4, 32, 32)).astype(np.float32)
    >>> stats = band_stats(b), band_stats(b)
    >>> pixel_features(b, b, *stats).shape
    (32, 32, 54)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SPREAD = (2.0, 98.0)
"""Percentiles whose range is a band's spread."""

CONTEXT = 12
"""Pixels of context each side a window needs for exact features (the widest filter, 21, and 3 more)."""


def band_stats(
    image: np.ndarray, valid: np.ndarray | None = None
) -> tuple[list[float], list[float]]:
    """Per-band median and spread (2nd-98th percentile range) of ``(bands, h, w)``.

    Example:
        >>> med, spread = band_stats(np.arange(100.0).reshape(1, 10, 10))
        >>> round(med[0], 1), round(spread[0], 1)
        (49.5, 95.0)
    """
    pixels = image.reshape(image.shape[0], -1)
    if valid is not None:
        pixels = pixels[:, valid.reshape(-1)]
    if pixels.shape[1] > 400_000:
        pixels = pixels[:, :: pixels.shape[1] // 400_000]
    med = np.median(pixels, axis=1)
    lo, hi = np.percentile(pixels, SPREAD, axis=1)
    spread = np.maximum(hi - lo, 1e-6 * np.maximum(1.0, np.abs(med)))
    return [float(v) for v in med], [float(v) for v in spread]


def standardise(image: np.ndarray, stats: tuple[list[float], list[float]]) -> np.ndarray:
    """``(image - median) / spread`` per band, float32.

    Example:
        >>> standardise(np.full((1, 2, 2), 3.0), ([1.0], [2.0])).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """
    med = np.asarray(stats[0], np.float32).reshape(-1, 1, 1)
    spread = np.asarray(stats[1], np.float32).reshape(-1, 1, 1)
    return ((image.astype(np.float32) - med) / spread).astype(np.float32)


def _mean(x: np.ndarray, size: int) -> np.ndarray:
    return ndimage.uniform_filter(x, size=(1, size, size), mode="reflect")


def _std(x: np.ndarray, size: int) -> np.ndarray:
    m = _mean(x, size)
    return np.sqrt(np.maximum(_mean(x * x, size) - m * m, 0.0))


def _index(z: np.ndarray, i: int, j: int) -> np.ndarray:
    """A normalised difference of two standardised bands, shifted to be positive."""
    a, b = z[i] + 2.0, z[j] + 2.0
    return (a - b) / (np.abs(a) + np.abs(b) + 0.5)


def pixel_features(
    before: np.ndarray,
    after: np.ndarray,
    stats_before: tuple[list[float], list[float]],
    stats_after: tuple[list[float], list[float]],
) -> np.ndarray:
    """Features of every pixel, float32 ``(h, w, n)`` (see the module notes).

    ``before`` and ``after`` are ``(bands, h, w)`` with the bands in the model's
    order; the first four must be blue, green, red and nir.
    """
    zb = np.clip(standardise(before, stats_before), -4.0, 6.0)
    za = np.clip(standardise(after, stats_after), -4.0, 6.0)
    d = za - zb
    parts = [zb, za, d]
    for size in (3, 9):
        mb, ma = _mean(zb, size), _mean(za, size)
        parts += [mb, ma, ma - mb]
    parts.append(d - _mean(d, 21))
    sb, sa = _std(zb, 5), _std(za, 5)
    parts += [np.log((sa + 0.02) / (sb + 0.02))]
    parts += [sb.mean(0, keepdims=True), sa.mean(0, keepdims=True)]
    mag = np.sqrt((d * d).mean(0, keepdims=True))
    parts += [mag, _mean(mag, 5)]
    ib = np.stack([_index(zb, 3, 2), _index(zb, 1, 3)])
    ia = np.stack([_index(za, 3, 2), _index(za, 1, 3)])
    parts += [ib, ia, ia - ib]
    return np.moveaxis(np.concatenate(parts, axis=0), 0, -1).astype(np.float32)


def texture_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-pixel change of local texture between standardised dates, float32 ``(h, w)``.

    The absolute log ratio of the 5 x 5 standard deviations, averaged over bands.

    Example:
        >>> x = np.zeros((1, 8, 8), np.float32)
        >>> float(texture_change(x, x).max())
        0.0
    """
    sb, sa = _std(before, 5), _std(after, 5)
    return np.abs(np.log((sa + 0.02) / (sb + 0.02))).mean(0)
