"""Iteratively reweighted multivariate alteration detection (IR-MAD, Nielsen 2007).

Canonical correlation analysis finds, for each date, linear combinations of
the bands (canonical variates) that are as correlated as possible between the
dates. Their differences, the MAD variates, are uncorrelated, gather the
change in few components, and are invariant to any per-band linear (affine)
transform of either date: gains and offsets of light, season or calibration
cancel out. Standardised by their variances ``2 (1 - rho)``, the MADs of
unchanged pixels are close to independent standard normals, so the sum of
their squares ``Z`` follows a chi-square distribution with ``bands`` degrees
of freedom. Each iteration weights every pixel by its no-change probability
(the chi-square survival function of ``Z``) and re-estimates the statistics,
so that they come more and more from the unchanged background.

Calibration (a departure from the textbook loop, measured to be needed):
weighting by the no-change probability shrinks the weighted MAD variances
below the background's, so the textbook ``Z`` grows each iteration; on pure
Gaussian no-change data its fixed point flags about half of all pixels at 1 %
significance with 3 bands (and collapses with 1 band). Here ``Z`` is scaled so
that its median equals the chi-square median (a consistency factor, as in
robust statistics: it assumes fewer than half of the pixels changed); the
weights and the final probabilities use the scaled ``Z``. The loop then
converges in a few iterations and an unchanged pair flags about 1 % of pixels.

The change probability of a pixel is the chi-square CDF of its scaled ``Z``;
the default threshold is the 1 % significance level (``probability >= 0.99``).
Otsu's cut on ``Z`` is available (``threshold="otsu"``): it separates a strong
planted change perfectly but flags a quarter of an unchanged pair and scored
lower on the AirChange pairs, so it is not the default.

The final no-change weights also give a relative radiometric normalisation
(per-band orthogonal regression over invariant pixels, see
:mod:`terrasight.tasks.change.normalize`), kept in the fitted parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import linalg, special

from terrasight.tasks.change.base import MethodOptions, MethodSpec, Sample, option, pooled
from terrasight.tasks.change.normalize import (
    Normalization,
    fit_normalization,
    restore_normalization,
)
from terrasight.tasks.change.threshold import otsu

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

MAX_PIXELS = 100_000
"""At most this many pooled pixels are used to fit (a deterministic random subset)."""

SIGNIFICANCE = 0.01
"""Default significance level: change when the no-change probability is below it."""

_RIDGE = 1e-6
"""Relative regularisation of the covariance matrices (keeps constant bands solvable)."""

_DEGENERATE = 1e-10
"""MAD variance (in units of the unit-variance canonical variates) below which it is dropped."""

Matrix = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class IRMADOptions(MethodOptions):
    """Options of ``irmad`` (``-O threshold=otsu`` on the command line).

    Attributes:
        threshold: ``"significance"`` (change when the no-change probability is
            below ``significance``), ``"otsu"`` (Otsu's cut on ``Z``), or a
            change probability in [0, 1].
        significance: significance level for ``threshold="significance"``.
        max_iter: most reweighting iterations.
        tol: stop when no canonical correlation moves by more than this.

    Example:
        >>> IRMADOptions.from_mapping({"threshold": "0.95", "max_iter": "10"})
        IRMADOptions(threshold=0.95, significance=0.01, max_iter=10, tol=0.0001)
    """

    method: ClassVar[str] = "irmad"
    threshold: str | float = option(
        "significance", choices=("significance", "otsu"), low=0.0, high=1.0
    )
    significance: float = option(SIGNIFICANCE, low=0.0, high=1.0)
    max_iter: int = option(30, low=1)
    tol: float = option(1e-4, low=0.0)


@dataclass(frozen=True)
class FittedIRMAD:
    """IR-MAD fitted to one pair.

    Attributes:
        mean_before: Weighted mean of each band of the before date.
        mean_after: Weighted mean of each band of the after date.
        a: ``(bands, k)`` canonical eigenvectors of the before date (columns), for
            the ``k <= bands`` MADs that vary (see ``dof``).
        b: ``(bands, k)`` canonical eigenvectors of the after date (columns).
        correlations: Canonical correlations, ascending (MAD 1 carries most change).
        variances: Weighted variances of the MAD variates (``2 (1 - rho)`` up to
            the regularisation).
        chi2_scale: Calibration factor of ``Z`` (see the module docstring).
        threshold: Change probability at or above which a pixel is changed.
        normalization: Gains and offsets bringing the after date onto the before date.
        iterations: Reweighting iterations run.
    """

    mean_before: tuple[float, ...]
    mean_after: tuple[float, ...]
    a: Matrix
    b: Matrix
    correlations: tuple[float, ...]
    variances: tuple[float, ...]
    chi2_scale: float
    threshold: float
    normalization: Normalization
    iterations: int = 0
    name: str = "irmad"

    @property
    def bands(self) -> int:
        """Number of bands."""
        return len(self.mean_before)

    @property
    def dof(self) -> int:
        """Degrees of freedom of ``Z``: the MADs that vary (``bands`` unless degenerate)."""
        return len(self.variances)

    def chi2(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Calibrated sum of squared standardised MAD variates ``Z``, float32 ``(h, w)``."""
        nb, h, w = before.shape
        if nb != self.bands or after.shape[0] != nb:
            raise ValueError(
                f"IR-MAD was fitted on {self.bands} bands, got {nb} and {after.shape[0]}"
            )
        x = before.reshape(nb, -1).astype(np.float32) - _vec(self.mean_before)[:, None]
        y = after.reshape(nb, -1).astype(np.float32) - _vec(self.mean_after)[:, None]
        sd = np.sqrt(_vec(self.variances))[:, None]
        mad = np.einsum("kj,kn->jn", _mat(self.a, nb), x)
        mad -= np.einsum("kj,kn->jn", _mat(self.b, nb), y)
        mad /= sd
        z = np.einsum("kn,kn->n", mad, mad)
        z *= np.float32(self.chi2_scale)
        return z.reshape(h, w)

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            z = self.chi2(before, after)
            p = chi2_cdf(z, self.dof)
        p[~valid] = 0.0
        return p

    def params(self) -> dict[str, Any]:
        return {
            "mean_before": list(self.mean_before),
            "mean_after": list(self.mean_after),
            "a": [list(r) for r in self.a],
            "b": [list(r) for r in self.b],
            "correlations": list(self.correlations),
            "variances": list(self.variances),
            "chi2_scale": self.chi2_scale,
            "threshold": self.threshold,
            "normalization": self.normalization.params(),
            "iterations": self.iterations,
        }


def chi2_cdf(z: np.ndarray, dof: int) -> np.ndarray:
    """Chi-square CDF with ``dof`` degrees of freedom, float32, vectorised (0 when ``dof == 0``).

    Example:
        >>> import numpy as np
        >>> round(float(chi2_cdf(np.array([2.0]), 2)[0]), 4)  # 1 - exp(-1)
        0.6321
    """
    z = np.maximum(np.asarray(z, dtype=np.float32), 0)
    if dof <= 0:
        return np.zeros_like(z)
    return special.gammainc(np.float32(dof / 2), z / 2).astype(np.float32, copy=False)


def _vec(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _mat(rows: Matrix, nb: int) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(nb, -1)


def _as_matrix(m: np.ndarray) -> Matrix:
    return tuple(tuple(float(v) for v in row) for row in m)


def _subsample(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` rows of both arrays, the same deterministic random subset."""
    n = x.shape[0]
    if n <= limit:
        return x, y
    idx = np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))
    return x[idx], y[idx]


def _weighted_cov(xy: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and (ridge-regularised) covariance of the columns of ``xy``."""
    sw = w.sum()
    mean = (w @ xy) / sw
    d = xy - mean
    cov = np.einsum("ni,nj->ij", d * w[:, None], d) / sw
    ridge = _RIDGE * max(float(np.trace(cov)) / cov.shape[0], 1e-12)
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


def _median_scale(z: np.ndarray, dof: int) -> float:
    """Factor that brings the median of ``z`` onto the chi-square median (1 when undefined)."""
    med = float(np.median(z))
    return float(2 * special.gammaincinv(dof / 2, 0.5) / med) if med > 0 else 1.0


def _iterate(x: np.ndarray, y: np.ndarray, max_iter: int, tol: float) -> dict[str, Any]:
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
        keep = var > _DEGENERATE
        dof = int(keep.sum())
        z = (mad[:, keep] ** 2 / var[keep]).sum(axis=1)
        scale = _median_scale(z, dof) if dof else 1.0
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


def fit(
    samples: Sequence[Sample],
    band_names: Sequence[str] = (),
    options: IRMADOptions | None = None,
) -> FittedIRMAD:
    """Fit IR-MAD on sample windows.

    Args:
        samples: ``(before, after, valid)`` windows spread over the scene.
        band_names: Names of the bands (unused; any sensor works).
        options: threshold, significance and iterations (:class:`IRMADOptions`);
            the defaults when None.

    Returns:
        The fitted :class:`FittedIRMAD`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> before = rng.normal(100, 10, (3, 64, 64)).astype(np.float32)
        >>> after = 0.7 * before + 20 + rng.normal(0, 1, before.shape).astype(np.float32)
        >>> after[:, :8, :8] += 60
        >>> valid = np.ones((64, 64), bool)
        >>> m = fit([(before, after, valid)])
        >>> mask = m.probability(before, after, valid) >= m.threshold
        >>> bool(mask[:8, :8].mean() > 0.9), bool(mask[16:, 16:].mean() < 0.02)
        (True, True)
    """
    opts = options or IRMADOptions()
    x, y = pooled(samples)
    if x.shape[0] < max(2, x.shape[1] + 1):
        raise ValueError(f"IR-MAD needs more valid pixels than bands, got {x.shape[0]}")
    x, y = _subsample(x, y, MAX_PIXELS)
    r = _iterate(x, y, opts.max_iter, opts.tol)
    p = x.shape[1]
    return FittedIRMAD(
        mean_before=tuple(map(float, r["mean"][:p])),
        mean_after=tuple(map(float, r["mean"][p:])),
        a=_as_matrix(r["a"]),
        b=_as_matrix(r["b"]),
        correlations=tuple(map(float, r["rho"])),
        variances=tuple(map(float, r["var"])),
        chi2_scale=float(r["scale"]),
        threshold=_threshold(opts.threshold, opts.significance, r["scale"] * r["z"], len(r["var"])),
        normalization=fit_normalization(x, y, r["w"]),
        iterations=int(r["it"]),
    )


def _threshold(kind: str | float, significance: float, z: np.ndarray, dof: int) -> float:
    """The change-probability threshold (``kind`` checked by :class:`IRMADOptions`), float32-exact."""
    if kind == "significance":
        t = 1.0 - float(significance)
    elif kind == "otsu":
        t = float(chi2_cdf(np.array([otsu(z)]), dof)[0]) if dof else 1.0
    else:
        t = float(kind)
    return float(np.float32(t))


def restore(params: dict[str, Any], models: ModelCache | None = None) -> FittedIRMAD:
    """Rebuild a fitted IR-MAD from :meth:`FittedIRMAD.params` (``models`` is not used)."""
    return FittedIRMAD(
        mean_before=tuple(float(v) for v in params["mean_before"]),
        mean_after=tuple(float(v) for v in params["mean_after"]),
        a=_as_matrix(params["a"]),
        b=_as_matrix(params["b"]),
        correlations=tuple(float(v) for v in params["correlations"]),
        variances=tuple(float(v) for v in params["variances"]),
        chi2_scale=float(params["chi2_scale"]),
        threshold=float(params["threshold"]),
        normalization=restore_normalization(params["normalization"]),
        iterations=int(params.get("iterations", 0)),
    )


def fit_relative_normalization(
    samples: Sequence[Sample], options: IRMADOptions | None = None
) -> Normalization:
    """Gains and offsets that bring the after date onto the before date (via IR-MAD).

    A pipeline can apply it (``normalize.normalize_samples`` or
    ``Normalization.apply``) before a method that is not invariant to
    radiometric differences.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> before = rng.normal(100, 10, (2, 50, 50)).astype(np.float32)
        >>> after = ((before - 20) / 0.7).astype(np.float32)
        >>> n = fit_relative_normalization([(before, after, np.ones((50, 50), bool))])
        >>> [round(g, 2) for g in n.gains]
        [0.7, 0.7]
    """
    return fit(samples, options=options).normalization


SPEC = MethodSpec(
    name="irmad",
    fit=fit,
    restore=restore,
    description=(
        "iteratively reweighted MAD: invariant to per-band gains and offsets, "
        "chi-square change probability at 1% significance (any sensor)"
    ),
    options=IRMADOptions,
    min_bands=1,
)
