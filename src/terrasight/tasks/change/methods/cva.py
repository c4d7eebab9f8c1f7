"""Change vector analysis (CVA) with a significance test and, for two modes, Otsu.

Each date is standardised band by band, which removes most global
differences of light and season; the change magnitude is the Euclidean
distance between the two standardised vectors.

By default (``standardise="matched"``) the before date is standardised by its
mean and standard deviation and the after date through a per-band gain and
offset fitted on the pixels the pair agrees on, leaving out the pixels that do
not fit (:func:`~terrasight.tasks.change.methods.standardise.matched_gain`).
With ``standardise="mean"`` (the default until December 2026) each date is
standardised by its own scene-wide mean and standard deviation; then the
changes themselves (or an unmasked hazy cloud edge) shift that date's
statistics, a false gain between the dates: a ploughed 18 % of a scene of flat
fields raised the after date's red standard deviation from 11 to 34, every
unchanged pixel moved, and the noise floor with them (40 % ploughed: no change
found at all); a haze flags every bright pixel (a field of cumulus). See
:mod:`terrasight.tasks.change.methods.standardise`.

The threshold is a test against the pair's own noise: unchanged pixels'
squared magnitudes are modelled as a scaled chi-square (degrees of freedom
from the correlation of the band differences, scale from the median
magnitude, so it assumes fewer than half of the pixels changed), and the
noise floor is its ``1 - significance`` quantile. The threshold is the larger
of the floor and a cut of the magnitudes (``threshold``, below): Otsu splits
any histogram, even one with nothing to split (it flagged all of an identical
pair and a quarter of a pair that differs by a gain and noise), so it only
ever raises the threshold above the floor, where a scene's change forms its
own mode or its unchanged texture is heavier-tailed than sensor noise. (Using
Otsu only when the histogram is bimodal by Otsu's separability measure scored
lower: pooled AirChange F1 0.336 against 0.342, demo pair 0.86 against 0.94,
with the mean statistics.) So two identical images, or two that differ only
by a gain and sensor noise, give no change.

The cut is ``threshold="two-step"`` by default
(:func:`~terrasight.tasks.change.methods.cuts.two_step`): Otsu's cut, lowered
to Otsu's cut of the magnitudes below it where the part above is under 5 % of
the pixels and the part below is clearly two modes. With the after date
matched to the before date one very large change (a new roof on sand) can
carry Otsu's cut above every moderate one (two lawns that changed colour):
Otsu alone then finds the roof only. On the real pairs measured (AirChange,
Nanjing, Bern, Sulzberger, 9 OSCD cities) and the demo pair the two cuts gave
the same masks (``benchmarks/results/change_cut.json``); ``threshold="otsu"``
is the cut of the versions before.

The probability is a logistic of the magnitude centred on the
threshold, so ``probability >= 0.5`` is exactly the mask.

Small misregistration between dates lights up every sharp edge (field borders,
coast lines) as change. With ``tolerance`` t > 0 each after pixel is compared
with the closest match among the before pixels up to t pixels away (the
minimum distance over the (2t+1)^2 shifts), which removes those edge
artefacts at the cost of eroding true changes by t pixels at their border.
A whole date offset by a pixel or two (a common co-registration error of
satellite pairs) is found first (``coregister``, on by default): the integer
shift up to :data:`MAX_TOLERANCE` px that best aligns the dates
(:func:`~terrasight.tasks.change.methods.shifts.estimate_shift`) is applied to
the before date before anything is compared, and a warning names it. Without it
a Sentinel-2 pair one pixel apart gave 1,044 change objects (2.1% of the scene,
"Many lakes disappear across the scene") where nothing had changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from terrasight.tasks.change.methods import cuts, nochange
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option, pooled
from terrasight.tasks.change.methods.shifts import coregistered, moved, shift_warnings
from terrasight.tasks.change.methods.standardise import (
    STANDARDISE,
    standardisation,
)
from terrasight.tasks.change.methods.standardise import centre_scale as centre_scale
from terrasight.tasks.change.methods.standardise import matched_gain as matched_gain

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

MAX_TOLERANCE = 2
"""Largest misregistration tolerance, in pixels (also the windows' overlap)."""

SIGNIFICANCE = 0.001
"""Default significance level of the no-change test (share of unchanged pixels flagged)."""

DENSE_SHARE = 0.05
"""Above this share of pixels near the threshold, the tolerance is computed for the whole window."""


@dataclass(frozen=True)
class CVAOptions(MethodOptions):
    """Options of ``cva`` (``-O tolerance=0`` on the command line).

    Attributes:
        tolerance: misregistration tolerance in pixels, 0 to :data:`MAX_TOLERANCE`
            (0 turns it off).
        significance: share of unchanged pixels the noise floor lets through
            (smaller: fewer false alarms, weaker changes missed).
        otsu: raise the threshold to Otsu's cut when that is higher than the noise
            floor (the default). Off, the threshold is the noise floor alone: more
            weak changes and more noise, for callers that confirm each change
            elsewhere (a series of dates: :mod:`terrasight.tasks.series.dating`).
        standardise: ``"matched"`` (the default): the before date's mean and standard
            deviation, the after date's matched to them on the pixels the pair agrees
            on (:func:`matched_gain`); ``"mean"``: each date's bands centred on their
            own mean and divided by their own standard deviation (biased by the change
            itself; the default until December 2026).
        coregister: find a global shift of the after date of up to
            :data:`MAX_TOLERANCE` px and compare at it (the default); off, pixels are
            compared where they lie.
        threshold: the cut the noise floor is raised to (with ``otsu`` on): ``"two-step"``
            (the default: Otsu's, lowered below one very large change), ``"otsu"`` (Otsu's
            over all magnitudes, the default until December 2026), ``"ki"`` or
            ``"three-class"`` (:mod:`~terrasight.tasks.change.methods.cuts`).

    Example:
        >>> opts = CVAOptions.from_mapping({"tolerance": "0", "threshold": "two-step"})
        >>> opts.tolerance, opts.standardise, opts.threshold, opts.coregister
        (0, 'matched', 'two-step', True)
    """

    method: ClassVar[str] = "cva"
    tolerance: int = option(1, low=0, high=MAX_TOLERANCE)
    significance: float = option(SIGNIFICANCE, low=1e-12, high=0.5)
    otsu: bool = option(True)
    standardise: str = option("matched", choices=STANDARDISE)
    coregister: bool = option(True)
    threshold: str = option("two-step", choices=cuts.CUTS)


@dataclass(frozen=True)
class FittedCVA:
    """CVA fitted to one pair: per-band statistics of each date and the threshold.

    ``mean_*`` and ``std_*`` are the centre and spread each date is standardised
    with (with ``standardise="matched"``, the after date's are the before date's
    through the matched gain and offset).
    """

    mean_before: tuple[float, ...]
    std_before: tuple[float, ...]
    mean_after: tuple[float, ...]
    std_after: tuple[float, ...]
    magnitude_threshold: float
    magnitude_scale: float
    tolerance: int = 1
    noise_floor: float = 0.0
    shift: tuple[int, int] = (0, 0)
    cut: str = ""
    """The cut the noise floor was raised to (``"floor"`` when it was not raised)."""
    name: str = "cva"
    threshold: float = 0.5

    def magnitude(
        self, before: np.ndarray, after: np.ndarray, cutoff: float | None = None
    ) -> np.ndarray:
        """Distance between the standardised dates, float32 ``(h, w)``.

        With a tolerance, the neighbourhood minimum is computed only where the
        plain distance reaches ``cutoff`` (everywhere when None): elsewhere the
        plain distance, already below the cutoff, is kept.
        """
        nb = before.shape[0]
        before = moved(before, self.shift)
        mb, sb = _col(self.mean_before, nb), _col(self.std_before, nb)
        ma, sa = _col(self.mean_after, nb), _col(self.std_after, nb)
        b, a = (before - mb) / sb, (after - ma) / sa
        if cutoff is None:
            return min_distance(b, a, self.tolerance)
        mag = min_distance(b, a, 0)
        if self.tolerance:
            near = mag >= cutoff
            if np.count_nonzero(near) > DENSE_SHARE * near.size:
                # Many candidates: shifted slices of the whole window cost less than
                # gathering each candidate's neighbours (the same values either way).
                np.copyto(mag, min_distance(b, a, self.tolerance), where=near)
            else:
                rows, cols = np.nonzero(near)
                mag[rows, cols] = _min_distance_at(b, a, rows, cols, self.tolerance)
        return mag

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        # Pixels more than 4 scales below the threshold have p < 0.02 either way.
        cutoff = self.magnitude_threshold - 4 * self.magnitude_scale
        mag = self.magnitude(before, after, cutoff)
        return _sigmoid((mag - self.magnitude_threshold) / self.magnitude_scale)

    def params(self) -> dict[str, Any]:
        return {
            "mean_before": list(self.mean_before),
            "std_before": list(self.std_before),
            "mean_after": list(self.mean_after),
            "std_after": list(self.std_after),
            "magnitude_threshold": self.magnitude_threshold,
            "magnitude_scale": self.magnitude_scale,
            "tolerance": self.tolerance,
            "noise_floor": self.noise_floor,
            "shift": list(self.shift),
            "cut": self.cut,
            "warnings": list(shift_warnings(self.name, self.shift)),
        }


def min_distance(before: np.ndarray, after: np.ndarray, tolerance: int) -> np.ndarray:
    """Per pixel, the smallest Euclidean distance from ``after`` to ``before`` within ``tolerance`` px.

    Example:
        >>> b = np.zeros((1, 1, 3), np.float32)
        >>> b[0, 0, 0] = 5
        >>> a = np.roll(b, 1, axis=2)
        >>> min_distance(b, a, 0).tolist(), min_distance(b, a, 1).tolist()
        ([[5.0, 5.0, 0.0]], [[0.0, 0.0, 0.0]])
    """
    if tolerance <= 0:
        diff = after - before
        return np.sqrt(np.einsum("bij,bij->ij", diff, diff, dtype=np.float32))
    t = tolerance
    _, h, w = after.shape
    padded = np.pad(before, ((0, 0), (t, t), (t, t)), mode="edge")
    best = None
    for dy in range(2 * t + 1):
        for dx in range(2 * t + 1):
            diff = after - padded[:, dy : dy + h, dx : dx + w]
            sq = np.einsum("bij,bij->ij", diff, diff, dtype=np.float32)
            best = sq if best is None else np.minimum(best, sq, out=best)
    assert best is not None
    return np.sqrt(best, out=best)


def _min_distance_at(
    before: np.ndarray, after: np.ndarray, rows: np.ndarray, cols: np.ndarray, tolerance: int
) -> np.ndarray:
    """:func:`min_distance` at the pixels ``(rows, cols)`` only."""
    t = tolerance
    _, h, w = after.shape
    a = after[:, rows, cols]
    best = np.full(rows.shape, np.inf, dtype=np.float32)
    for dy in range(-t, t + 1):
        rr = np.clip(rows + dy, 0, h - 1)
        for dx in range(-t, t + 1):
            diff = a - before[:, rr, np.clip(cols + dx, 0, w - 1)]
            np.minimum(best, np.einsum("bk,bk->k", diff, diff, dtype=np.float32), out=best)
    return np.sqrt(best)


def _col(values: Sequence[float], n: int) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(n, 1, 1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z, dtype=np.float32)
    np.negative(z, out=out)
    np.clip(out, -60, 60, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out


def fit(
    samples: Sequence[Sample],
    band_names: Sequence[str] = (),
    options: CVAOptions | None = None,
) -> FittedCVA:
    """Fit CVA on sample windows: per-band statistics, noise floor and threshold.

    Args:
        samples: ``(before, after, valid)`` windows spread over the scene.
        band_names: unused (CVA works on any bands).
        options: tolerance, significance, Otsu and standardisation (:class:`CVAOptions`);
            the defaults when None.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> before = rng.normal(100, 10, (3, 32, 32)).astype(np.float32)
        >>> after = before.copy()
        >>> after[:, :8, :8] += 80
        >>> valid = np.ones((32, 32), bool)
        >>> fitted = fit([(before, after, valid)], options=CVAOptions(tolerance=0))
        >>> mask = fitted.probability(before, after, valid) >= fitted.threshold
        >>> bool(mask[:8, :8].all()), int(mask.sum())
        (True, 64)
        >>> noisy = before + rng.normal(0, 2, before.shape).astype(np.float32)
        >>> fitted = fit([(before, noisy, valid)])
        >>> int((fitted.probability(before, noisy, valid) >= fitted.threshold).sum())
        0
    """
    opts = options or CVAOptions()
    shift, samples = coregistered(samples, MAX_TOLERANCE if opts.coregister else 0)
    b, a = pooled(samples, max_pixels=1_000_000)
    if b.shape[0] < 2:
        raise ValueError("CVA needs at least two valid pixels")
    centre_b, scale_b, centre_a, scale_a = standardisation(b, a, opts.standardise)
    stats = FittedCVA(
        tuple(map(float, centre_b)),
        tuple(map(float, scale_b)),
        tuple(map(float, centre_a)),
        tuple(map(float, scale_a)),
        0.0,
        1.0,
        int(opts.tolerance),
    )
    # the samples are aligned already: their magnitudes are measured without the shift
    mag = np.concatenate([stats.magnitude(sb, sa)[v] for sb, sa, v in samples])
    diff = (a - centre_a) / scale_a - (b - centre_b) / scale_b
    dof = nochange.effective_dof(diff, np.sqrt((diff * diff).sum(1)))
    step = nochange.one_count_sq(b, a, scale_b, scale_a)
    floor = nochange.noise_floor(mag, dof, opts.significance, step)
    threshold = cuts.cut(mag, floor, opts.threshold) if opts.otsu else floor
    return replace(
        stats,
        magnitude_threshold=max(threshold, nochange.EPSILON),
        magnitude_scale=max(float(mag.std()) / 4.0, 1e-6),
        noise_floor=floor,
        shift=shift,
        cut=opts.threshold if opts.otsu and threshold > floor else "floor",
    )


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedCVA:
    """Rebuild a fitted CVA from :meth:`FittedCVA.params` (``cache`` is not used)."""
    return FittedCVA(
        tuple(params["mean_before"]),
        tuple(params["std_before"]),
        tuple(params["mean_after"]),
        tuple(params["std_after"]),
        float(params["magnitude_threshold"]),
        float(params["magnitude_scale"]),
        int(params.get("tolerance", 0)),
        float(params.get("noise_floor", 0.0)),
        tuple(params.get("shift", (0, 0))),
        str(params.get("cut", "")),
    )


SPEC = MethodSpec(
    name="cva",
    fit=fit,
    restore=restore,
    description=(
        "change vector analysis on standardised bands, threshold tested against the pair's "
        "noise (any sensor)"
    ),
    options=CVAOptions,
    overlap=2 * MAX_TOLERANCE,  # a shift and a tolerance
)
