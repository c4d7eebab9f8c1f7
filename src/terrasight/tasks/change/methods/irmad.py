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

Misregistration (a departure from the textbook method, measured to be
needed): IR-MAD compares pixel by pixel, so dates a pixel apart light up every
edge, and the misregistration also inflates the MAD variances it is fitted on
(on the demo pair, one pixel apart, it flagged 20 % of the scene: F1 0.05).
With ``tolerance`` t > 0 (default 1), the fit first finds the global integer
shift, up to :data:`SEARCH` pixels, that best aligns the dates
(:func:`~terrasight.tasks.change.methods.shifts.estimate_shift`) and fits on aligned
pixels; each pixel's ``Z`` is then the smallest over the shifts within t pixels
of that global shift, and the median calibration is done on that smallest
``Z`` over the sample windows (the statistic that is tested), at the cost of
eroding true changes by t pixels at their border. Measured: demo pair F1 0.05
-> 0.96; pooled F1 on the 13 AirChange test crops 0.306 -> 0.349 (registered
aerial pairs: precision 0.32 -> 0.28, recall 0.29 -> 0.47). When the best shift is :data:`SEARCH` pixels, the dates may be further
apart and the result warns (co-register them). Sub-pixel misregistration and
parallax are not modelled; ``tolerance=0`` is the textbook pixel-wise method.

The final no-change weights also give a relative radiometric normalisation
(per-band orthogonal regression over invariant pixels, see
:mod:`terrasight.tasks.change.methods.normalize`), kept in the fitted parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import special

from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option, pooled
from terrasight.tasks.change.methods.cca import iterate, median_scale
from terrasight.tasks.change.methods.cva import MAX_TOLERANCE, min_distance
from terrasight.tasks.change.methods.normalize import (
    Normalization,
    fit_normalization,
    restore_normalization,
)
from terrasight.tasks.change.methods.shifts import align, estimate_shift, moved
from terrasight.tasks.change.methods.threshold import otsu

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

MAX_PIXELS = 100_000
"""At most this many pooled pixels are used to fit (a deterministic random subset)."""

SIGNIFICANCE = 0.01
"""Default significance level: change when the no-change probability is below it."""

