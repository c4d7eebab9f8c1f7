"""``learned-ms``: a small multispectral change model for Sentinel-2 and Landsat band sets.

A multilayer perceptron (two hidden layers of 32 units, a few thousand
weights, run in NumPy) on per-pixel and neighbourhood features of the two
dates (:mod:`terrasight.tasks.change.methods.ms_features`), trained on the OSCD urban
change cities (Sentinel-2 L1C, 10 m) by ``terrasight train change-ms``. It
reads bands by name: blue, green, red and near infrared are required (Sentinel-2
B02, B03, B04, B08; Landsat bands given the common names ``blue``, ``green``,
``red``, ``nir``); with SWIR 1.6 and 2.2 um named too (Sentinel-2 B11, B12), a 6-band
model runs instead, which was better held out (pooled F1 0.292 against 0.206
with four bands); any other bands are ignored. Its leave-one-city-out accuracy, against
``cva`` and ``irmad``, is in ``docs/change-multispectral.md`` from
``benchmarks/results/change_multispectral.json``.

Fitting estimates each date's per-band median and spread on the sample windows
(a gain and offset per band and date are removed, so the DN scale does not
matter) and runs the model on them: where the highest probability stays under
the threshold but the local texture of the scene changed, the fitted method
keeps a warning (the result then says that "no change" is uncertain).

Example:
    >>> import terrasight
    >>> result = terrasight.detect_changes("s2_2019.tif", "s2_2024.tif", method="learned-ms")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import ndimage

from terrasight.errors import BandSelectionError, ModelWeightsError
from terrasight.io.bands import common_name
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option
from terrasight.tasks.change.methods.ms_features import (
    CONTEXT,
    band_stats,
    pixel_features,
    standardise,
    texture_change,
)

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

WEIGHTS = Path(__file__).resolve().parents[3] / "models" / "weights" / "learned-ms-4band.npz"
"""The shipped model (blue, green, red, nir)."""

WEIGHTS_SWIR = WEIGHTS.with_name("learned-ms-6band.npz")
"""The shipped model for blue, green, red, nir, swir16 and swir22 (Sentinel-2 B11, B12)."""

SWIR = ("swir16", "swir22")
"""Common names of the two short-wave infrared bands the 6-band model adds."""

REQUIRED = ("blue", "green", "red", "nir")
"""Common names of the bands the model needs, in its order."""

TEXTURE_LEVEL = 0.5
"""A pixel's texture changed when the log ratio of its local spreads exceeds this."""

TEXTURE_SHARE = 0.01
"""Share of the scene with changed texture above which "no change" is called uncertain."""


@dataclass(frozen=True)
class MsNetwork:
    """The perceptron: feature mean and std, ``(weight, bias)`` per layer, threshold, smoothing.

    Example:
        >>> net = MsNetwork(np.zeros(2, np.float32), np.ones(2, np.float32),
        ...                 [(np.ones((2, 1), np.float32), np.zeros(1, np.float32))], 0.5, 1)
        >>> net.probability_of_features(np.zeros((1, 1, 2), np.float32)).tolist()
        [[0.5]]
    """

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    threshold: float
    smooth: int

    def with_threshold(self, threshold: float) -> MsNetwork:
        """The same network with another threshold."""
        return MsNetwork(self.mean, self.std, self.layers, float(threshold), self.smooth)

    def probability_of_features(self, features: np.ndarray) -> np.ndarray:
        """Change probability of ``(h, w, n)`` features, float32 ``(h, w)``."""
        h, w, n = features.shape
        x = (features.reshape(-1, n) - self.mean) / self.std
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < len(self.layers) - 1:
                np.maximum(x, 0.0, out=x)
        prob = (1.0 / (1.0 + np.exp(-np.clip(x[:, 0], -30, 30)))).reshape(h, w)
        if self.smooth > 1:
            prob = ndimage.uniform_filter(prob, self.smooth, mode="reflect")
        return prob.astype(np.float32)


def save_weights(path: Path, net: MsNetwork, bands: Sequence[str], meta: dict[str, Any]) -> None:
    """Write ``net`` as an ``.npz`` (float32 arrays and a JSON header)."""
    import json

    arrays: dict[str, Any] = {"mean": net.mean, "std": net.std}
    for i, (weight, bias) in enumerate(net.layers):
        arrays[f"w{i}"] = weight.astype(np.float32)
        arrays[f"b{i}"] = bias.astype(np.float32)
    header = {
        "bands": list(bands),
        "threshold": net.threshold,
        "smooth": net.smooth,
        "layers": len(net.layers),
        "version": 1,
        **meta,
    }
    arrays["header"] = np.array(json.dumps(header, default=list))
    np.savez_compressed(path, **arrays)


