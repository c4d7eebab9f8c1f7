"""``terrasight train int8``: the shipped 8-bit change network, rebuilt from the data.

The float network of a registry entry is exported to ONNX, then quantised
(:func:`terrasight.models.onnx_int8.quantize_change_network`) with activation
ranges measured on windows of the AirChange training strips: the data the
float model trained on, never the test window or the validation strips. The
result is deterministic for given weights, data and library versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.models.onnx_int8 import RECIPE, quantize_change_network
from terrasight.models.weights import sha256_file

WINDOW = 256
"""Side of the calibration windows (pixels; a multiple of 32)."""
STEP = 384
"""Distance between the left edges of neighbouring calibration windows."""


def calibration_windows(data_dir: str | Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(before, after)`` windows in model units from the AirChange training strips.

    Each strip is scaled date by date as in training, then cut into windows of
    :data:`WINDOW` px wide, as tall as the strip allows (a multiple of 32).

    Example:
        >>> next(calibration_windows("data/change/airchange"))[0].shape  # doctest: +SKIP
        (3, 192, 256)
    """
    from terrasight.tasks.change.methods.learned import unit_to_model
    from terrasight.training.change_data import load_airchange

    train, _ = load_airchange(data_dir)
    for region in train:
        before, after = unit_to_model(region.before), unit_to_model(region.after)
        height = min(before.shape[1], WINDOW) // 32 * 32
        for x0 in range(0, before.shape[2] - WINDOW + 1, STEP):
            window = (slice(None), slice(0, height), slice(x0, x0 + WINDOW))
            yield np.ascontiguousarray(before[window]), np.ascontiguousarray(after[window])


def build_int8(model: str, data_dir: str | Path, out: Path) -> dict[str, Any]:
    """Quantise registry entry ``model`` to ``out``; return the entry's ``int8`` section.

    Needs PyTorch and onnx (the float export) and onnxruntime.

    Example:
        >>> build_int8("siamese-effnet-lite0", "data/change/airchange", Path("q.onnx"))  # doctest: +SKIP
        {'file': 'q.onnx', 'version': '2', ...}
    """
    from terrasight.errors import ModelWeightsError
    from terrasight.models import get_config
    from terrasight.models.onnx_change import onnx_change_network

    config = get_config(model)
    if config.weights is None:
        raise ModelWeightsError(f"model {model!r} has no weights to quantise")
    float_net = onnx_change_network(model)
    windows = list(calibration_windows(data_dir))
    quantize_change_network(float_net.path, out, windows, config.weights.sha256)
    return {
        "file": out.name,
        "version": config.weights.version,
        "sha256": sha256_file(out),
        "size": out.stat().st_size,
        "source": "package",
        "float_weights": config.weights.sha256,
        "recipe": RECIPE,
        "calibration": f"{len(windows)} windows of the AirChange training strips",
    }
