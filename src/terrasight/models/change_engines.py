"""Which engine runs a change network: the shipped 8-bit one, the float ONNX export, or torch.

:func:`change_network` returns ``(engine, network)`` for a registry entry (or a
user's checkpoint, which always runs in torch). With engine ``"auto"`` it takes
the first that the entry and what is installed allow:

1. ``"int8"``: the entry's shipped 8-bit network (:mod:`terrasight.models.onnx_int8`),
   which needs onnxruntime only;
2. ``"onnx"``: the float network exported to ONNX (:mod:`terrasight.models.onnx_change`),
   which needs torch and onnx once, to export;
3. ``"torch"``: the network in PyTorch, with a warning saying why.

The ONNX networks have ``probability(before, after)``; the torch one is a module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from terrasight.errors import InvalidOptionError, MissingDependencyError
from terrasight.models.runtime import cached

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

log = logging.getLogger(__name__)

ENGINES = ("auto", "int8", "onnx", "torch")
"""The engines a change network can run on (``"auto"`` chooses)."""


def change_network(
    name: str,
    checkpoint: str | None = None,
    engine: str = "auto",
    cache: ModelCache | None = None,
) -> tuple[str, Any]:
    """``(engine, network)`` for change model ``name``: the first engine allowed (see module).

    Raises:
        MissingDependencyError: the engine asked for needs a package that is missing.
        InvalidOptionError: engine ``"int8"`` for an entry that ships no 8-bit network.
        OnnxExportError: engine ``"onnx"`` and the export failed.

    Example:
        >>> engine, net = change_network("siamese-effnet-lite0")  # doctest: +SKIP
        >>> engine  # doctest: +SKIP
        'int8'
    """
    if checkpoint is None and engine in ("auto", "int8"):
        found = _int8(name, engine == "int8", cache)
        if found is not None:
            return "int8", found
    if checkpoint is None and engine in ("auto", "onnx"):
        try:
            from terrasight.models.onnx_change import onnx_change_network

            return "onnx", cached(cache, ("change-onnx", name), lambda: onnx_change_network(name))
        except ImportError as exc:
            if engine == "onnx":
                raise _needs_onnx("onnx", exc) from exc
            log.warning("change model %r runs in torch: %s", name, exc)
        except RuntimeError as exc:  # OnnxExportError among them
            if engine == "onnx":
                raise
            log.warning("change model %r runs in torch: %s", name, exc)
    key = ("change-inference", name, checkpoint)
    return "torch", cached(cache, key, lambda: inference_network(name, checkpoint))


def planned_engine(name: str, checkpoint: str | None = None, engine: str = "auto") -> str:
    """``"int8"`` when ``engine`` is ``"auto"`` and the 8-bit network can run, else ``engine``.

    Looks packages up without importing them, so a job can record, before any
    network is built, that its windows run on the 8-bit network.

    Example:
        >>> planned_engine("siamese-effnet-lite0", checkpoint="mine.pt")
        'auto'
    """
    from terrasight.models import get_config
    from terrasight.models.onnx_int8 import int8_spec
    from terrasight.models.registry import missing_module

    if engine != "auto" or checkpoint is not None:
        return engine
    if missing_module(["onnxruntime"]) is None and int8_spec(get_config(name)) is not None:
        return "int8"
    return engine


def inference_network(name: str, checkpoint: str | None = None) -> Any:
    """A change network built for inference in torch: batch norms folded, channels-last memory.

    Example:
        >>> net = inference_network("siamese-effnet-lite0")  # doctest: +SKIP
    """
    from terrasight.models import create_model, require_torch
    from terrasight.models.change_net import fold_batch_norms

    torch = require_torch()
    net = create_model(name, checkpoint=checkpoint)
    net = fold_batch_norms(net) if hasattr(net, "decoder") else net
    return net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def _int8(name: str, required: bool, cache: ModelCache | None) -> Any:
    """The entry's shipped 8-bit network, or None (an error when ``required``)."""
    from terrasight.models import get_config
    from terrasight.models.onnx_int8 import int8_change_network

    try:
        net = cached(cache, ("change-int8", name), lambda: int8_change_network(get_config(name)))
    except ImportError as exc:
        if required:
            raise _needs_onnx("int8", exc) from exc
        return None
    if net is None and required:
        raise InvalidOptionError(
            f"engine 'int8' of change method 'learned': model {name!r} ships no 8-bit "
            "network for its present weights; use engine='onnx' or 'torch'."
        )
    return net


def _needs_onnx(engine: str, exc: ImportError) -> MissingDependencyError:
    """The one-line error of an engine whose packages are missing ("int8" needs
    onnxruntime only, "onnx" onnx as well, to export)."""
    packages = "onnxruntime" if engine == "int8" else "onnx onnxruntime"
    return MissingDependencyError(
        f"engine {engine!r} of change method 'learned' needs {packages} "
        f"({exc.name or exc} cannot be imported): pip install {packages}, "
        "or use engine='torch'."
    )
