"""The land-cover network to train: from ImageNet, from an earlier run's ``best.pt``, or from
an exported ONNX file (the shipped 8-bit one included).

A run started from an ONNX file trains the network as that file holds it: batch
norms folded into the convolutions (the encoder's were frozen anyway; the
decoder then trains without them) and 8-bit weights dequantised. Its ``best.pt``
holds that folded form, and :func:`build_run_net` rebuilds it for the export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import ModelWeightsError


def _folded(width: int, train_from_block: int) -> Any:
    from terrasight.models.change_net import fold_batch_norms
    from terrasight.models.landcover_net import build_landcover_net
    from terrasight.models.onnx_change import _static_same_padding
    from terrasight.tasks.landcover.classes import N_CLASSES

    net = build_landcover_net(N_CLASSES, width, train_from_block)
    return _static_same_padding(fold_batch_norms(net.eval()))


def onnx_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Every float weight of an exported land-cover ONNX file by its torch name (``net.`` cut
    off), 8-bit ``DequantizeLinear`` weights dequantised.

    Raises:
        ModelWeightsError: the file cannot be read.

    Example:
        >>> sorted(onnx_weights("landcover-effnet-lite0-v1-int8.onnx"))[0]  # doctest: +SKIP
        'decoder.head.bias'
    """
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:  # noqa: BLE001 - onnx raises its own types
        raise ModelWeightsError(f"cannot read the ONNX network {path}: {exc}") from None
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    out = {k[4:]: v for k, v in inits.items() if k.startswith("net.")}
    suffix = "_DequantizeLinear_Output"
    for node in graph.node:
        name = node.output[0]
        if node.op_type != "DequantizeLinear" or not name.startswith("net."):
            continue
        if node.input[0] not in inits:
            continue
        q, scale = inits[node.input[0]].astype(np.float32), inits[node.input[1]]
        zero = inits[node.input[2]].astype(np.float32) if len(node.input) > 2 else 0.0
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if np.ndim(scale):
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), np.reshape(zero, shape) if np.ndim(zero) else zero
        out[name[4:].removesuffix(suffix)] = (q - zero) * scale
    return out


def net_from_onnx(path: str | Path, width: int, train_from_block: int) -> Any:
    """The folded torch network holding the weights of an exported land-cover ONNX file.

    Raises:
        ModelWeightsError: the file lacks a weight of the network or has another shape
            (another ``width``?).

    Example:
        >>> net = net_from_onnx("landcover-effnet-lite0-v1-int8.onnx", 48, 11)  # doctest: +SKIP
    """
    import torch

    net = _folded(width, train_from_block)
    weights = onnx_weights(path)
    state = net.state_dict()
    for key, value in state.items():
        if key not in weights or tuple(weights[key].shape) != tuple(value.shape):
            got = weights[key].shape if key in weights else "nothing"
            raise ModelWeightsError(
                f"{path} does not fit a land-cover network of width {width}: {key} is "
                f"{tuple(value.shape)}, the file has {got}; pass the width it was trained with"
            )
        state[key] = torch.from_numpy(np.ascontiguousarray(weights[key], np.float32))
    net.load_state_dict(state)
    return net


def build_run_net(width: int, train_from_block: int, init: str | None) -> Any:
    """The network of a run: folded when ``init`` is an ONNX file (weights not loaded here
    unless from that file), else the plain one (``init``: a ``best.pt``, loaded).

    Example:
        >>> net = build_run_net(48, 11, None)  # doctest: +SKIP
    """
    import torch

    from terrasight.models.landcover_net import build_landcover_net
    from terrasight.tasks.landcover.classes import N_CLASSES

    if init is not None and str(init).endswith(".onnx"):
        return net_from_onnx(init, width, train_from_block)
    net = build_landcover_net(N_CLASSES, width, train_from_block)
    if init is not None:
        net.load_state_dict(torch.load(init, map_location="cpu", weights_only=True))
    return net
