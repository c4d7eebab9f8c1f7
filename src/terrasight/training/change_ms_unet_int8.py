"""The ``ms-unet`` network quantised to 8 bits (terrasight's QDQ recipe), calibrated on its
training cities.

Activation ranges come from windows of the cities the float network trained on
(with and without SWIR, as it runs), never from a held-out city. The file keeps
the float export's metadata (threshold, ``multiple``, settings).

Example:
    >>> quantize_unet(Path("ms-unet.onnx"), Path("q.onnx"), cities)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.models.onnx_int8 import quantize_qdq
from terrasight.tasks.change.methods.ms_unet_net import unet_inputs

WINDOW = 128
"""Side of the calibration windows (pixels)."""


def calibration_feeds(cities: Sequence[Any]) -> Iterator[dict[str, np.ndarray]]:
    """Up to four windows per city, each with 6 and with 4 bands, as network inputs.

    ``cities``: :class:`~terrasight.training.change_ms_unet.CityArrays` (standardised dates).

    Example:
        >>> from terrasight.training.change_ms_unet import CityArrays
        >>> z = np.zeros((6, 128, 128), np.float32)
        >>> feeds = list(calibration_feeds([CityArrays("c", z, z, np.zeros((128, 128), bool))]))
        >>> len(feeds), feeds[0]["x"].shape
        (2, (1, 19, 128, 128))
    """
    for c in cities:
        h, w = c.truth.shape
        corners = {(y, x) for y in (0, max(0, h // 2 - WINDOW)) for x in (0, max(0, w - WINDOW))}
        for y, x in sorted(corners):
            win = (slice(None), slice(y, y + WINDOW), slice(x, x + WINDOW))
            for n in (6, 4):
                yield {"x": unet_inputs(c.before[win][:n], c.after[win][:n])[None]}


def quantize_unet(float_path: Path, out: Path, cities: Sequence[Any]) -> Path:
    """Write the 8-bit network of ``float_path`` to ``out`` with its metadata; returns ``out``."""
    import onnx

    quantize_qdq(Path(float_path), Path(out), calibration_feeds(cities))
    meta = {p.key: p.value for p in onnx.load(str(float_path)).metadata_props}
    model = onnx.load(str(out))
    del model.metadata_props[:]
    for key, value in {**meta, "int8": "static QDQ, calibrated on the training cities"}.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(out))
    return Path(out)