SEARCH = MAX_TOLERANCE + 1
"""Largest global misregistration looked for and corrected, in pixels (with a tolerance)."""

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
        tolerance: misregistration tolerance in pixels, 0 to :data:`MAX_TOLERANCE`
            (0 turns it off; see the module docstring).

    Example:
        >>> IRMADOptions.from_mapping({"threshold": "0.95", "max_iter": "10"})
        IRMADOptions(threshold=0.95, significance=0.01, max_iter=10, tol=0.0001, tolerance=1)
    """

    method: ClassVar[str] = "irmad"
    threshold: str | float = option(
        "significance", choices=("significance", "otsu"), low=0.0, high=1.0
    )
    significance: float = option(SIGNIFICANCE, low=0.0, high=1.0)
    max_iter: int = option(30, low=1)
    tol: float = option(1e-4, low=0.0)
    tolerance: int = option(1, low=0, high=MAX_TOLERANCE)


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
        tolerance: Misregistration tolerance in pixels (``Z`` is the smallest within it).
        shift: The ``(dy, dx)`` the statistics were fitted at (``before[r + dy, c + dx]``
            against ``after[r, c]``).
        warnings: What the user should know about the fit (e.g. a shift at the tolerance).
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
    tolerance: int = 0
    shift: tuple[int, int] = (0, 0)
    warnings: tuple[str, ...] = ()
    name: str = "irmad"

    @property
    def bands(self) -> int:
        """Number of bands."""
        return len(self.mean_before)

    @property
    def dof(self) -> int:
        """Degrees of freedom of ``Z``: the MADs that vary (``bands`` unless degenerate)."""
        return len(self.variances)

    def chi2(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray | None = None
    ) -> np.ndarray:
        """Calibrated sum of squared standardised MAD variates ``Z``, float32 ``(h, w)``.

        With a tolerance, the smallest ``Z`` over the before pixels up to
        ``tolerance`` pixels away (the canonical variates are shifted, not the bands);
        before pixels that are not ``valid`` or not finite are never the closest.
        """
        nb, h, w = before.shape
        if nb != self.bands or after.shape[0] != nb:
            raise ValueError(
                f"IR-MAD was fitted on {self.bands} bands, got {nb} and {after.shape[0]}"
            )
        x = before.reshape(nb, -1).astype(np.float32) - _vec(self.mean_before)[:, None]
        y = after.reshape(nb, -1).astype(np.float32) - _vec(self.mean_after)[:, None]
        sd = np.sqrt(_vec(self.variances))[:, None]
        u = np.einsum("kj,kn->jn", _mat(self.a, nb), x) / sd
        v = np.einsum("kj,kn->jn", _mat(self.b, nb), y) / sd
        k = u.shape[0]
        if self.tolerance or self.shift != (0, 0):
            u[:, ~np.isfinite(u).all(0)] = np.inf
            if valid is not None:
                u[:, ~valid.reshape(-1)] = np.inf
            v[~np.isfinite(v)] = 0.0
        u = moved(u.reshape(k, h, w), self.shift)
        dist = min_distance(u, v.reshape(k, h, w), self.tolerance)
        z = np.square(dist, out=dist)
        z *= np.float32(self.chi2_scale)
        return z

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            z = self.chi2(before, after, valid)
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
            "tolerance": self.tolerance,
            "shift": list(self.shift),
            "warnings": list(self.warnings),
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
    search = SEARCH if opts.tolerance else 0
    shift = estimate_shift(samples, search)
    x, y = pooled(align(samples, shift, search) or samples)
    if x.shape[0] < max(2, x.shape[1] + 1):
        raise ValueError(f"IR-MAD needs more valid pixels than bands, got {x.shape[0]}")
    x, y = _subsample(x, y, MAX_PIXELS)
    r = iterate(x, y, opts.max_iter, opts.tol)
    p = x.shape[1]
    fitted = FittedIRMAD(
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
        tolerance=int(opts.tolerance),
        shift=shift,
        warnings=_shift_warnings(shift),
    )
    return _calibrate_within_tolerance(fitted, samples, opts, float(r["cap"]))


def _calibrate_within_tolerance(
    fitted: FittedIRMAD, samples: Sequence[Sample], opts: IRMADOptions, cap: float
) -> FittedIRMAD:
    """Calibrate the statistic that is applied, the smallest ``Z`` within the tolerance,
    on the sample windows (unchanged when there is no tolerance or nothing varies), never
    past ``cap``, the factor that brings the MAD variances down to their floor."""
    if not opts.tolerance or not fitted.dof:
        return fitted
    raw = replace(fitted, chi2_scale=1.0)
    z = np.concatenate([raw.chi2(b, a, v)[v] for b, a, v in samples])
    z = z[np.isfinite(z)]
    scale = min(median_scale(z, fitted.dof), cap)
    threshold = _threshold(opts.threshold, opts.significance, scale * z, fitted.dof)
    return replace(fitted, chi2_scale=scale, threshold=threshold)


def _shift_warnings(shift: tuple[int, int]) -> tuple[str, ...]:
    """A warning when the best shift is the largest looked for (the dates may be further apart)."""
    if max(map(abs, shift)) < SEARCH:
        return ()
    return (
        f"irmad: the dates are misregistered by {abs(shift[0])} rows and {abs(shift[1])} "
        f"columns, the most it corrects ({SEARCH} pixels); they may be further apart, which "
        "turns edges into false change: co-register the dates",
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


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedIRMAD:
    """Rebuild a fitted IR-MAD from :meth:`FittedIRMAD.params` (``cache`` is not used)."""
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
        tolerance=int(params.get("tolerance", 0)),
        shift=(int(params.get("shift", (0, 0))[0]), int(params.get("shift", (0, 0))[1])),
        warnings=tuple(params.get("warnings", ())),
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
    overlap=SEARCH + MAX_TOLERANCE,
    min_bands=1,
)
