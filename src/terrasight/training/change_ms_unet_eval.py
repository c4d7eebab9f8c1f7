"""Scoring helpers of the ``ms-unet`` training: the noise gate and the threshold choice.

The shipped method changes a pixel only where the network's probability reaches
its threshold *and* the standardised change vector exceeds the pair's noise
floor (:func:`~terrasight.tasks.change.methods.nochange.noise_floor`, at the
method's default ``gate`` significance). :func:`gated` applies the same gate to a
probability map in training, so the threshold is chosen on what the method
will answer (:func:`gated_threshold`), and held-out cities are scored the same way.

Example:
    >>> rng = np.random.default_rng(0)
    >>> zb = rng.normal(size=(4, 32, 32)).astype(np.float32)
    >>> quiet = gated(np.ones((32, 32), np.float32), zb, zb + 0.01)
    >>> float(quiet.max())
    0.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from terrasight.tasks.change.methods.nochange import effective_dof, noise_floor
from terrasight.training.change_ms import best_threshold

GATE = 0.1
"""Significance of the noise gate (the method's default ``gate``)."""

GATE_PIXELS = 400_000
"""Pixels (a regular subset) the noise floor is fitted on."""


def noise_gate(zb: np.ndarray, za: np.ndarray, gate: float = GATE) -> np.ndarray:
    """True where the change vector of standardised bands ``(n, h, w)`` is within the noise.

    Example:
        >>> z = np.zeros((4, 8, 8), np.float32)
        >>> bool(noise_gate(z, z).all())
        True
    """
    diff = (za - zb).reshape(zb.shape[0], -1).T
    distance = np.sqrt((diff**2).sum(axis=1))
    if gate <= 0 or not np.any(distance > 0):
        return (distance <= 0).reshape(zb.shape[1:])
    step = max(1, distance.size // GATE_PIXELS)
    d, x = distance[::step], diff[::step]
    floor = noise_floor(d, effective_dof(x, d), gate)
    return (distance <= floor).reshape(zb.shape[1:])


def gated(prob: np.ndarray, zb: np.ndarray, za: np.ndarray, gate: float = GATE) -> np.ndarray:
    """``prob`` with 0 where the change is within the pair's noise (a copy).

    Example:
        >>> z = np.zeros((4, 4, 4), np.float32)
        >>> float(gated(np.ones((4, 4), np.float32), z, z).sum())
        0.0
    """
    out = np.array(prob, np.float32, copy=True)
    out[noise_gate(zb, za, gate)] = 0.0
    return out


def gated_threshold(
    probs: Sequence[np.ndarray], truths: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> float:
    """The threshold with the best F1 pooled over the pixels where ``masks`` is True.

    Example:
        >>> p = [np.array([0.1, 0.2, 0.8, 0.9])]
        >>> gated_threshold(p, [np.array([0, 0, 1, 1], bool)], [np.ones(4, bool)])
        0.21
    """
    return best_threshold(
        [p[m] for p, m in zip(probs, masks, strict=True)],
        [t[m] for t, m in zip(truths, masks, strict=True)],
    )
