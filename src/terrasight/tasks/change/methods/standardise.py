"""How change vector analysis puts two dates on one scale: per-band centre and spread.

Each date's bands are centred and divided by a spread before the dates are
compared (:mod:`terrasight.tasks.change.methods.cva`). Two ways:

* ``"mean"``: each date by its own scene-wide mean and standard deviation.
  The change itself enters those statistics: a ploughed fifth of a scene of
  flat fields raised the after date's red standard deviation from 11 to 34,
  which shifted every unchanged pixel (a false change everywhere) and raised
  the noise floor with it; a haze on one date does the same to bright pixels.
* ``"matched"``: the before date's mean and standard deviation, and the after
  date's through a per-band gain and offset fitted on the pixels the pair
  agrees on (:func:`matched_gain`), so an unchanged pixel standardises alike
  in both dates whatever changed elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

IQR_TO_STD = 1.349
"""Inter-quartile range of a normal distribution, in standard deviations."""

STANDARDISE = ("mean", "matched")
"""Per-date standardisation (``CVAOptions.standardise``)."""


def _safe_std(x: np.ndarray) -> np.ndarray:
    s = x.std(axis=0)
    return np.where(s > 1e-12, s, 1.0)


def centre_scale(x: np.ndarray, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Per-band centre and spread of pixels ``x`` ``(n, bands)``: mean and standard deviation,
    or (``"robust"``) median and inter-quartile range / :data:`IQR_TO_STD`.

    A robust spread of 0 (over half the pixels equal) falls back to the standard
    deviation, and a spread of 0 to 1.

    Example:
        >>> x = np.array([[1.0], [2.0], [3.0], [4.0], [1000.0]])
        >>> [round(float(v[0]), 2) for v in centre_scale(x)]
        [202.0, 399.0]
        >>> [round(float(v[0]), 2) for v in centre_scale(x, "robust")]
        [3.0, 1.48]
    """
    if how == "mean":
        return x.mean(0), _safe_std(x)
    q25, centre, q75 = np.percentile(x, [25, 50, 75], axis=0)
    spread = (q75 - q25) / IQR_TO_STD
    return centre, np.where(spread > 1e-12, spread, _safe_std(x))


def standardisation(
    before: np.ndarray, after: np.ndarray, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre and spread of each date's bands: ``(centre_b, scale_b, centre_a, scale_a)``.

    ``"matched"``: the before date's mean and standard deviation, and the after
    date's from a per-band gain and offset matched on the pixels that fit it
    (:func:`matched_gain`), so an unchanged pixel standardises alike in both dates.

    Example:
        >>> b = np.arange(100.0).reshape(50, 2)
        >>> a = 2 * b + 1
        >>> a[:10] = 500.0  # a fifth of the pixels changed
        >>> [np.round(v, 2).tolist() for v in standardisation(b, a, "matched")[2:]]
        [[99.0, 101.0], [57.72, 57.72]]
    """
    if how != "matched":
        return (*centre_scale(before), *centre_scale(after))
    centre_b, scale_b = centre_scale(before, "mean")
    gain, offset = matched_gain(before, after, scale_b)
    return centre_b, scale_b, gain * centre_b + offset, gain * scale_b


Start = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _spread_start(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gain from the ratio of robust spreads, offset from the medians."""
    centre_b, scale_b = centre_scale(before, "robust")
    centre_a, scale_a = centre_scale(after, "robust")
    gain = scale_a / scale_b
    return gain, centre_a - gain * centre_b


def _unit_start(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gain 1, offset the median difference: the light did not change."""
    return np.ones(before.shape[1]), np.median(after - before, axis=0)


STARTS: tuple[Start, ...] = (_spread_start, _unit_start)
"""The first guesses :func:`matched_gain` refines (the first wins ties)."""


def matched_gain(
    before: np.ndarray, after: np.ndarray, scale: np.ndarray, rounds: int = 3, cut: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band ``gain, offset`` with ``after ~ gain * before + offset`` on pixels that agree.

    Refines each first guess of :data:`STARTS` (the ratio of robust spreads;
    gain 1) by :func:`_refine` and keeps the fit with the smallest median
    squared residual over all pixels (least median of squares: the relation
    most pixels agree on, right while fewer than half of them changed). The
    spread ratio alone is pulled by the change: where the changed pixels were
    one colour and outnumber each unchanged colour (40 % of a scene of flat
    fields ploughed), its refinement settled on the change.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> b = rng.gamma(2.0, 300.0, (5000, 1))
        >>> a = 0.9 * b + 40 + rng.normal(0, 5, b.shape)
        >>> a[:400] = 5000.0  # a haze over 8% of the pixels
        >>> gain, offset = matched_gain(b, a, b.std(0))
        >>> round(float(gain[0]), 2), round(float(offset[0]) / 10) * 10
        (0.9, 40)
    """
    spread = _safe_std(after)
    best, best_score = None, np.inf
    for start in STARTS:
        gain, offset = _refine(before, after, scale, *start(before, after), rounds, cut)
        residual = ((after - gain * before - offset) / spread) ** 2
        score = float(np.median(residual.sum(axis=1)))
        if best is None or score < best_score:
            best, best_score = (gain, offset), score
    assert best is not None
    return best


def _refine(
    before: np.ndarray,
    after: np.ndarray,
    scale: np.ndarray,
    gain: np.ndarray,
    offset: np.ndarray,
    rounds: int,
    cut: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``rounds`` times, keep the pixels whose residuals (in units of ``scale``) lie within
    ``cut`` robust deviations of the median in every band, and refit on them (the ratio of
    standard deviations and the difference of means: symmetric in the dates, unbiased by
    noise in both). Changed or hazy pixels are left out; the gain is held by all others,
    bright ones included."""
    for _ in range(rounds):
        z = (after - gain * before - offset) / (gain * scale)
        dev = np.abs(z - np.median(z, axis=0))
        spread = np.maximum(np.median(dev, axis=0) * 1.4826, 1e-9)
        keep = (dev <= cut * spread).all(axis=1)
        if keep.sum() < 2:
            break
        kb, ka = before[keep], after[keep]
        gain = _safe_std(ka) / _safe_std(kb)
        offset = ka.mean(0) - gain * kb.mean(0)
    return gain, offset
