"""Change vector analysis on spatially filtered dates: ``filtered-cva`` (one band, radar or optical).

A single band may be a radar image that does not say so (8-bit amplitude with
no band name, no georeferencing) or an optical band (panchromatic, one
Sentinel-2 or Landsat band). Pixel-by-pixel CVA suits the optical band but
flags radar speckle; the ``sar`` log-ratio suits the radar but finds little on
optical bands (a one-band AirChange pair: kappa 0.00). ``filtered-cva`` filters
each date with a small window first (a 5 x 5 median by default) and then runs
:mod:`~terrasight.tasks.change.methods.cva` on the filtered dates, with its
noise-floor test and Otsu cut, without a misregistration tolerance (the filter
already blurs a one-pixel shift; a tolerance on a speckled band takes the
minimum of nine noisy differences and erodes small changes away).

The filter removes speckle and sensor noise, not changes larger than half the
window. The threshold is fitted on the filtered dates, so a pair that differs
only by a gain and noise stays below the noise floor, and two identical dates
(a distance of 0) give no change.

Measured on one-band pairs (``benchmarks/change_one_band.py``,
``benchmarks/results/change_one_band.json``): the settings were chosen on Bern
(SAR), the six Nanjing Landsat bands and the seven AirChange Szada crops; see
``docs/change-sensors.md`` for the held-out scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import ndimage

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.methods import cva
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option
from terrasight.tasks.change.methods.sar import median_local_cv2, speckle_filter
from terrasight.tasks.change.methods.threshold import kittler_illingworth

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

FILTERS = ("median", "mean", "lee", "none")
"""Spatial filters applied to each date before CVA."""
THRESHOLDS = ("otsu", "ki", "floor")
"""How the cut on the change magnitude is set (:class:`FilteredCVAOptions`)."""
MIN_TAIL = 50
"""Fewest magnitudes above the noise floor to fit a minimum-error cut on (else the floor)."""
MAX_FILTER = 11
"""Largest filter window in pixels."""
OVERLAP = MAX_FILTER // 2 + cva.MAX_TOLERANCE
"""Context each window needs: the filter's half-window and the CVA tolerance."""


