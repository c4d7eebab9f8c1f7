"""Relative radiometric normalisation from invariant (no-change) pixels.

Two images of one place taken on different dates differ in light, season,
atmosphere and sensor calibration. Over pixels that did not change, those
differences are close to linear per band, so a gain and an offset per band
bring the after image onto the before image's radiometry (Canty, Nielsen &
Schmidt 2004). The invariant pixels come from IR-MAD's no-change
probabilities; the line is fitted by orthogonal (total least squares)
regression, which treats both dates as noisy, unlike ordinary least squares
that would shrink the gain towards zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrasight.tasks.change.methods.base import Sample

MIN_INVARIANT = 50
"""Fewest pixels above ``min_weight`` for a hard selection; fewer fall back to soft weights."""


@dataclass(frozen=True)
class Normalization:
    """Per-band linear map ``before ≈ gain * after + offset``.

    Attributes:
        gains: One gain per band.
        offsets: One offset per band, in the before image's units.
        invariant_pixels: How many pixels the fit used (0 when unknown).
    """

    gains: tuple[float, ...]
    offsets: tuple[float, ...]
    invariant_pixels: int = 0

    def apply(self, after: np.ndarray) -> np.ndarray:
        """Bring the after image onto the before image's radiometry.

        Args:
            after: ``(bands, h, w)`` array of the after date.

        Returns:
            Float32 ``(bands, h, w)``: ``gain * after + offset`` band by band.

        Example:
            >>> import numpy as np
            >>> n = Normalization((2.0,), (1.0,))
            >>> n.apply(np.ones((1, 1, 2))).tolist()
            [[[3.0, 3.0]]]
        """
        nb = after.shape[0]
        if nb != len(self.gains):
            raise ValueError(f"normalisation has {len(self.gains)} bands, the image has {nb}")
        g = np.asarray(self.gains, dtype=np.float32).reshape(nb, 1, 1)
        o = np.asarray(self.offsets, dtype=np.float32).reshape(nb, 1, 1)
        out = after.astype(np.float32, copy=True)
        out *= g
        out += o
        return out

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters (see :func:`restore_normalization`)."""
        return {
            "gains": list(self.gains),
            "offsets": list(self.offsets),
            "invariant_pixels": self.invariant_pixels,
        }


def restore_normalization(params: dict[str, Any]) -> Normalization:
    """Rebuild a :class:`Normalization` from :meth:`Normalization.params`.

    Example:
        >>> n = Normalization((0.5, 1.0), (2.0, -1.0), 10)
        >>> restore_normalization(n.params()) == n
        True
    """
    return Normalization(
        tuple(float(g) for g in params["gains"]),
        tuple(float(o) for o in params["offsets"]),
        int(params.get("invariant_pixels", 0)),
    )


def orthogonal_fit(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None
) -> tuple[float, float]:
    """Weighted orthogonal (total least squares) regression ``y ≈ gain * x + offset``.

    The line is the major axis of the weighted covariance ellipse of ``(x, y)``.
    Uncorrelated bands (a constant one among them) fall back to matching means
    and standard deviations; a constant ``x`` to gain 1 and a mean shift.

    Example:
        >>> import numpy as np
        >>> x = np.arange(10.0)
        >>> [round(v, 6) for v in orthogonal_fit(x, 3 * x + 2)]
        [3.0, 2.0]
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.ones_like(x) if w is None else np.asarray(w, np.float64)
    sw = w.sum()
    if sw <= 0:
        raise ValueError("orthogonal_fit needs positive total weight")
    mx, my = (w @ x) / sw, (w @ y) / sw
    dx, dy = x - mx, y - my
    sxx, syy, sxy = (w @ (dx * dx)) / sw, (w @ (dy * dy)) / sw, (w @ (dx * dy)) / sw
    scale = max(sxx, syy, 1e-300)
    if abs(sxy) > 1e-9 * scale:
        gain = (syy - sxx + np.sqrt((syy - sxx) ** 2 + 4 * sxy**2)) / (2 * sxy)
    elif sxx > 1e-12 * scale:
        gain = np.sqrt(syy / sxx)
    else:
        gain = 1.0
    return float(gain), float(my - gain * mx)


def fit_normalization(
    before_px: np.ndarray,
    after_px: np.ndarray,
    weights: np.ndarray,
    min_weight: float = 0.9,
) -> Normalization:
    """Fit per-band gains and offsets mapping the after date onto the before date.

    The invariant pixels are those with ``weights > min_weight`` (IR-MAD's
    no-change probability), fitted without weights; when fewer than
    ``MIN_INVARIANT`` pass, every pixel is used, weighted by ``weights``.

    Args:
        before_px: ``(n, bands)`` pixel values of the before date.
        after_px: ``(n, bands)`` pixel values of the after date.
        weights: ``(n,)`` no-change probabilities (or any non-negative weights).
        min_weight: Weight above which a pixel counts as invariant.

    Returns:
        The fitted :class:`Normalization`.

    Example:
        >>> import numpy as np
        >>> a = np.random.default_rng(0).uniform(0, 100, (500, 2))
        >>> b = a * [0.5, 2.0] + [10.0, -5.0]
        >>> n = fit_normalization(b, a, np.ones(500))
        >>> [round(g, 3) for g in n.gains], [round(o, 3) for o in n.offsets]
        ([0.5, 2.0], [10.0, -5.0])
    """
    before_px = np.asarray(before_px, np.float64).reshape(len(weights), -1)
    after_px = np.asarray(after_px, np.float64).reshape(len(weights), -1)
    weights = np.clip(np.asarray(weights, np.float64), 0.0, None)
    if before_px.shape != after_px.shape:
        raise ValueError(f"pixel arrays differ in shape: {before_px.shape} vs {after_px.shape}")
    keep = weights > min_weight
    if keep.sum() >= MIN_INVARIANT:
        b, a, w = before_px[keep], after_px[keep], None
    elif weights.sum() > 0:
        b, a, w = before_px, after_px, weights
    else:
        b, a, w = before_px, after_px, None
    if b.shape[0] == 0:
        raise ValueError("fit_normalization needs at least one pixel")
    fits = [orthogonal_fit(a[:, k], b[:, k], w) for k in range(b.shape[1])]
    return Normalization(tuple(g for g, _ in fits), tuple(o for _, o in fits), int(b.shape[0]))


def normalize_samples(samples: Sequence[Sample], normalization: Normalization) -> list[Sample]:
    """Apply ``normalization`` to the after image of each ``(before, after, valid)`` sample.

    Example:
        >>> import numpy as np
        >>> s = [(np.ones((1, 2, 2)), np.ones((1, 2, 2)), np.ones((2, 2), bool))]
        >>> float(normalize_samples(s, Normalization((2.0,), (0.0,)))[0][1].max())
        2.0
    """
    return [(b, normalization.apply(a), v) for b, a, v in samples]
