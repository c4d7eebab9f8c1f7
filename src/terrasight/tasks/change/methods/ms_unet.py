"""``ms-unet``: a small convolutional change network for Sentinel-2 band sets.

A U-Net of about 29,000 weights (:mod:`terrasight.training.change_ms_unet`)
that sees both dates and their difference over some 40 x 40 px, so it finds
changes as blobs rather than pixel by pixel. It reads blue, green, red and near
infrared by name (Sentinel-2 B02, B03, B04, B08, or the common names), and SWIR
1.6 and 2.2 um too when both are named (B11, B12); one network serves both band
sets. Each date is standardised by its own per-band median and spread (a gain
and offset per band and date do not matter). It was trained on the OSCD cities
(Sentinel-2 L1C, 10 m, urban change) by ``terrasight train change-ms --model
unet`` and runs in ONNX Runtime (no PyTorch needed).

No change where nothing changed: a pixel is changed only when the network says
so *and* its change vector (the standardised bands' difference) exceeds the
pair's own noise floor at ``gate`` significance
(:func:`~terrasight.tasks.change.methods.nochange.noise_floor`; the network's
own, 0.001 for the shipped one, the significance of ``cva``'s test): identical
dates, and dates that differ by gain and sensor noise, give no change.

Example:
    >>> import terrasight
    >>> result = terrasight.detect_changes("s2_2019.tif", "s2_2024.tif", method="ms-unet")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from terrasight.io.bands import common_name
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option
from terrasight.tasks.change.methods.learned_ms import SWIR, select_bands
from terrasight.tasks.change.methods.ms_features import band_stats, standardise
from terrasight.tasks.change.methods.ms_unet_net import UnetRunner, unet_inputs
from terrasight.tasks.change.methods.nochange import effective_dof, noise_floor
from terrasight.tasks.change.methods.shifts import coregistered, moved, shift_warnings

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

WEIGHTS = Path(__file__).resolve().parents[3] / "models" / "weights" / "ms-unet-v2-int8.onnx"
"""The shipped network (4 or 6 Sentinel-2 bands), quantised to 8 bits."""

NAME = "ms-unet"
SEARCH = 2
"""Largest global misregistration looked for, in pixels."""


@dataclass(frozen=True)
class UnetOptions(MethodOptions):
    """Options of ``ms-unet`` (``-O threshold=0.4`` on the command line).

    Attributes:
        threshold: change probability threshold in [0, 1]; the network's own when unset.
        gate: significance of the noise floor a pixel's change vector must exceed
            (0 turns the gate off; identical pixels are never changed); the one
            the network's threshold was chosen with when unset.
        weights: an ``.onnx`` from ``terrasight train change-ms --model unet``.
        coregister: find a global shift of the after date of up to :data:`SEARCH` px and
            compare at it (the default), as ``cva`` does.

    Example:
        >>> UnetOptions.from_mapping({"threshold": "0.4"}).threshold
        0.4
    """

    method: ClassVar[str] = NAME
    threshold: float | None = option(None, low=0.0, high=1.0)
    gate: float | None = option(None, low=0.0, high=1.0)
    weights: str | None = option(None, doc="an .onnx path from terrasight train change-ms")
    coregister: bool = option(True)


def _distance(zb: np.ndarray, za: np.ndarray) -> np.ndarray:
    """Length of the standardised change vector, ``(h, w)``."""
    return np.sqrt(((za - zb) ** 2).sum(axis=0))


class FittedUnet:
    """``ms-unet`` fitted to one pair: its bands, each date's band statistics, the gate."""

    name = NAME

    def __init__(self, params: dict[str, Any], cache: ModelCache | None = None) -> None:
        self._params = dict(params)
        path = params["weights"] or str(WEIGHTS)
        if cache is None:
            self.runner = UnetRunner(path)
        else:
            self.runner = cache.get((NAME, path), lambda: UnetRunner(path))
        self.threshold = float(params["threshold"])

    def _stats(self, which: str) -> tuple[list[float], list[float]]:
        return self._params[f"median_{which}"], self._params[f"spread_{which}"]

    def standardised(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both dates' selected bands standardised; invalid pixels read as the median (0)."""
        idx = self._params["bands"]
        zb = standardise(before[idx], self._stats("before"))
        za = standardise(after[idx], self._stats("after"))
        zb[:, ~valid] = 0.0
        za[:, ~valid] = 0.0
        return zb, za

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Change probability, float32 ``(h, w)``; 0 where the change is within the noise."""
        shift = tuple(self._params.get("shift", (0, 0)))
        if shift != (0, 0):
            before = moved(before, shift)
            valid = valid & moved(valid[None], shift)[0]
        zb, za = self.standardised(before, after, valid)
        prob = self.runner.probability(unet_inputs(zb, za))
        prob[_distance(zb, za) <= self._params["floor"]] = 0.0
        return prob

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters."""
        return dict(self._params)


def _pooled_stats(samples: Sequence[Sample], bands: list[int], which: int) -> tuple:
    pixels = np.concatenate([s[which][bands][:, s[2]] for s in samples], axis=1)
    return band_stats(pixels[:, :, None])


def _floor(samples: Sequence[Sample], params: dict[str, Any], gate: float) -> float:
    """The change-vector length that unchanged pixels stay under at ``gate`` significance."""
    idx = params["bands"]
    diffs = []
    for b, a, v in samples:  # valid pixels as (bands, n, 1): standardise wants 3 axes
        zb = standardise(
            b[idx][:, v][:, :, None], (params["median_before"], params["spread_before"])
        )
        za = standardise(a[idx][:, v][:, :, None], (params["median_after"], params["spread_after"]))
        diffs.append((za - zb)[:, :, 0].T)
    diff = np.concatenate(diffs)
    distance = np.sqrt((diff**2).sum(axis=1))
    if gate <= 0 or not distance.size or not np.any(distance > 0):
        return 0.0
    return float(noise_floor(distance, effective_dof(diff, distance), gate))


def fit(
    samples: Sequence[Sample], band_names: Sequence[str] = (), options: UnetOptions | None = None
) -> FittedUnet:
    """Fit ``ms-unet``: find the bands, each date's band statistics and the noise floor.

    Example:
        >>> fitted = fit(samples, ["B02", "B03", "B04", "B08"])  # doctest: +SKIP
    """
    opts = options or UnetOptions()
    shift, samples = coregistered(samples, SEARCH if opts.coregister else 0)
    names = list(band_names) or [f"band{i + 1}" for i in range(samples[0][0].shape[0])]
    bands, assumed = select_bands(names, NAME)
    bands = [int(i) for i in bands]
    commons = [common_name(n) for n in names]
    if all(c in commons for c in SWIR):
        bands += [commons.index(c) for c in SWIR]
    mb, sb = _pooled_stats(samples, bands, 0)
    ma, sa = _pooled_stats(samples, bands, 1)
    params: dict[str, Any] = {
        "bands": bands,
        "weights": opts.weights,
        "median_before": mb,
        "spread_before": sb,
        "median_after": ma,
        "spread_after": sa,
    }
    runner = UnetRunner(opts.weights or WEIGHTS)
    params["gate"] = runner.gate if opts.gate is None else opts.gate
    params["floor"] = _floor(samples, params, params["gate"])
    params["threshold"] = runner.threshold if opts.threshold is None else opts.threshold
    params["shift"] = list(shift)
    warnings = [*([assumed] if assumed else []), *shift_warnings(NAME, shift)]
    if warnings:
        params["warnings"] = warnings
    return FittedUnet(params)


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedUnet:
    """Rebuild a fitted ``ms-unet`` from :meth:`FittedUnet.params`."""
    return FittedUnet(params, cache)


SPEC = MethodSpec(
    name=NAME,
    fit=fit,
    restore=restore,
    description="Small convolutional change network for Sentinel-2 (blue, green, red, nir; "
    "SWIR if named) trained on the OSCD cities",
    options=UnetOptions,
    overlap=24,
    min_bands=4,
    tile_size=512,
)
