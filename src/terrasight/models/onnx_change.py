"""A change network exported to ONNX and run with ONNX Runtime (about 1.5x faster on CPU).

:func:`onnx_change_network` returns a :class:`OnnxChangeNetwork` for a registry
entry: the network, batch norms folded, is exported once with ``torch.onnx.export`` to a file in :func:`onnx_cache_dir`,
named by a key of the entry's weights (their sha256 digests, the backbone's
included), the torch and onnx versions and :data:`EXPORT_VERSION`, and is
reused by later processes. A retrained model (new weights, new digest) gets
its own file. The exported graph maps both dates' images to change
probabilities; before the file is kept, its output is compared with torch's on
a test pair and refused beyond :data:`TOLERANCE`.

The graph takes any height and width that are multiples of 32 (the network's
``multiple``); :meth:`OnnxChangeNetwork.probability` pads other sizes exactly as
:class:`~terrasight.models.change_net.SiameseChangeNet` does (reflect, or
replicate for tiny inputs) and crops the result. The backbone's "same"
convolutions pad by the input size at stride 2; for inputs divisible by the
stride the padding is a constant, which is what the export writes.

Each session runs on one intra-op thread: a change job gets its parallelism
from its worker threads, which share the session (``run`` is thread-safe).
Needs ``onnx`` (export) and ``onnxruntime`` (inference).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import OnnxExportError
from terrasight.io.cachedir import user_cache
from terrasight.models.config import ModelConfig
from terrasight.models.onnx_session import open_session

__all__ = [
    "OnnxChangeNetwork",
    "OnnxExportError",
    "export_change_network",
    "export_key",
    "onnx_cache_dir",
    "onnx_change_network",
    "pad_to_multiple",
]

EXPORT_VERSION = 1
"""Bumped whenever the exported graph changes, so older cached files are not reused."""
OPSET = 17
TOLERANCE = 1e-3
"""Largest difference of probabilities between torch and the exported graph that is accepted."""


def onnx_cache_dir() -> Path:
    """Folder of exported networks: ``$TERRASIGHT_CACHE/onnx``, else ``$XDG_CACHE_HOME``
    (or ``~/.cache``) ``/terrasight/onnx``.

    Example:
        >>> onnx_cache_dir().name
        'onnx'
    """
    return user_cache("onnx")


def export_key(config: ModelConfig, backbone: ModelConfig | None) -> str:
    """A short digest naming the exported file of a registry entry with weights.

    It changes with the weights (sha256 of the entry's and its backbone's files),
    the entry's parameters, the torch and onnx versions and :data:`EXPORT_VERSION`.

    Raises:
        OnnxExportError: the entry has no weights (nothing stable to name the file by).

    Example:
        >>> from terrasight.models import get_config
        >>> len(export_key(get_config("siamese-effnet-lite0"), get_config("efficientnet-lite0")))
        16
    """
    from importlib.metadata import version

    if config.weights is None:
        raise OnnxExportError(f"model {config.name!r} has no weights to export")
    parts = {
        "name": config.name,
        "weights": config.weights.sha256,
        "params": config.params,
        "backbone": backbone.weights.sha256 if backbone and backbone.weights else None,
        "backbone_params": backbone.params if backbone else None,
        "torch": version("torch"),
        "onnx": version("onnx"),
        "export": EXPORT_VERSION,
        "opset": OPSET,
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pad_to_multiple(x: np.ndarray, multiple: int) -> np.ndarray:
    """Pad ``(..., h, w)`` at the bottom and right to multiples of ``multiple``, like
    :class:`~terrasight.models.change_net.SiameseChangeNet` (reflect; edge when too small).

    Example:
        >>> pad_to_multiple(np.zeros((3, 300, 200)), 32).shape
        (3, 320, 224)
        >>> pad_to_multiple(np.array([[0.0, 1.0, 2.0]] * 4), 4).tolist()[0]
        [0.0, 1.0, 2.0, 1.0]
    """
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if min(h, w) > max(ph, pw) else "edge"
    widths = [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)]
    return np.pad(x, widths, mode=mode)  # type: ignore[call-overload]


class OnnxChangeNetwork:
    """Change probabilities from an exported network, on one ONNX Runtime session.

    Example:
        >>> net = onnx_change_network("siamese-effnet-lite0")  # doctest: +SKIP
        >>> net.probability(before, after).shape  # (3, h, w) inputs in model units  # doctest: +SKIP
        (300, 300)
    """

    def __init__(self, path: Path, multiple: int = 32, threads: int = 1) -> None:
        self.path = Path(path)
        self.multiple = multiple
        self._session = open_session(path, threads, what="the change network")

    def probability(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Change probability ``(h, w)`` of ``(3, h, w)`` float32 inputs in model units."""
        h, w = before.shape[-2:]
        b = pad_to_multiple(before, self.multiple)[None]
        a = pad_to_multiple(after, self.multiple)[None]
        (prob,) = self._session.run(None, {"before": b, "after": a})
        return prob[0, 0, :h, :w]


