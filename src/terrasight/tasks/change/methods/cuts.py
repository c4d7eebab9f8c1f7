"""The cut of a change magnitude histogram above the noise floor (``cva``'s ``threshold`` option).

Otsu's cut maximises the between-class variance of two classes. One very
large change (a new roof on sand) carries most of that variance by itself,
so the cut can fall between it and every moderate change (two lawns that
changed colour): those are then left below the cut with the noise. The cuts
here are alternatives that measure how far that pull goes:

``"otsu"``
    Otsu's cut over all magnitudes (the default until December 2026).
``"two-step"``
    (the default) Otsu's cut; where the part above it is a small share of the pixels
    (under :data:`SMALL_SHARE`), Otsu again on the part below, kept only where
    that lower split is clearly two modes (Otsu's separability, the between-class
    share of the variance, of at least :data:`SEPARATED`; one skewed mode, such as
    a Gaussian, a chi or a log-normal, scores 0.5 to 0.68).
``"ki"``
    Kittler and Illingworth's minimum-error cut of the magnitudes above the
    noise floor (two Gaussian classes, the noise's tail and the change).
``"three-class"``
    the lower of the two cuts of Otsu's three-class split.

Every cut is then raised to the noise floor at least (see :mod:`.nochange`).
"""

from __future__ import annotations

import numpy as np

from terrasight.tasks.change.methods.threshold import histogram, kittler_illingworth, otsu

CUTS = ("otsu", "two-step", "ki", "three-class")
"""The values of ``cva``'s ``threshold`` option."""

SMALL_SHARE = 0.05
"""``two-step``: above Otsu's cut, at most this share of the pixels is "the heaviest change"."""

SEPARATED = 0.8
"""``two-step``: the separability of the lower split that counts as two modes."""

MIN_TAIL = 50
"""``ki``: fewer magnitudes above the floor than this keep the floor."""


def cut(magnitudes: np.ndarray, floor: float, name: str = "otsu") -> float:
    """The threshold of ``magnitudes`` by the cut ``name`` (one of :data:`CUTS`), at least ``floor``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> noise = np.abs(rng.normal(0, 0.2, 20000))
        >>> big, moderate = rng.normal(20, 0.5, 300), rng.normal(3, 0.3, 1500)
        >>> mag = np.r_[noise, moderate, big]
        >>> cut(mag, 0.8) > 3.5, cut(mag, 0.8, "two-step") < 2.5
        (True, True)
    """
    if name == "otsu":
        value = otsu(magnitudes)
    elif name == "two-step":
        value = two_step(magnitudes)
    elif name == "ki":
        tail = magnitudes[magnitudes > floor]
        value = kittler_illingworth(tail) if tail.size >= MIN_TAIL else floor
    elif name == "three-class":
        value = three_class(magnitudes)[0]
    else:
        raise ValueError(f"unknown cut {name!r}: use one of {', '.join(CUTS)}")
    return max(float(value), float(floor))


def separability(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu's cut of ``values`` and its separability (between-class share of the variance, 0-1).

    Example:
        >>> v = np.r_[np.zeros(100), np.ones(100) * 10]
        >>> t, eta = separability(v)
        >>> 0 < t < 10, round(eta, 3)
        (True, 1.0)
    """
    hist, edges = histogram(values, bins, "separability")
    if hist is None:
        return float(edges[-1]), 0.0
    p = hist / hist.sum()
    centers = (edges[:-1] + edges[1:]) / 2
    w0, m0 = np.cumsum(p)[:-1], np.cumsum(p * centers)[:-1]
    mean = float((p * centers).sum())
    total = float((p * (centers - mean) ** 2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean * w0 - m0) ** 2 / (w0 * (1 - w0))
    between = np.nan_to_num(between, nan=0.0, posinf=0.0)
    k = int(np.argmax(between)) if between.size else 0
    eta = float(between[k] / total) if total > 0 and between.size else 0.0
    return float(edges[k + 1]), min(eta, 1.0)


def two_step(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's cut, lowered to Otsu's cut of the part below it where the part above is a small
    share (:data:`SMALL_SHARE`) and the lower split is clearly two modes (:data:`SEPARATED`).

    Example:
        >>> rng = np.random.default_rng(1)
        >>> one_mode = rng.lognormal(0, 0.5, 20000)
        >>> two_step(one_mode) == otsu(one_mode)
        True
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    first = otsu(values, bins)
    if values.size == 0 or np.mean(values > first) > SMALL_SHARE:
        return first
    lower = values[values <= first]
    if lower.size < 2:
        return first
    second, eta = separability(lower, bins)
    return second if eta >= SEPARATED and second < first else first


def three_class(values: np.ndarray, bins: int = 128) -> tuple[float, float]:
    """The two cuts of Otsu's three-class split of ``values`` (lower, upper).

    Example:
        >>> v = np.r_[np.zeros(100), np.ones(100) * 5, np.ones(100) * 10]
        >>> low, high = three_class(v)
        >>> 0 < low < 5 < high < 10
        True
    """
    hist, edges = histogram(values, bins, "three_class")
    if hist is None:
        return float(edges[-1]), float(edges[-1])
    p = hist / hist.sum()
    centers = (edges[:-1] + edges[1:]) / 2
    w = np.r_[0.0, np.cumsum(p)]
    m = np.r_[0.0, np.cumsum(p * centers)]
    # Classes [0, i), [i, j), [j, n): sum of w_k mu_k^2 is the between-class variance + const.
    i = np.arange(1, bins - 1)[:, None]
    j = np.arange(2, bins)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (
            m[i] ** 2 / w[i]
            + (m[j] - m[i]) ** 2 / (w[j] - w[i])
            + (m[-1] - m[j]) ** 2 / (w[-1] - w[j])
        )
    s = np.where((j > i) & np.isfinite(s), s, -np.inf)
    a, b = np.unravel_index(int(np.argmax(s)), s.shape)
    return float(edges[int(i[a, 0])]), float(edges[int(j[0, b])])
