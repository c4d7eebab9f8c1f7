"""The shipped coarse-cover network on ONNX Runtime: water and vegetation from RGB at ~10 m.

At 10 m (Sentinel-2 true colour and the like) the aerial land-cover network sees
fields, woods and the sea at a size it was never shown, and calls dark fields
water. Where near-infrared is present, NDVI and NDWI settle water and vegetation;
this small network (about 17,000 weights, 170 m of context) was trained to give
the same answer from red, green and blue alone: on Sentinel-2 scenes whose
labels come from their own near-infrared and short-wave infrared bands
(``terrasight train landcover-coarse``).

The graph takes ``x`` ``(n, 6, h, w)`` float32 (:func:`network_inputs`): red,
green and blue as shown (0-255, over 255), and the same three standardised by
the scene's own per-band median and 2-98 % spread (:func:`standardise`); it
returns ``prob`` ``(n, 3, h, w)``: softmax over :data:`CLASSES`. Its metadata holds the training and validation scenes and the
accuracy on the held-out ones.

Example:
    >>> net = load_coarse_cover()  # doctest: +SKIP
    >>> net.probabilities(np.zeros((6, 64, 64), np.float32)).shape  # doctest: +SKIP
    (3, 64, 64)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import ModelWeightsError
from terrasight.models.onnx_session import open_session
from terrasight.models.weights import weights_dir

__all__ = [
    "CLASSES",
    "WEIGHTS",
    "CoarseCoverNetwork",
    "load_coarse_cover",
    "network_inputs",
    "standardise",
]

WEIGHTS = "coarse-cover-v1.onnx"
"""File name of the shipped network in ``terrasight/models/weights``."""
CLASSES = ("other", "water", "vegetation")
"""The network's outputs: neither (built-up, bare, rock), water, vegetation."""
CLIP = 6.0
"""Standardised values are clipped to +-this (clouds, glint)."""


def standardise(rgb: np.ndarray, low: np.ndarray, mid: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``(3, h, w)`` float32: each band minus the scene's median, over its 2-98 % spread.

    Example:
        >>> standardise(np.full((3, 1, 1), 30.0), np.zeros(3), np.full(3, 20.0),
        ...             np.full(3, 40.0))[:, 0, 0].tolist()
        [0.25, 0.25, 0.25]
    """
    lo = np.asarray(low, np.float32).reshape(-1, 1, 1)
    md = np.asarray(mid, np.float32).reshape(-1, 1, 1)
    hi = np.asarray(high, np.float32).reshape(-1, 1, 1)
    z = (np.asarray(rgb, np.float32) - md) / np.maximum(hi - lo, 1e-6)
    return np.clip(z, -CLIP, CLIP).astype(np.float32)


def network_inputs(display: np.ndarray, stats: tuple[np.ndarray, ...]) -> np.ndarray:
    """``(6, h, w)`` float32 inputs of a ``(3, h, w)`` RGB window in display units (0-255):
    the bands over 255, then standardised by the scene's ``(low, mid, high)`` percentiles.

    Example:
        >>> x = network_inputs(np.full((3, 1, 1), 51.0), (np.zeros(3), np.zeros(3), np.full(3, 102.0)))
        >>> [round(float(v), 2) for v in x[:, 0, 0]]
        [0.2, 0.2, 0.2, 0.5, 0.5, 0.5]
    """
    shown = np.clip(np.asarray(display, np.float32), 0, 255) / 255.0
    return np.concatenate([shown, standardise(display, *stats)]).astype(np.float32)


@dataclass
class CoarseCoverNetwork:
    """Other / water / vegetation probabilities on one ONNX Runtime session.

    Attributes:
        session: the ONNX Runtime session.
        meta: the network's metadata (training scenes, held-out accuracy, pixel size).
    """

    session: Any
    meta: dict[str, Any]

    @property
    def metres(self) -> float:
        """Ground pixel size (m) of the scenes it was trained on."""
        return float(self.meta.get("metres", 10.0))

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """``(3, h, w)`` float32 probabilities of ``(6, h, w)`` :func:`network_inputs`."""
        h, w = int(inputs.shape[-2]), int(inputs.shape[-1])
        pad = ((0, 0), (0, -h % 4), (0, -w % 4))
        x = np.asarray(inputs, np.float32)
        x = np.pad(x, pad, mode="reflect") if min(h, w) > 8 else np.pad(x, pad, mode="edge")
        (prob,) = self.session.run(None, {"x": np.ascontiguousarray(x[None])})
        return np.asarray(prob[0, :, :h, :w], np.float32)


def load_coarse_cover(path: str | Path | None = None, threads: int = 1) -> CoarseCoverNetwork:
    """Open the coarse-cover network (the shipped one, or an ``.onnx`` a training run wrote).

    Raises:
        ModelWeightsError: the file is missing or not a network.
        MissingDependencyError: onnxruntime is not installed.

    Example:
        >>> load_coarse_cover().meta["classes"]  # doctest: +SKIP
        '["other", "water", "vegetation"]'
    """
    file = weights_dir() / WEIGHTS if path is None else Path(path)
    if not file.is_file():
        raise ModelWeightsError(
            f"coarse-cover network {file} is missing: reinstall terrasight, or train one with "
            "`terrasight train landcover-coarse --data DIR`."
        )
    session = open_session(file, threads, "the coarse-cover network")
    meta: dict[str, Any] = {}
    for key, value in session.get_modelmeta().custom_metadata_map.items():
        try:
            meta[key] = json.loads(value)
        except ValueError:
            meta[key] = value
    return CoarseCoverNetwork(session, meta)