def load_weights(path: str | Path) -> tuple[MsNetwork, dict[str, Any]]:
    """The network in ``path`` and its header (bands, threshold, training settings).

    Raises:
        ModelWeightsError: the file is missing or not a ``learned-ms`` model.
    """
    import json

    try:
        with np.load(path) as z:
            header = json.loads(str(z["header"]))
            layers = [(z[f"w{i}"], z[f"b{i}"]) for i in range(header["layers"])]
            net = MsNetwork(z["mean"], z["std"], layers, header["threshold"], header["smooth"])
    except (OSError, KeyError, ValueError) as exc:
        raise ModelWeightsError(
            f"cannot read the learned-ms weights {path}: {exc}; reinstall terrasight or "
            "train them with `terrasight train change-ms --data DIR`."
        ) from exc
    return net, header


@dataclass(frozen=True)
class MsOptions(MethodOptions):
    """Options of ``learned-ms`` (``-O threshold=0.4`` on the command line).

    Attributes:
        threshold: change probability threshold in [0, 1]; the model's own when unset.
        weights: a ``.npz`` from ``terrasight train change-ms``; the shipped one when unset.

    Example:
        >>> MsOptions.from_mapping({"threshold": "0.4"}).threshold
        0.4
    """

    method: ClassVar[str] = "learned-ms"
    threshold: float | None = option(None, low=0.0, high=1.0)
    weights: str | None = option(None, doc="a .npz path from terrasight train change-ms")


GENERIC = re.compile(r"^(band\d+|gray|undefined)$")
"""Band names that say nothing about the band (no description in the file)."""


def select_bands(
    band_names: Sequence[str], method: str = "learned-ms"
) -> tuple[list[int], str | None]:
    """Indexes of blue, green, red and nir by their names (``B02`` or ``blue`` ...), and a
    warning when they had to be assumed.

    Bands without names (``band1``... ``gray``: a GeoTIFF without band descriptions)
    are taken as blue, green, red and nir in that order, the order of a 4-band
    Sentinel-2 10 m stack (B02, B03, B04, B08) and of Landsat 8/9 B2-B5, with a warning.

    Raises:
        BandSelectionError: one of them is missing from named bands, or fewer
            than four bands.

    Example:
        >>> select_bands(["B02", "B03", "B04", "B08", "B11"])
        ([0, 1, 2, 3], None)
        >>> select_bands(["nir", "red", "green", "blue"])
        ([3, 2, 1, 0], None)
        >>> select_bands(["gray", "band2", "band3", "band4"])[0]
        [0, 1, 2, 3]
    """
    names = [common_name(n) for n in band_names]
    if len(names) >= 4 and all(GENERIC.match(n) for n in names):
        return [0, 1, 2, 3], (
            f"the bands have no names ({', '.join(names)}): {method} took the first four "
            "as blue, green, red and nir (Sentinel-2 B02, B03, B04, B08); if that is wrong, "
            "name them in the file or choose them with bands=..."
        )
    missing = [c for c in REQUIRED if c not in names]
    if missing or len(names) < 4:
        raise BandSelectionError(
            f"change method '{method}' needs the bands blue, green, red and nir (Sentinel-2 "
            f"B02, B03, B04, B08; Landsat: the common names) named in the file; "
            f"{', '.join(missing) or 'some'} missing from {list(band_names)}. Name them in "
            "the file's band descriptions, or use method='cva'."
        )
    return [names.index(c) for c in REQUIRED], None


class FittedMs:
    """``learned-ms`` fitted to one pair: its bands, each date's band statistics and the network."""

    name = "learned-ms"

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = dict(params)
        default = WEIGHTS_SWIR if params.get("swir") else WEIGHTS
        self.network, _ = load_weights(params["weights"] or default)
        self.threshold = float(params["threshold"])

    def _stats(self, which: str) -> tuple[list[float], list[float]]:
        return self._params[f"median_{which}"], self._params[f"spread_{which}"]

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Change probability, float32 ``(h, w)`` (invalid pixels read as the scene median)."""
        idx = self._params["bands"]
        b = before[idx].astype(np.float32)
        a = after[idx].astype(np.float32)
        if not valid.all():
            b[:, ~valid] = np.asarray(self._stats("before")[0], np.float32)[:, None]
            a[:, ~valid] = np.asarray(self._stats("after")[0], np.float32)[:, None]
        feats = pixel_features(b, a, self._stats("before"), self._stats("after"))
        return self.network.probability_of_features(feats)

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters."""
        return dict(self._params)


