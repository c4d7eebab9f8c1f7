"""Change in SAR amplitude or intensity: speckle filter, log-ratio, minimum-error threshold.

Radar images carry speckle, a multiplicative noise: two acquisitions of an
unchanged field differ by a random factor, so differences of values are
meaningless and ratios are the usual test (Rignot and van Zyl 1993). Each date
is filtered against speckle first (a Lee filter by default, Lee 1980; or a
median or mean filter), then the log of the ratio of the two filtered dates is
taken band by band (natural log of the linear values; data in dB are turned
into linear intensity first, so dB and linear inputs give the same ratios).

The log-ratio of each band is centred on its median over the fit sample (a
calibration or contrast difference between the dates cancels out; it assumes
fewer than half of the pixels changed) and divided by its robust spread
(median absolute deviation). With two polarisations (VV/VH, HH/HV) the change
statistic ``d`` is the root mean square over the bands of the standardised
log-ratio: its absolute value (``direction="both"``), its positive part
(``"increase"``: brighter backscatter, e.g. new buildings) or its negative part
(``"decrease"``: darker, e.g. flooding).

The threshold on ``d`` is Kittler and Illingworth's minimum-error cut
(``threshold="ki"``, the usual one on SAR log-ratios, Bazi et al. 2005), or
Otsu's, but never below a noise floor: the ``1 - significance`` quantile of
``d`` for unchanged pixels, taken as standard normal per band. Like Otsu, KI
splits any histogram, even a pair with no change; the floor keeps a pair that
differs only by speckle and a gain from being called changed. Two identical
dates (a log-ratio of exactly 0) give no change and a note saying so.

The probability is a logistic of ``d`` centred on the threshold, so
``probability >= 0.5`` is exactly the mask. Windows get :data:`MAX_FILTER`
``// 2`` pixels of context, so the filter is the same across window borders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import ndimage, special

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option, pooled
from terrasight.tasks.change.methods.threshold import kittler_illingworth, otsu

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

FILTERS = ("lee", "median", "mean", "none")
"""Speckle filters (:class:`SAROptions`)."""
SCALES = ("auto", "linear", "db")
"""How the values are coded: ``auto`` takes dB when the sample holds negative values."""
DIRECTIONS = ("both", "increase", "decrease")
"""Which changes of backscatter count."""
THRESHOLDS = ("ki", "otsu", "floor")
"""Thresholds: Kittler-Illingworth minimum error, Otsu, or the noise floor alone."""
MAX_FILTER = 11
"""Largest filter window in pixels (its half is the windows' context)."""
SIGNIFICANCE = 0.001
"""Default share of unchanged pixels the noise floor lets through."""
MAD_TO_STD = 1.4826
"""Median absolute deviation of a normal distribution, in standard deviations."""
MAX_PIXELS = 1_000_000
MIN_CHANGE_DB = 1.0
"""Default smallest change counted, in dB (a ratio of 1.26)."""
MIN_TAIL = 50
"""Fewest pixels above the noise floor to fit a minimum-error cut on (else the floor)."""


@dataclass(frozen=True)
class SAROptions(MethodOptions):
    """Options of ``sar`` (``-O filter_size=7 -O direction=decrease`` on the command line).

    Attributes:
        filter: speckle filter, ``"lee"``, ``"median"``, ``"mean"`` or ``"none"``.
        filter_size: its window in pixels, odd, 1 to :data:`MAX_FILTER`.
        scale: ``"auto"`` (dB when the data hold negative values), ``"linear"``
            (amplitude or intensity) or ``"db"``.
        direction: ``"both"``, ``"increase"`` (brighter after) or ``"decrease"``.
        threshold: ``"ki"`` (minimum error on the pixels above the noise floor),
            ``"otsu"`` (never below the floor), or ``"floor"`` (the noise floor alone:
            more weak changes, more false alarms). When a change covers most of the
            pixels above the floor, KI can split the change itself and miss part
            of it; this was seen with 3 px filters on 4-look speckle, not with the
            default 5 px.
        significance: share of unchanged pixels the noise floor lets through.
        min_change_db: the smallest change counted, in dB of the values' ratio
            (``10 log10(after / before)``); SAR calibration is good to about a dB,
            and a pair whose noise is additive rather than speckle (an optical pair,
            dark pixels) would otherwise pass the test with tiny ratios.

    Example:
        >>> SAROptions.from_mapping({"filter_size": "7", "direction": "decrease"}).filter_size
        7
    """

    method: ClassVar[str] = "sar"
    filter: str = option("lee", choices=FILTERS)
    filter_size: int = option(5, low=1, high=MAX_FILTER)
    scale: str = option("auto", choices=SCALES)
    direction: str = option("both", choices=DIRECTIONS)
    threshold: str = option("ki", choices=THRESHOLDS)
    significance: float = option(SIGNIFICANCE, low=1e-12, high=0.5)
    min_change_db: float = option(MIN_CHANGE_DB, low=0.0, high=20.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filter_size % 2 == 0:
            raise InvalidOptionError(
                f"option 'filter_size' of change method 'sar' must be odd (1, 3, 5, ... "
                f"{MAX_FILTER}), not {self.filter_size}."
            )


@dataclass(frozen=True)
class FittedSAR:
    """The SAR log-ratio test fitted to one pair (see the module docstring)."""

    db: bool
    offset: float
    filter: str
    filter_size: int
    noise_cv2: tuple[float, ...]
    centre: tuple[float, ...]
    spread: tuple[float, ...]
    direction: str
    magnitude_threshold: float
    magnitude_scale: float
    noise_floor: float = 0.0
    warnings: tuple[str, ...] = ()
    name: str = "sar"
    threshold: float = 0.5

    def log_ratio(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Log-ratio ``ln(after / before)`` of the filtered dates, float32 ``(bands, h, w)``."""
        fb = self._filtered(before, valid)
        fa = self._filtered(after, valid)
        return np.log(fa) - np.log(fb)

    def statistic(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The change statistic ``d`` (standardised, directed, RMS over bands), float32 ``(h, w)``."""
        lr = self.log_ratio(before, after, valid)
        nb = lr.shape[0]
        z = (lr - _col(self.centre, nb)) / _col(self.spread, nb)
        if self.direction == "increase":
            z = np.maximum(z, 0)
        elif self.direction == "decrease":
            z = np.maximum(-z, 0)
        return np.sqrt(np.mean(np.square(z), axis=0)).astype(np.float32)

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        d = self.statistic(before, after, valid)
        z = np.clip((d - self.magnitude_threshold) / self.magnitude_scale, -60, 60)
        p = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        p[~valid] = 0.0
        return p

    def _filtered(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        x = image.astype(np.float32)
        if self.db:
            x = np.power(np.float32(10.0), x / np.float32(10.0))
        x = np.maximum(x, 0) + np.float32(self.offset)
        x = _fill_invalid(x, valid)
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = speckle_filter(x[i], self.filter, self.filter_size, self.noise_cv2[i])
        return np.maximum(out, np.float32(self.offset))

    def params(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "offset": self.offset,
            "filter": self.filter,
            "filter_size": self.filter_size,
            "noise_cv2": list(self.noise_cv2),
            "centre": list(self.centre),
            "spread": list(self.spread),
            "direction": self.direction,
            "magnitude_threshold": self.magnitude_threshold,
            "magnitude_scale": self.magnitude_scale,
            "noise_floor": self.noise_floor,
            "warnings": list(self.warnings),
        }


def _col(values: Sequence[float], n: int) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(n, 1, 1)


def _fill_invalid(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Invalid or non-finite pixels replaced by the band's median of the valid ones."""
    bad = ~valid[None] | ~np.isfinite(x)
    if not bad.any():
        return x
    x = x.copy()
    for i in range(x.shape[0]):
        good = x[i][~bad[i]]
        x[i][bad[i]] = float(np.median(good)) if good.size else 1.0
    return x


def speckle_filter(band: np.ndarray, kind: str, size: int, noise_cv2: float) -> np.ndarray:
    """One band filtered against speckle: Lee (with noise variation ``noise_cv2``), median or mean.

    The window is ``size`` x ``size``, reflected at the array's borders.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> speckled = rng.gamma(4.0, 25.0, (64, 64)).astype(np.float32)  # 4-look intensity
        >>> out = speckle_filter(speckled, "lee", 5, 0.25)
        >>> bool(out.std() < 0.5 * speckled.std()), round(float(out.mean()) / 100, 1)
        (True, 1.0)
    """
    if kind == "none" or size <= 1:
        return band
    if kind == "median":
        return ndimage.median_filter(band, size=size, mode="reflect")
    mean = ndimage.uniform_filter(band, size=size, mode="reflect")
    if kind == "mean":
        return mean
    sq = ndimage.uniform_filter(band * band, size=size, mode="reflect")
    var = np.maximum(sq - mean * mean, 0)
    signal = np.maximum(var - mean * mean * noise_cv2, 0) / (1 + noise_cv2)
    weight = np.divide(signal, var, out=np.zeros_like(var), where=var > 0)
    return mean + weight * (band - mean)


def local_cv2(band: np.ndarray, size: int) -> np.ndarray:
    """Squared coefficient of variation in ``size`` x ``size`` windows (0 where the mean is 0).

    Example:
        >>> flat = np.full((8, 8), 5.0, np.float32)
        >>> float(local_cv2(flat, 3).max())
        0.0
    """
    mean = ndimage.uniform_filter(band, size=size, mode="reflect")
    sq = ndimage.uniform_filter(band * band, size=size, mode="reflect")
    var = np.maximum(sq - mean * mean, 0)
    return np.divide(var, mean * mean, out=np.zeros_like(var), where=mean > 0)


def _offset(before: np.ndarray, after: np.ndarray, db: bool) -> float:
    """What is added before taking logs: half the smallest positive value (zeros stay finite)."""
    if db:
        return 0.0
    values = np.concatenate([before.ravel(), after.ravel()])
    positive = values[values > 0]
    return float(0.5 * positive.min()) if positive.size else 1.0


def _is_db(scale: str, before: np.ndarray, after: np.ndarray) -> bool:
    if scale != "auto":
        return scale == "db"
    return bool(min(np.percentile(before, 1), np.percentile(after, 1)) < 0)


def noise_cv2(samples: Sequence[Sample], db: bool, offset: float, size: int) -> tuple[float, ...]:
    """Per band, the median squared local coefficient of variation over both dates (the speckle).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.gamma(1.0, 50.0, (1, 64, 64)).astype(np.float32)  # one-look intensity
        >>> 0.5 < noise_cv2([(x, x, np.ones((64, 64), bool))], False, 0.0, 7)[0] < 1.2
        True
    """
    nb = samples[0][0].shape[0]
    probe = FittedSAR(db, offset, "none", 1, (0.0,) * nb, (0.0,) * nb, (1.0,) * nb, "both", 1, 1)
    return median_local_cv2(samples, size, probe._filtered)


def median_local_cv2(
    samples: Sequence[Sample],
    size: int,
    prepare: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[float, ...]:
    """Per band, the median over both dates' valid pixels of :func:`local_cv2` (windows of
    ``size``, at least 3) of ``prepare(image, valid)``.

    Example:
        >>> x = np.full((1, 8, 8), 5.0, np.float32)
        >>> median_local_cv2([(x, x, np.ones((8, 8), bool))], 3, lambda im, v: im)
        (0.0,)
    """
    nb = samples[0][0].shape[0]
    per_band: list[list[np.ndarray]] = [[] for _ in range(nb)]
    for b, a, v in samples:
        for image in (b, a):
            x = prepare(image, v)
            for i in range(nb):
                per_band[i].append(local_cv2(x[i], max(size, 3))[v])
    return tuple(float(np.median(np.concatenate(c))) if c else 0.0 for c in per_band)


def fit(
    samples: Sequence[Sample],
    band_names: Sequence[str] = (),
    options: SAROptions | None = None,
) -> FittedSAR:
    """Fit the SAR log-ratio test on sample windows: scale, filter, spread and threshold.

    Args:
        samples: ``(before, after, valid)`` windows spread over the scene.
        band_names: the bands' names (used only in messages).
        options: filter, scale, direction and threshold (:class:`SAROptions`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scene = rng.uniform(50, 150, (1, 1, 1)) * np.ones((1, 96, 96))
        >>> before = (scene * rng.gamma(4, 0.25, scene.shape)).astype(np.float32)
        >>> after = (scene * rng.gamma(4, 0.25, scene.shape)).astype(np.float32)
        >>> after[:, 30:60, 30:60] *= 6  # a new strong scatterer
        >>> valid = np.ones((96, 96), bool)
        >>> fitted = fit([(before, after, valid)])
        >>> mask = fitted.probability(before, after, valid) >= fitted.threshold
        >>> bool(mask[34:56, 34:56].mean() > 0.95), bool(mask[:, 70:].mean() < 0.01)
        (True, True)
    """
    opts = options or SAROptions()
    b, a = pooled(samples, max_pixels=MAX_PIXELS)
    if b.shape[0] < 2:
        raise ValueError("the sar method needs at least two valid pixels")
    db = _is_db(opts.scale, b, a)
    offset = _offset(b, a, db)
    nb = b.shape[1]
    cv2 = noise_cv2(samples, db, offset, opts.filter_size) if opts.filter == "lee" else (0.0,) * nb
    probe = FittedSAR(
        db, offset, opts.filter, opts.filter_size, cv2, (0.0,) * nb, (1.0,) * nb, "both", 1, 1
    )
    lr = np.concatenate([probe.log_ratio(sb, sa, v)[:, v] for sb, sa, v in samples], axis=1)
    centre = np.median(lr, axis=1)
    spread = MAD_TO_STD * np.median(np.abs(lr - centre[:, None]), axis=1)
    identical = bool(np.all(np.abs(lr - centre[:, None]) == 0))
    spread = np.where(spread > 1e-6, spread, np.maximum(lr.std(axis=1), 1e-6))
    fitted = FittedSAR(
        db,
        offset,
        opts.filter,
        opts.filter_size,
        cv2,
        tuple(map(float, centre)),
        tuple(map(float, spread)),
        opts.direction,
        1.0,
        1.0,
    )
    d = np.concatenate([fitted.statistic(sb, sa, v)[v] for sb, sa, v in samples])
    floor = _noise_floor(nb, opts.significance, opts.direction)
    smallest = opts.min_change_db * np.log(10) / 10 / float(np.sqrt(np.mean(spread**2)))
    floor = max(floor, float(smallest))
    cut = _cut(d, floor, opts.threshold)
    return replace(
        fitted,
        magnitude_threshold=max(float(cut), floor),
        magnitude_scale=max(float(d.std()) / 4.0, 1e-3),
        noise_floor=floor,
        warnings=_warnings(identical, nb, band_names),
    )


def _cut(d: np.ndarray, floor: float, kind: str) -> float:
    """The automatic cut on ``d``: Otsu's on all pixels, or KI's on those above the noise floor.

    KI on all of ``d`` puts the cut in the noise (the unchanged class of a
    magnitude is far from normal); on the pixels above the floor it splits the
    noise tail from the change (Bern pair: kappa 0.39 -> 0.76 with a 5 px Lee filter).
    """
    if kind == "otsu":
        return float(otsu(d))
    if kind == "floor":
        return floor
    tail = d[d > floor]
    return float(kittler_illingworth(tail)) if tail.size >= MIN_TAIL else floor


def _noise_floor(bands: int, significance: float, direction: str) -> float:
    """``d`` that unchanged pixels (standard normal per band) exceed with ``significance``."""
    sig = significance * (2 if direction != "both" else 1)  # one tail: half the pixels at 0
    return float(np.sqrt(2 * special.gammainccinv(bands / 2, min(sig, 1.0)) / bands))


def _warnings(identical: bool, bands: int, names: Sequence[str]) -> tuple[str, ...]:
    out = []
    if identical:
        out.append(
            "sar: the two dates are identical over the sampled windows (a log-ratio of 0 "
            "everywhere): no change was found; check that they are two acquisitions"
        )
    if bands > 2:
        listed = ", ".join(names) if names else f"{bands} bands"
        out.append(
            f"sar: compared {bands} bands ({listed}) as polarisations; a SAR pair has one "
            "or two (VV/VH, HH/HV): select them with --bands"
        )
    return tuple(out)


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedSAR:
    """Rebuild a fitted SAR test from :meth:`FittedSAR.params` (``cache`` is not used)."""
    return FittedSAR(
        db=bool(params["db"]),
        offset=float(params["offset"]),
        filter=str(params["filter"]),
        filter_size=int(params["filter_size"]),
        noise_cv2=tuple(float(v) for v in params["noise_cv2"]),
        centre=tuple(float(v) for v in params["centre"]),
        spread=tuple(float(v) for v in params["spread"]),
        direction=str(params["direction"]),
        magnitude_threshold=float(params["magnitude_threshold"]),
        magnitude_scale=float(params["magnitude_scale"]),
        noise_floor=float(params.get("noise_floor", 0.0)),
        warnings=tuple(params.get("warnings", ())),
    )


SPEC = MethodSpec(
    name="sar",
    fit=fit,
    restore=restore,
    description=(
        "SAR log-ratio after a speckle filter, minimum-error threshold above the noise floor "
        "(one or two polarisations, amplitude, intensity or dB)"
    ),
    options=SAROptions,
    overlap=MAX_FILTER // 2,
    min_bands=1,
)
