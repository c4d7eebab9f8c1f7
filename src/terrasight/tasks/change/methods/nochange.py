"""When a pair has no change to find, or no answer to give.

Two things a change job must not get wrong, whatever the method:

* a date that is blank or constant (all zeros without a nodata value, a
  failed export, a fill value) cannot be compared: it is "no answer", not "no
  change" and not "half the scene changed". :func:`input_issues` finds it in
  the fit sample (per-band standard deviation of each date about 0);
  :class:`NoAnswer` then stands in for the fitted method, so the mask holds no
  change and the result is flagged unreliable with the reason;
* a pair that differs only by light, gain or sensor noise has no change. The
  classical methods' thresholds come from a significance test against the
  noise of the pair (:func:`noise_floor`) and are never below it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from terrasight.tasks.change.methods.base import FittedChange, MethodSpec, Sample, pooled

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

INPUT_ISSUES = "input_issues"
"""Key of the fitted parameters that holds the reasons a date cannot be compared."""

CONSTANT_STD = 1e-6
"""A band whose standard deviation is at most this times ``max(1, |mean|)`` is constant."""

CHECK_PIXELS = 200_000
"""Pixels (a regular subset of the fit sample) the checks for constant dates look at."""

QUIET_STEPS = 3
"""Where over half the pixels are identical, their noise is at most this many counts per band."""

EPSILON = 1e-3
"""Smallest threshold in noise units: identical pixels (distance 0) are never changed."""


def input_issues(samples: Sequence[Sample], band_names: Sequence[str] = ()) -> list[str]:
    """Why the pair cannot be compared at all: one sentence per constant date, or ``[]``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> b = rng.normal(100, 10, (2, 8, 8)).astype(np.float32)
        >>> input_issues([(b, np.zeros_like(b), np.ones((8, 8), bool))])[0][:40]
        'the after image is constant (every band '
        >>> input_issues([(b, b + 1, np.ones((8, 8), bool))])
        []
    """
    before, after = pooled(samples, max_pixels=CHECK_PIXELS)
    issues = []
    for which, pixels in (("before", before), ("after", after)):
        if pixels.shape[0] == 0 or not constant_bands(pixels).all():
            continue
        values = ", ".join(f"{v:g}" for v in pixels[0])
        issues.append(
            f"the {which} image is constant (every band the same value over the sampled "
            f"windows: {values}): there is nothing to compare, so no change was reported; "
            "check that the file holds data and set its nodata value (--nodata)"
        )
    return issues


def constant_windows(samples: Sequence[Sample]) -> list[str]:
    """Warnings for a date that is constant over some sampled windows but not all of them.

    A blank part of an image (a fill value without nodata, a partly failed
    export) differs from the other date everywhere: what is found there is not
    change. Windows with fewer than 64 valid pixels (on a regular subset of
    about :data:`CHECK_PIXELS` in all) are not counted.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> b = rng.normal(100, 10, (2, 16, 16)).astype(np.float32)
        >>> v = np.ones((16, 16), bool)
        >>> constant_windows([(b, b, v), (b, np.zeros_like(b), v)])[0][:52]
        'the after image is constant over 1 of 2 sampled wind'
    """
    step = max(1, round(math.sqrt(sum(v.size for *_, v in samples) / CHECK_PIXELS)))
    counted = []
    for b, a, v in samples:
        b, a, v = b[:, ::step, ::step], a[:, ::step, ::step], v[::step, ::step]
        if v.sum() >= 64:
            counted.append((b[:, v].T, a[:, v].T))
    warnings = []
    for index, which in ((0, "before"), (1, "after")):
        flat = sum(bool(constant_bands(pair[index]).all()) for pair in counted)
        if 0 < flat < len(counted):
            warnings.append(
                f"the {which} image is constant over {flat} of {len(counted)} sampled windows "
                "(a blank or filled part?): differences there are not change; set its nodata "
                "value (--nodata) so that part is left out"
            )
    return warnings


def constant_bands(pixels: np.ndarray) -> np.ndarray:
    """Which columns of ``(n, bands)`` pixels are constant, bool ``(bands,)``.

    Example:
        >>> constant_bands(np.array([[1.0, 5.0], [2.0, 5.0]])).tolist()
        [False, True]
    """
    scale = np.maximum(1.0, np.abs(pixels.mean(axis=0)))
    return pixels.std(axis=0) <= CONSTANT_STD * scale


class NoAnswer:
    """Stands in for a fitted method when a date is constant: no pixel is changed.

    Example:
        >>> na = NoAnswer("cva", 0.5, {"tolerance": 1})
        >>> float(na.probability(np.ones((1, 2, 2)), np.ones((1, 2, 2)), np.ones((2, 2), bool)).max())
        0.0
    """

    def __init__(self, name: str, threshold: float, params: dict[str, Any]) -> None:
        self.name = name
        self.threshold = threshold
        self._params = dict(params)

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Zeros, float32 ``(h, w)``."""
        return np.zeros(before.shape[1:], np.float32)

    def params(self) -> dict[str, Any]:
        """The parameters of the method it stands in for."""
        return dict(self._params)