def onnx_change_network(
    name: str, cache_dir: Path | None = None, threads: int = 1
) -> OnnxChangeNetwork:
    """The exported network of a registry entry, exported on first use and cached on disk.

    Raises:
        OnnxExportError: the export failed or disagrees with torch.
        ImportError: onnx, onnxruntime or torch is missing.

    Example:
        >>> net = onnx_change_network("siamese-effnet-lite0")  # doctest: +SKIP
    """
    from terrasight.models import get_config

    config = get_config(name)
    backbone = get_config(config.backbone) if config.backbone else None
    folder = onnx_cache_dir() if cache_dir is None else Path(cache_dir)
    path = folder / f"{name}-{export_key(config, backbone)}.onnx"
    multiple = int(config.params.get("multiple", 32))
    if path.is_file():
        try:
            return OnnxChangeNetwork(path, multiple, threads)
        except ImportError:
            raise
        except Exception:  # noqa: BLE001 - an unreadable file is exported again
            path.unlink(missing_ok=True)
    export_change_network(name, path)
    return OnnxChangeNetwork(path, multiple, threads)


def export_change_network(name: str, path: Path, size: int = 64) -> Path:
    """Export the folded network of registry entry ``name`` to ``path`` (written atomically).

    The graph takes ``before`` and ``after`` ``(n, 3, h, w)`` (h and w multiples
    of 32) and returns ``prob`` ``(n, 1, h, w)``. Its output on a random pair of
    ``size`` px is checked against torch's before the file is kept.

    Raises:
        OnnxExportError: the export failed or disagrees with torch beyond :data:`TOLERANCE`.

    Example:
        >>> export_change_network("siamese-effnet-lite0", Path("/tmp/change.onnx"))  # doctest: +SKIP
    """
    import torch

    from terrasight.models.change_net import fold_batch_norms
    from terrasight.models.registry import create_model

    net = fold_batch_norms(create_model(name))
    graph = _probability_graph(net)
    b, a = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 1, 3, size, size))).float()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shapes that are constant here
            torch.onnx.export(
                graph,
                (b, a),
                tmp,
                dynamo=False,
                opset_version=OPSET,
                input_names=["before", "after"],
                output_names=["prob"],
                dynamic_axes={k: {0: "n", 2: "h", 3: "w"} for k in ("before", "after", "prob")},
            )
            diff = _difference(net, OnnxChangeNetwork(Path(tmp)), size)
        if not diff <= TOLERANCE:
            raise OnnxExportError(f"exported {name!r} differs from torch by {diff:.2g}")
        os.replace(tmp, path)
    except OnnxExportError:
        raise
    except Exception as exc:  # the exporter raises many types
        raise OnnxExportError(f"cannot export {name!r} to ONNX: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _difference(net: Any, exported: OnnxChangeNetwork, size: int) -> float:
    """Largest difference of probabilities between torch and the export on a random
    pair of another shape than the export's (not square, not a multiple of 32)."""
    import torch

    rng = np.random.default_rng(1)
    b, a = rng.normal(size=(2, 3, size + 37, 2 * size + 5)).astype(np.float32)
    expected = torch.sigmoid(net(torch.from_numpy(b)[None], torch.from_numpy(a)[None]))
    return float(np.abs(exported.probability(b, a) - expected[0, 0].numpy()).max())


def _static_same_padding(module: Any) -> Any:
    """Replace each :class:`~terrasight.models.backbones.SamePadConv2d` by a fixed pad
    and a convolution: the same for inputs divisible by its stride."""
    from torch import nn

    from terrasight.models.backbones import SamePadConv2d

    for parent in list(module.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, SamePadConv2d):
                pads = []
                for k, s, d in zip(child.kernel_size, child.stride, child.dilation, strict=True):
                    total = max((k - 1) * d + 1 - s, 0)
                    pads.append((total // 2, total - total // 2))
                (top, bottom), (left, right) = pads
                pad = nn.ZeroPad2d((left, right, top, bottom))
                conv = nn.Conv2d(
                    child.in_channels,
                    child.out_channels,
                    (int(child.kernel_size[0]), int(child.kernel_size[1])),
                    stride=(int(child.stride[0]), int(child.stride[1])),
                    dilation=(int(child.dilation[0]), int(child.dilation[1])),
                    groups=child.groups,
                    bias=child.bias is not None,
                )
                conv.load_state_dict(child.state_dict())
                setattr(parent, child_name, nn.Sequential(pad, conv))
    return module


def _probability_graph(net: Any) -> Any:
    """The network as a module from padded inputs to probabilities, ready to export."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ProbabilityGraph(nn.Module):
        """Probabilities of a Siamese network for inputs already padded to its multiple."""

        def __init__(self, net: Any) -> None:
            super().__init__()
            net = _static_same_padding(copy.deepcopy(net))
            self.encoder, self.decoder = net.encoder, net.decoder
            self.train_from_block = int(getattr(net, "train_from_block", 0))

        def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
            fb = self.encoder(before, no_grad_before=self.train_from_block)
            fa = self.encoder(after, no_grad_before=self.train_from_block)
            logits = self.decoder(fb, fa)
            size = before.shape[-2:]
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
            return torch.sigmoid(logits)

    return ProbabilityGraph(net).eval()
