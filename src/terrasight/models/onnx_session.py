"""One way to open an ONNX Runtime session on the CPU, with the package's errors.

Example:
    >>> session = open_session("net.onnx", threads=2, what="the land-cover network")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from terrasight.errors import MissingDependencyError, ModelWeightsError


def open_session(
    path: str | Path, threads: int = 1, what: str = "the network", hint: str = ""
) -> Any:
    """An ``onnxruntime.InferenceSession`` on ``path`` (CPU, ``threads`` intra-op threads, 0 for
    ONNX Runtime's own choice; errors only in its log).

    Raises:
        MissingDependencyError: onnxruntime is not installed.
        ModelWeightsError: the file is not a network ONNX Runtime can open (``what`` names it,
            ``hint`` says what to do).
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(f"{what} needs onnxruntime: pip install onnxruntime") from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        end = f"; {hint}" if hint else ""
        raise ModelWeightsError(f"cannot open {what} {path}: {exc}{end}") from None
