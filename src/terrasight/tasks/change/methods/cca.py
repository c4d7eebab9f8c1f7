"""The IR-MAD reweighting loop: weighted canonical correlation analysis and MAD variates.

Used by :mod:`terrasight.tasks.change.methods.irmad` (see its docstring for the method
and the calibration of ``Z``); these functions work on pooled float64
``(n, bands)`` pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg, special

RIDGE = 1e-6
"""Relative regularisation of the covariance matrices (keeps constant bands solvable)."""

DEGENERATE = 1e-10
"""MAD variance (in units of the unit-variance canonical variates) below which it is dropped."""


def _weighted_cov(xy: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and (ridge-regularised) covariance of the columns of ``xy``."""
    sw = w.sum()
    mean = (w @ xy) / sw
    d = xy - mean
    cov = np.einsum("ni,nj->ij", d * w[:, None], d) / sw
    ridge = RIDGE * max(float(np.trace(cov)) / cov.shape[0], 1e-12)
    cov[np.diag_indices_from(cov)] += ridge
    return mean, cov


def _cca(cov: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical correlations (ascending) and eigenvector matrices A, B of a joint covariance.

    Solves the generalised symmetric eigenproblem ``S12 S22^-1 S21 a = rho^2 S11 a``;
    ``b = S22^-1 S21 a / rho`` pairs each ``a`` with its after-date vector, which
    makes the correlations positive. For ``rho`` near 0 that quotient is unstable and
    ``b`` comes from the mirrored problem ``S21 S11^-1 S12 b = rho^2 S22 b``.
    """
    s11, s22, s12 = cov[:p, :p], cov[p:, p:], cov[:p, p:]
    c1 = s12 @ linalg.solve(s22, s12.T, assume_a="pos")
    rho2, a = linalg.eigh((c1 + c1.T) / 2, s11)
    rho = np.sqrt(np.clip(rho2, 0.0, 1.0))
    b = linalg.solve(s22, s12.T @ a, assume_a="pos")
    weak = rho < 1e-3
    b[:, ~weak] /= rho[~weak]
    if weak.any():
        c2 = s12.T @ linalg.solve(s11, s12, assume_a="pos")
        _, b2 = linalg.eigh((c2 + c2.T) / 2, s22)
        b[:, weak] = b2[:, weak]
        sign = np.sign(np.einsum("ik,ij,jk->k", a, s12, b))
        b *= np.where(sign == 0, 1.0, sign)
    return rho, a, b


def _mads(
    x: np.ndarray, y: np.ndarray, mean: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """MAD variates of pooled float64 ``(n, bands)`` pixels, ``(n, bands)``."""
    p = x.shape[1]
    # einsum: OpenBLAS matmul with a tiny inner dimension is several times slower here.
    return np.einsum("nk,kj->nj", x - mean[:p], a) - np.einsum("nk,kj->nj", y - mean[p:], b)


def _quantum(pixels: np.ndarray) -> float:
    """The step of a date's values: 1 when every value is a whole number, else 0 (unknown)."""
    return 1.0 if bool(np.all(pixels == np.round(pixels))) else 0.0


def variance_floor(a: np.ndarray, b: np.ndarray, qx: float, qy: float) -> np.ndarray:
    """The smallest variance of each MAD: the rounding noise of the two dates, at least
    :data:`DEGENERATE`.

    Values rounded to a step ``q`` carry a uniform error of variance ``q**2 / 12``
    per band; through the canonical vectors (columns of ``a`` and ``b``) it gives
    ``(q_x**2 |a_j|**2 + q_y**2 |b_j|**2) / 12`` for MAD ``j``.

    Example:
        >>> a = b = np.array([[0.01], [0.0]])
        >>> [float(f"{v:.3g}") for v in variance_floor(a, b, 1.0, 1.0)]
        [1.67e-05]
    """
    rounding = (qx**2 * (a * a).sum(axis=0) + qy**2 * (b * b).sum(axis=0)) / 12
    return np.maximum(rounding, DEGENERATE)


def median_scale(z: np.ndarray, dof: int) -> float:
    """Factor that brings the median of ``z`` onto the chi-square median (1 when undefined)."""
    med = float(np.median(z))
    return float(2 * special.gammaincinv(dof / 2, 0.5) / med) if med > 0 else 1.0


def iterate(x: np.ndarray, y: np.ndarray, max_iter: int, tol: float) -> dict[str, Any]:
    """Run the reweighting loop on pooled pixels; returns the final statistics.

    MADs that are (numerically) zero on every pixel, from bands constant on both
    dates or exactly linearly related, carry no information: they are left out
    of ``Z`` and of its degrees of freedom (``keep``). A MAD that is zero only
    on the pixels weighted as unchanged (dates identical outside the change, a
    noise-free background) carries the most: its weighted variance is held at
    the noise of the data (:func:`variance_floor`), and the calibration never
    scales ``Z`` past that floor (``scale`` at most ``cap``), so every pixel that
    differs by more than rounding is changed. ``z`` is the uncalibrated
    statistic, ``scale`` its calibration and ``w`` the no-change probabilities.
    """
    n, p = x.shape
    xy = np.hstack([x, y])
    w = np.ones(n)
    quanta = (_quantum(x), _quantum(y))
    rho_old = None
    it = 0
    while True:
        it += 1
        mean, cov = _weighted_cov(xy, w)
        rho, a, b = _cca(cov, p)
        mad = _mads(x, y, mean, a, b)
        keep = (mad * mad).mean(axis=0) > DEGENERATE
        floor = variance_floor(a, b, *quanta)
        var = np.maximum((w @ (mad * mad)) / w.sum(), floor)
        dof = int(keep.sum())
        z = (mad[:, keep] ** 2 / var[keep]).sum(axis=1)
        cap = float(np.min(var[keep] / floor[keep])) if dof else 1.0
        scale = min(median_scale(z, dof), cap) if dof else 1.0
        w = special.gammaincc(dof / 2, scale * z / 2) if dof else np.ones(n)
        converged = rho_old is not None and np.max(np.abs(rho - rho_old)) < tol
        if converged or it >= max_iter or dof == 0 or w.sum() <= 0:
            break
        rho_old = rho
    return {
        "mean": mean,
        "rho": rho[keep],
        "a": a[:, keep],
        "b": b[:, keep],
        "var": var[keep],
        "z": z,
        "w": w,
        "it": it,
        "scale": scale,
        "cap": cap,
    }