@dataclass(frozen=True)
class FilteredCVAOptions(MethodOptions):
    """Options of ``filtered-cva`` (``-O filter=lee -O filter_size=7`` on the command line).

    Attributes:
        filter: ``"median"`` (the default), ``"mean"``, ``"lee"`` (adaptive: smooths
            where the local variation is at the band's usual level, keeps edges; the
            level is the median squared local coefficient of variation of the fit
            sample) or ``"none"`` (plain CVA).
        filter_size: the window in pixels, odd, 1 to :data:`MAX_FILTER`.
        tolerance: CVA's misregistration tolerance on the filtered dates (0 to 2).
        significance: share of unchanged pixels the noise floor lets through.
        threshold: ``"otsu"`` (CVA's own: Otsu's cut on all magnitudes, never below
            the noise floor), ``"ki"`` (Kittler and Illingworth's minimum-error cut
            on the magnitudes above the floor, as the ``sar`` method does) or
            ``"floor"`` (the noise floor alone).

    Example:
        >>> FilteredCVAOptions.from_mapping({"filter_size": "3"}).filter_size
        3
    """

    method: ClassVar[str] = "filtered-cva"
    filter: str = option("median", choices=FILTERS)
    filter_size: int = option(5, low=1, high=MAX_FILTER)
    tolerance: int = option(0, low=0, high=cva.MAX_TOLERANCE)
    significance: float = option(cva.SIGNIFICANCE, low=1e-12, high=0.5)
    threshold: str = option("otsu", choices=THRESHOLDS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filter_size % 2 == 0:
            raise InvalidOptionError(
                f"option 'filter_size' of change method 'filtered-cva' must be odd (1, 3, 5, "
                f"... {MAX_FILTER}), not {self.filter_size}."
            )


@dataclass(frozen=True)
class FittedFilteredCVA:
    """CVA fitted on filtered dates, with the filter that must be applied again to each window."""

    cva: cva.FittedCVA
    filter: str
    filter_size: int
    noise_cv2: tuple[float, ...]
    name: str = "filtered-cva"
    threshold: float = 0.5

    def filtered(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Each band of ``image`` ``(bands, h, w)`` filtered (invalid pixels filled first)."""
        return filter_bands(image, valid, self.filter, self.filter_size, self.noise_cv2)

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        fb, fa = self.filtered(before, valid), self.filtered(after, valid)
        return self.cva.probability(fb, fa, valid)

    def params(self) -> dict[str, Any]:
        return {
            "cva": self.cva.params(),
            "filter": self.filter,
            "filter_size": self.filter_size,
            "noise_cv2": list(self.noise_cv2),
        }


def filter_bands(
    image: np.ndarray, valid: np.ndarray, kind: str, size: int, noise_cv2: Sequence[float] = ()
) -> np.ndarray:
    """Each band filtered with a ``size`` x ``size`` window, float32 ``(bands, h, w)``.

    Invalid or non-finite pixels are replaced by the band's median of the valid
    ones before filtering, so they do not spread into their neighbours.

    Example:
        >>> x = np.zeros((1, 5, 5), np.float32)
        >>> x[0, 2, 2] = 100  # one bright speck
        >>> float(filter_bands(x, np.ones((5, 5), bool), "median", 3).max())
        0.0
    """
    x = _filled(image.astype(np.float32), valid)
    if kind == "none" or size <= 1:
        return x
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if kind == "median":
            out[i] = ndimage.median_filter(x[i], size=size, mode="reflect")
        elif kind == "mean":
            out[i] = ndimage.uniform_filter(x[i], size=size, mode="reflect")
        else:
            out[i] = speckle_filter(x[i], "lee", size, noise_cv2[i] if noise_cv2 else 0.0)
    return out


def _filled(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    bad = ~valid[None] | ~np.isfinite(x)
    if not bad.any():
        return x
    x = x.copy()
    for i in range(x.shape[0]):
        good = x[i][~bad[i]]
        x[i][bad[i]] = float(np.median(good)) if good.size else 0.0
    return x


def _noise_cv2(samples: Sequence[Sample], size: int) -> tuple[float, ...]:
    """Per band, the median squared local coefficient of variation over both dates."""
    return median_local_cv2(samples, size, _non_negative)


def _non_negative(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    x = _filled(image.astype(np.float32), valid)
    return x - min(float(x.min()), 0.0)  # the coefficient needs values >= 0


def fit(
    samples: Sequence[Sample],
    band_names: Sequence[str] = (),
    options: FilteredCVAOptions | None = None,
) -> FittedFilteredCVA:
    """Fit CVA on the filtered sample windows.

    Args:
        samples: ``(before, after, valid)`` windows spread over the scene.
        band_names: unused.
        options: filter, window, tolerance and threshold (:class:`FilteredCVAOptions`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> fields = rng.uniform(40, 140, (1, 6, 6))
        >>> scene = np.kron(fields, np.ones((1, 16, 16)))  # fields of 16 x 16 px
        >>> before = (scene * rng.gamma(4, 0.25, scene.shape)).astype(np.float32)
        >>> after = (scene * rng.gamma(4, 0.25, scene.shape)).astype(np.float32)
        >>> after[:, 40:56, 40:56] *= 3  # a new bright target under speckle
        >>> valid = np.ones((96, 96), bool)
        >>> fitted = fit([(before, after, valid)])
        >>> mask = fitted.probability(before, after, valid) >= fitted.threshold
        >>> bool(mask[40:56, 40:56].mean() > 0.7), bool(mask[:, 70:].mean() < 0.01)
        (True, True)
    """
    opts = options or FilteredCVAOptions()
    nb = samples[0][0].shape[0] if samples else 1
    cv2 = _noise_cv2(samples, opts.filter_size) if opts.filter == "lee" else (0.0,) * nb
    filtered = [
        (
            filter_bands(b, v, opts.filter, opts.filter_size, cv2),
            filter_bands(a, v, opts.filter, opts.filter_size, cv2),
            v,
        )
        for b, a, v in samples
    ]
    inner = cva.CVAOptions(
        tolerance=opts.tolerance,
        significance=opts.significance,
        otsu=opts.threshold == "otsu",
        standardise="mean",  # as measured (benchmarks/results/change_one_band.json)
        threshold="otsu",  # idem
    )
    fitted = cva.fit(filtered, band_names, inner)
    if opts.threshold == "ki":
        fitted = _minimum_error(fitted, filtered)
    return FittedFilteredCVA(fitted, opts.filter, opts.filter_size, cv2)


def _minimum_error(fitted: cva.FittedCVA, samples: Sequence[Sample]) -> cva.FittedCVA:
    """The threshold raised to the minimum-error cut of the magnitudes above the noise floor.

    Otsu on all magnitudes can fall inside a large change (one with both
    brighter and darker parts has two modes); the noise tail and the change
    are two classes above the floor, which the minimum-error cut separates.
    """
    floor = fitted.magnitude_threshold  # fitted without Otsu: the noise floor
    mag = np.concatenate([fitted.magnitude(b, a)[v] for b, a, v in samples])
    tail = mag[mag > floor]
    cut = float(kittler_illingworth(tail)) if tail.size >= MIN_TAIL else floor
    return replace(fitted, magnitude_threshold=max(cut, floor))


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedFilteredCVA:
    """Rebuild from :meth:`FittedFilteredCVA.params` (``cache`` is not used)."""
    return FittedFilteredCVA(
        cva.restore(params["cva"]),
        str(params["filter"]),
        int(params["filter_size"]),
        tuple(float(v) for v in params.get("noise_cv2", ())),
    )


SPEC = MethodSpec(
    name="filtered-cva",
    fit=fit,
    restore=restore,
    description=(
        "change vector analysis after a median (or mean, Lee) filter of each date: one band "
        "of unknown sensor, radar speckle or optical"
    ),
    options=FilteredCVAOptions,
    overlap=OVERLAP,
)
