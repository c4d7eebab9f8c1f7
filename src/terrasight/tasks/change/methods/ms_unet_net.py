"""The ``ms-unet`` network's inputs and its ONNX runner (no PyTorch needed to run it).

The network sees 19 channels per pixel, built the same way in training and in
use by :func:`unet_inputs`: both dates' six bands (blue, green, red, nir,
swir16, swir22), each standardised with its own date's per-band median and
spread, their difference, and a flag that is 1 where the SWIR bands were given.
Without SWIR (a 4-band input) the SWIR channels and the flag are zeros: one
network serves both band sets (it was trained with SWIR dropped at random).

Example:
    >>> z = np.zeros((4, 8, 8), np.float32)
    >>> unet_inputs(z, z).shape
    (19, 8, 8)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from terrasight.models.onnx_session import open_session

BANDS = 6
"""Bands the network was built for: blue, green, red, nir, swir16, swir22."""

CHANNELS = 3 * BANDS + 1
"""Input channels: before, after, after - before, SWIR flag."""

MULTIPLE = 4
"""Height and width a network needs to be a multiple of (two 2x poolings) when its
metadata does not say (``"multiple"``: ``2 ** poolings``)."""

GATE = 0.1
"""Noise-gate significance of a network whose metadata does not name its own."""

CLIP = 8.0
"""Standardised values are clipped to +-this (clouds, saturated roofs)."""


def unet_inputs(before_z: np.ndarray, after_z: np.ndarray) -> np.ndarray:
    """The 19 input channels from both dates' standardised bands (4 or 6, same order).

    Example:
        >>> x = unet_inputs(np.ones((6, 2, 2), np.float32), np.zeros((6, 2, 2), np.float32))
        >>> x[12].tolist(), x[18].tolist()
        ([[-1.0, -1.0], [-1.0, -1.0]], [[1.0, 1.0], [1.0, 1.0]])
    """
    n, h, w = before_z.shape
    if n not in (4, BANDS) or after_z.shape != before_z.shape:
        raise ValueError(
            f"ms-unet inputs need 4 or 6 bands on both dates, got {before_z.shape} "
            f"and {after_z.shape}"
        )
    out = np.zeros((CHANNELS, h, w), np.float32)
    b = np.clip(before_z, -CLIP, CLIP)
    a = np.clip(after_z, -CLIP, CLIP)
    out[:n] = b
    out[BANDS : BANDS + n] = a
    out[2 * BANDS : 2 * BANDS + n] = a - b
    if n == BANDS:
        out[-1] = 1.0
    return out


class UnetRunner:
    """The exported network on an ONNX Runtime session: 19 channels in, probability out.

    Example:
        >>> runner = UnetRunner(WEIGHTS)  # doctest: +SKIP
        >>> runner.probability(unet_inputs(zb, za)).shape  # doctest: +SKIP
        (300, 300)
    """

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self._session = open_session(
            path,
            threads,
            what="the ms-unet network",
            hint="reinstall terrasight or train it with "
            "`terrasight train change-ms --model unet --data DIR`.",
        )
        meta = self._session.get_modelmeta().custom_metadata_map
        self.threshold = float(meta.get("threshold", 0.5))
        self.multiple = int(meta.get("multiple", MULTIPLE))
        self.gate = float(meta.get("gate", GATE))
        self.meta = dict(meta)

    def probability(self, inputs: np.ndarray) -> np.ndarray:
        """Change probability of ``(19, h, w)`` inputs, float32 ``(h, w)`` (padded, cropped)."""
        _, h, w = inputs.shape
        m = self.multiple
        pad = ((0, 0), (0, int(-h % m)), (0, int(-w % m)))
        if min(h, w) > m:
            x = np.pad(inputs, pad, mode="reflect")
        else:
            x = np.pad(inputs, pad, mode="edge")
        (prob,) = self._session.run(None, {"x": x[None].astype(np.float32)})
        return np.ascontiguousarray(prob[0, 0, :h, :w], dtype=np.float32)
