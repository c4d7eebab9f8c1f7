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


def median_scale(z: np.ndarray, dof: int) -> float:
    """Factor that brings the median of ``z`` onto the chi-square median (1 when undefined)."""
    med = float(np.median(z))
    return float(2 * special.gammaincinv(dof / 2, 0.5) / med) if med > 0 else 1.0


def iterate(x: np.ndarray, y: np.ndarray, max_iter: int, tol: float) -> dict[str, Any]:
    """Run the reweighting loop on pooled pixels; returns the final statistics.

    MADs with (numerically) zero variance, from bands constant on both dates or
    exactly linearly related, carry no information: they are left out of ``Z``
    and of its degrees of freedom (``keep``). ``z`` is the uncalibrated
    statistic, ``scale`` its calibration and ``w`` the no-change probabilities.
    """
    n, p = x.shape
    xy = np.hstack([x, y])
    w = np.ones(n)
    rho_old = None
    it = 0
    while True:
        it += 1
        mean, cov = _weighted_cov(xy, w)
        rho, a, b = _cca(cov, p)
        mad = _mads(x, y, mean, a, b)
        var = (w @ (mad * mad)) / w.sum()
        keep = var > DEGENERATE
        dof = int(keep.sum())
        z = (mad[:, keep] ** 2 / var[keep]).sum(axis=1)
        scale = median_scale(z, dof) if dof else 1.0
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
    }