def noise_floor(
    distance: np.ndarray, dof: float, significance: float, step_sq: float = 0.0
) -> float:
    """The distance no unchanged pixel exceeds, at ``significance``, in ``distance``'s units.

    Unchanged pixels' squared distances are modelled as ``c * chi2(dof)``; ``c``
    comes from their median (robust while fewer than half of the pixels
    changed), or a higher quantile when most distances are exactly 0. Where most
    are exactly 0 the dates are identical there, and a higher quantile may lie in
    the change itself (a new lake on 14 % of an otherwise identical scene): with
    ``step_sq``, the squared distance of one step of the data (one count) in
    every band, ``c`` is then held to at most :data:`QUIET_STEPS` steps per band.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = np.sqrt((rng.normal(0, 2, (100_000, 3)) ** 2).sum(1))
        >>> t = noise_floor(d, 3, 0.001)
        >>> round(t, 1), float((d > t).mean()) < 0.002
        (8.1, True)
    """
    sq = np.asarray(distance, np.float64).ravel() ** 2
    for q in (0.5, 0.75, 0.9):
        level = float(np.quantile(sq, q))
        if level > 0:
            c = level / (2 * float(special.gammaincinv(dof / 2, q)))
            if q > 0.5 and step_sq > 0:
                c = min(c, QUIET_STEPS**2 * step_sq / dof)
            return float(np.sqrt(c * 2 * special.gammainccinv(dof / 2, significance)))
    return 0.0


def one_count_sq(
    before: np.ndarray, after: np.ndarray, scale_b: np.ndarray, scale_a: np.ndarray
) -> float:
    """Squared standardised distance of one count in every band, or 0 unless both dates'
    pixels ``(n, bands)`` are whole numbers (then a step of the data is known).

    Example:
        >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> two = np.array([2.0, 2.0])
        >>> one_count_sq(x, x, two, two), one_count_sq(x + 0.5, x, two, two)
        (0.5, 0.0)
    """
    if not (np.all(before == np.round(before)) and np.all(after == np.round(after))):
        return 0.0
    per_band = (1 / np.square(scale_b) + 1 / np.square(scale_a)) / 2
    return float(np.sum(per_band))


def effective_dof(diff: np.ndarray, distance: np.ndarray) -> float:
    """Degrees of freedom of ``sum(diff**2)`` for correlated bands (Satterthwaite), from 1.

    Estimated on the pixels at or below the median ``distance`` (mostly unchanged).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(10_000, 1))
        >>> d = np.hstack([x, x, x])  # three copies of one band: one degree of freedom
        >>> round(effective_dof(d, np.abs(x[:, 0])), 6)
        1.0
    """
    calm = diff[distance <= np.median(distance)]
    if calm.shape[0] < 2:
        return float(diff.shape[1])
    lam = np.clip(
        np.linalg.eigvalsh(np.cov(calm, rowvar=False).reshape(diff.shape[1], -1)), 0, None
    )
    if lam.sum() <= 0:
        return float(diff.shape[1])
    return float(np.clip(lam.sum() ** 2 / (lam**2).sum(), 1.0, diff.shape[1]))


def fit_checked(
    spec: MethodSpec, samples: Sequence[Sample], band_names: Sequence[str], options: Any
) -> dict[str, Any]:
    """The method's fitted parameters, or only the reasons when a date is constant.

    The reasons (:func:`input_issues`) are kept under :data:`INPUT_ISSUES`, and
    warnings about dates constant over some windows (:func:`constant_windows`)
    are added to the method's ``"warnings"``, so a resumed job knows them
    without reading the sample again.

    Example:
        >>> from terrasight.tasks.change.methods.registry import get_method
        >>> b = np.random.default_rng(0).normal(9, 1, (1, 8, 8)).astype(np.float32)
        >>> sample = [(b, np.zeros_like(b), np.ones((8, 8), bool))]
        >>> list(fit_checked(get_method("cva"), sample, ["b1"], None))
        ['input_issues']
    """
    issues = input_issues(samples, band_names)
    if issues:
        return {INPUT_ISSUES: issues}
    params = spec.fit(samples, band_names, options).params()
    if partial := constant_windows(samples):
        params["warnings"] = [*params.get("warnings", ()), *partial]
    return params


def restore_checked(
    spec: MethodSpec, params: dict[str, Any], cache: ModelCache | None
) -> FittedChange:
    """The fitted method from :func:`fit_checked`'s parameters (:class:`NoAnswer` for a constant date).

    Example:
        >>> from terrasight.tasks.change.methods.registry import get_method
        >>> restore_checked(get_method("cva"), {INPUT_ISSUES: ["blank"]}, None).name
        'cva'
    """
    if params.get(INPUT_ISSUES):
        return NoAnswer(spec.name, 0.5, params)
    return spec.restore(params, cache)


def warnings_of(params: dict[str, Any]) -> tuple[str, ...]:
    """The warnings a fitted method keeps in its parameters (key ``"warnings"``), or ``()``.

    Example:
        >>> warnings_of({"warnings": ["the dates are misregistered"]})
        ('the dates are misregistered',)
    """
    return tuple(params.get("warnings", ()))


def issues_of(params: dict[str, Any]) -> tuple[str, ...]:
    """The reasons stored by :func:`fit_checked` (``()`` when the dates could be compared).

    Example:
        >>> issues_of({INPUT_ISSUES: ["the after image is constant"]})
        ('the after image is constant',)
    """
    return tuple(params.get(INPUT_ISSUES, ()))
