"""Change vector analysis (CVA) with an automatic Otsu threshold.

Each date is standardised band by band (scene-wide mean and standard
deviation of its valid pixels), which removes most global differences of
light and season; the change magnitude is the Euclidean distance between the
two standardised vectors. Otsu's method on the scene's magnitudes separates
change from no change. The probability is a logistic of the magnitude centred
on that threshold, so ``probability >= 0.5`` is exactly the Otsu mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrasight.tasks.change.methods import MethodSpec, Sample, pooled
from terrasight.tasks.change.threshold import otsu


@dataclass(frozen=True)
class FittedCVA:
    """CVA fitted to one pair: per-band statistics of each date and the threshold."""

    mean_before: tuple[float, ...]
    std_before: tuple[float, ...]
    mean_after: tuple[float, ...]
    std_after: tuple[float, ...]
    magnitude_threshold: float
    magnitude_scale: float
    name: str = "cva"
    threshold: float = 0.5

    def magnitude(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Euclidean distance between the standardised dates, float32 ``(h, w)``."""
        nb = before.shape[0]
        mb, sb = _col(self.mean_before, nb), _col(self.std_before, nb)
        ma, sa = _col(self.mean_after, nb), _col(self.std_after, nb)
        diff = (after - ma) / sa - (before - mb) / sb
        return np.sqrt(np.einsum("bij,bij->ij", diff, diff, dtype=np.float32))

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        z = (self.magnitude(before, after) - self.magnitude_threshold) / self.magnitude_scale
        return _sigmoid(z)

    def params(self) -> dict[str, Any]:
        return {
            "mean_before": list(self.mean_before),
            "std_before": list(self.std_before),
            "mean_after": list(self.mean_after),
            "std_after": list(self.std_after),
            "magnitude_threshold": self.magnitude_threshold,
            "magnitude_scale": self.magnitude_scale,
        }


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


def _safe_std(x: np.ndarray) -> np.ndarray:
    s = x.std(axis=0)
    return np.where(s > 1e-12, s, 1.0)


def fit(samples: Sequence[Sample], band_names: Sequence[str] = (), **_: Any) -> FittedCVA:
    """Fit CVA on sample windows: per-band statistics and the Otsu threshold."""
    b, a = pooled(samples)
    if b.shape[0] < 2:
        raise ValueError("CVA needs at least two valid pixels")
    mb, sb, ma, sa = b.mean(0), _safe_std(b), a.mean(0), _safe_std(a)
    mag = np.sqrt((((a - ma) / sa - (b - mb) / sb) ** 2).sum(axis=1))
    t = otsu(mag)
    scale = max(float(mag.std()) / 4.0, 1e-6)
    return FittedCVA(
        tuple(map(float, mb)),
        tuple(map(float, sb)),
        tuple(map(float, ma)),
        tuple(map(float, sa)),
        float(t),
        scale,
    )


def restore(params: dict[str, Any]) -> FittedCVA:
    """Rebuild a fitted CVA from :meth:`FittedCVA.params`."""
    return FittedCVA(
        tuple(params["mean_before"]),
        tuple(params["std_before"]),
        tuple(params["mean_after"]),
        tuple(params["std_after"]),
        float(params["magnitude_threshold"]),
        float(params["magnitude_scale"]),
    )


SPEC = MethodSpec(
    name="cva",
    fit=fit,
    restore=restore,
    description="change vector analysis on standardised bands, Otsu threshold (any sensor)",
)