def _pooled_stats(
    samples: Sequence[Sample], bands: list[int], which: int
) -> tuple[list[float], list[float]]:
    pixels = np.concatenate([s[which][bands][:, s[2]] for s in samples], axis=1)
    return band_stats(pixels[:, :, None])


def uncertainty_warning(fitted: FittedMs, samples: Sequence[Sample]) -> str | None:
    """A warning when no sampled pixel reaches the threshold but the texture changed.

    The sentence gives the highest probability and the share of changed texture.
    """
    top, textured, total = 0.0, 0, 0
    idx = fitted.params()["bands"]
    for b, a, v in samples:
        top = max(top, float(fitted.probability(b, a, v)[v].max(initial=0.0)))
        zb = standardise(b[idx], fitted._stats("before"))
        za = standardise(a[idx], fitted._stats("after"))
        tex = texture_change(zb, za)[v]
        textured += int((tex > TEXTURE_LEVEL).sum())
        total += int(v.sum())
    share = textured / max(total, 1)
    if top >= fitted.threshold or share < TEXTURE_SHARE:
        return None
    return (
        f"learned-ms is unsure of this scene: no sampled pixel reached its threshold "
        f"(highest change probability {top:.2f} < {fitted.threshold:.2f}), yet the local "
        f"texture changed over {100 * share:.1f}% of the sampled pixels; 'no change' may be "
        f"wrong: look at the probability raster or lower the threshold (-O threshold={top * 0.9:.2f})"
    )


def fit(
    samples: Sequence[Sample], band_names: Sequence[str] = (), options: MsOptions | None = None
) -> FittedMs:
    """Fit ``learned-ms``: find blue, green, red and nir, and each date's band statistics.

    With SWIR 1.6 and 2.2 um among the bands (Sentinel-2 B11 and B12, by name), the
    6-band model runs instead of the 4-band one (it was better held out, see the docs).

    Example:
        >>> fitted = fit(samples, ["B02", "B03", "B04", "B08"])  # doctest: +SKIP
    """
    opts = options or MsOptions()
    names = list(band_names) or [f"band{i + 1}" for i in range(samples[0][0].shape[0])]
    bands, assumed = select_bands(names)
    commons = [common_name(n) for n in names]
    has_swir = all(c in commons for c in SWIR)
    if opts.weights:
        net, header = load_weights(opts.weights)
        swir = len(header["bands"]) > 4
        if swir and not has_swir:
            raise BandSelectionError(
                f"the learned-ms weights {opts.weights} need the SWIR bands B11 and B12 "
                f"(swir16, swir22) too; the bands are {list(band_names)}."
            )
    else:
        swir = has_swir and WEIGHTS_SWIR.exists()
        net, _ = load_weights(WEIGHTS_SWIR if swir else WEIGHTS)
    if swir:
        bands = bands + [commons.index(c) for c in SWIR]
    mb, sb = _pooled_stats(samples, bands, 0)
    ma, sa = _pooled_stats(samples, bands, 1)
    params: dict[str, Any] = {
        "bands": bands,
        "weights": opts.weights,
        "swir": swir,
        "median_before": mb,
        "spread_before": sb,
        "median_after": ma,
        "spread_after": sa,
        "threshold": float(net.threshold if opts.threshold is None else opts.threshold),
    }
    fitted = FittedMs(params)
    warnings = [w for w in (assumed, uncertainty_warning(fitted, samples)) if w]
    if warnings:
        fitted._params["warnings"] = warnings
    return fitted


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedMs:
    """Rebuild a fitted ``learned-ms`` from :meth:`FittedMs.params`."""
    return FittedMs(params)


SPEC = MethodSpec(
    name="learned-ms",
    fit=fit,
    restore=restore,
    description="Small multispectral model (blue, green, red, nir; SWIR if named) "
    "trained on Sentinel-2 OSCD cities",
    options=MsOptions,
    overlap=CONTEXT,
    min_bands=4,
    tile_size=512,
)
