"""Change networks quantised to 8 bits for ONNX Runtime: about 1.4x faster on CPU.

A registry entry may name a shipped quantised network in an ``int8`` section::

    "int8": {"file": "siamese-effnet-lite0-v2-int8.onnx", "version": "2",
             "sha256": "...", "size": 1286371, "source": "package",
             "float_weights": "<sha256 of the entry's weights file>"}

:func:`int8_change_network` opens it when it belongs to the entry's present
weights (``float_weights``; a retrained model with no new int8 file runs in
float) and returns an :class:`~terrasight.models.onnx_change.OnnxChangeNetwork`,
the same interface as the float export. It needs onnxruntime only: no PyTorch,
no export on first use.

:func:`quantize_change_network` makes the file from the float export
(:func:`~terrasight.models.onnx_change.export_change_network`): static
quantisation in QDQ form, weights int8 per output channel, activations uint8
with ranges from the min and max over calibration pairs (``terrasight train
int8`` calibrates on the AirChange training strips the float model trained on).
That recipe was chosen on the AirChange validation strips against the
alternatives (per-tensor weights, float first and last convolutions, int8
activations, QOperator form): on those strips the float network scores F1
0.490, this recipe 0.497, and the QOperator form, faster still, 0.470.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import ModelWeightsError
from terrasight.models.config import ModelConfig, WeightsSpec
from terrasight.models.weights import verified_path

__all__ = ["RECIPE", "int8_change_network", "int8_spec", "quantize_change_network"]

RECIPE = "static QDQ, int8 weights per channel, uint8 activations, min-max calibration"
"""What :func:`quantize_change_network` does, recorded in the file it writes."""
FLOAT_WEIGHTS_KEY = "terrasight:float_weights"
"""Metadata key of the quantised file: the sha256 of the float weights it was made from."""


def int8_spec(config: ModelConfig) -> WeightsSpec | None:
    """The entry's shipped int8 network when it belongs to its present weights, else None.

    Example:
        >>> from terrasight.models import get_config
        >>> int8_spec(get_config("siamese-effnet-lite0")).file
        'siamese-effnet-lite0-v2-int8.onnx'
    """
    section = config.extra.get("int8")
    if not section or config.weights is None:
        return None
    if section.get("float_weights") != config.weights.sha256:
        return None
    fields = {k: section[k] for k in ("file", "version", "sha256", "size")}
    return WeightsSpec(**fields, source=section.get("source", "package"))


def int8_change_network(config: ModelConfig, threads: int = 1) -> Any | None:
    """The entry's quantised network on an ONNX Runtime session, or None when it has none.

    Raises:
        ModelWeightsError: the shipped file is missing or corrupt.
        ImportError: onnxruntime is not installed.

    Example:
        >>> from terrasight.models import get_config
        >>> net = int8_change_network(get_config("siamese-effnet-lite0"))  # doctest: +SKIP
        >>> net.probability(before, after).shape  # doctest: +SKIP
        (300, 300)
    """
    from terrasight.models.onnx_change import OnnxChangeNetwork

    spec = int8_spec(config)
    if spec is None:
        return None
    path = verified_path(spec)
    return OnnxChangeNetwork(path, int(config.params.get("multiple", 32)), threads)


def quantize_change_network(
    float_path: Path,
    out: Path,
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    float_weights: str,
) -> Path:
    """Quantise an exported float change network to ``out`` with calibration ``pairs``.

    Args:
        float_path: the float ONNX export (inputs ``before`` and ``after``).
        out: the quantised file to write.
        pairs: ``(before, after)`` ``(3, h, w)`` float32 windows in model units,
            h and w multiples of 32.
        float_weights: sha256 of the float weights file, kept in the file's metadata.

    Raises:
        ModelWeightsError: no calibration pair was given.

    Example:
        >>> quantize_change_network(Path("f.onnx"), Path("q.onnx"), windows, sha)  # doctest: +SKIP
        PosixPath('q.onnx')
    """
    import onnx

    feeds = [{"before": b[None], "after": a[None]} for b, a in pairs]
    if not feeds:
        raise ModelWeightsError(f"no calibration pairs to quantise {float_path}")
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_qdq(float_path, out, feeds)
    model = onnx.load(str(out))
    for key, value in ((FLOAT_WEIGHTS_KEY, float_weights), ("terrasight:recipe", RECIPE)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(out))
    return out


def float_weights_of(path: Path) -> str | None:
    """The sha256 of the float weights a quantised file was made from (its metadata).

    Example:
        >>> float_weights_of(Path("siamese-effnet-lite0-v2-int8.onnx"))  # doctest: +SKIP
        '71b6e9568cadc5f7afd656fd2dc3d8cca2564f25e4f96fe70f88594026a47155'
    """
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types
        raise ModelWeightsError(f"{path} is not an ONNX file: {exc}") from exc
    return {p.key: p.value for p in model.metadata_props}.get(FLOAT_WEIGHTS_KEY)


def quantize_qdq(float_path: Path, out: Path, feeds: Iterable[dict[str, np.ndarray]]) -> None:
    """terrasight's 8-bit recipe: ONNX Runtime static quantisation in QDQ form, int8 weights
    per channel, uint8 activations, min-max ranges over the calibration ``feeds``.

    Example:
        >>> quantize_qdq(Path("f.onnx"), Path("q.onnx"), [{"rgb": crop}])  # doctest: +SKIP
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    items = iter(feeds)

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(items, None)

    quantize_static(
        str(float_path),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=CalibrationMethod.MinMax,
    )
