"""Automatic thresholds."""

from __future__ import annotations

import numpy as np


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values``: the cut that maximises between-class variance.

    Example:
        >>> import numpy as np
        >>> v = np.r_[np.zeros(100), np.ones(100) * 10]
        >>> 0 < otsu(v) < 10
        True
    """
    hist, edges = histogram(values, bins, "otsu")
    if hist is None:  # one value only
        return float(edges[-1])
    return otsu_from_histogram(hist, edges)


def otsu_from_histogram(hist: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's threshold from a histogram (counts) and its bin edges."""
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mu0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mu1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mu0 - mu1) ** 2
    k = int(np.argmax(between[:-1])) if between.size > 1 else 0
    return float(edges[k + 1])


def kittler_illingworth(values: np.ndarray, bins: int = 256) -> float:
    """Kittler and Illingworth's minimum-error threshold of ``values`` (two Gaussian classes).

    The cut minimises ``J(t) = 1 + 2 (P1 ln s1 + P2 ln s2) - 2 (P1 ln P1 + P2 ln P2)``,
    the classification error of a mixture of two normal distributions fitted on
    each side of ``t`` (Kittler and Illingworth 1986); used on SAR log-ratios
    (Bazi, Bruzzone and Melgani 2005). Cuts leaving a class with fewer than two
    bins' worth of spread are skipped; with none left, the largest value.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> v = np.r_[rng.normal(0, 1, 9000), rng.normal(8, 1, 1000)]
        >>> 3 < kittler_illingworth(v) < 6
        True
    """
    hist, edges = histogram(values, bins, "kittler_illingworth")
    if hist is None:  # one value only
        return float(edges[-1])
    lo, hi = float(edges[0]), float(edges[-1])
    centers = (edges[:-1] + edges[1:]) / 2
    p = hist / hist.sum()
    p1 = np.cumsum(p)[:-1]
    m1 = np.cumsum(p * centers)[:-1]
    q1 = np.cumsum(p * centers**2)[:-1]
    p2, m2, q2 = 1 - p1, m1[-1] + (p * centers)[-1] - m1, (p * centers**2).sum() - q1
    with np.errstate(divide="ignore", invalid="ignore"):
        mu1, mu2 = m1 / p1, m2 / p2
        v1, v2 = q1 / p1 - mu1**2, q2 / p2 - mu2**2
        width = (hi - lo) / bins
        ok = (p1 > 0) & (p2 > 0) & (v1 > width**2) & (v2 > width**2)
        cost = p1 * np.log(v1) + p2 * np.log(v2) - 2 * (p1 * np.log(p1) + p2 * np.log(p2))
    cost = np.where(ok, cost, np.inf)
    if not np.isfinite(cost).any():
        return hi
    return float(edges[int(np.argmin(cost)) + 1])


def histogram(
    values: np.ndarray, bins: int, name: str = "histogram"
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(counts, edges)`` of the finite values over their range; ``(None, [value])`` when
    they are all one value. ValueError without a finite value.

    Example:
        >>> counts, edges = histogram(np.array([0.0, 1.0, 1.0, np.nan]), 2)
        >>> counts.tolist(), edges.tolist()
        ([1, 2], [0.0, 0.5, 1.0])
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError(f"{name}() needs at least one finite value")
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return None, np.array([hi])
    return np.histogram(values, bins=bins, range=(lo, hi))
