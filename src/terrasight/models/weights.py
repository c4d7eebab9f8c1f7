"""Weight files: where they live, checking them, reading and writing them.

Shipped weights are ``.npz`` files of float16 arrays (no pickle), named with
their version (``siamese-effnet-lite0-v1.npz``), each listed in its registry
entry with its size and full sha256 digest, checked before every load.
User checkpoints (PyTorch ``state_dict`` files or URLs) are :mod:`terrasight.models.checkpoints`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import ModelWeightsError
from terrasight.models.config import WeightsSpec

__all__ = ["ModelWeightsError"]

CHUNK = 1 << 20


def weights_dir() -> Path:
    """The folder of the weights shipped with terrasight.

    Example:
        >>> weights_dir().name
        'weights'
    """
    return Path(__file__).resolve().parent / "weights"


def resolve(spec: WeightsSpec) -> Path:
    """The path of a weights file, wherever its ``source`` says it lives
    (``"package"``, ``"pypi:<module>"`` or ``"folder:<path>"``).

    Raises:
        ModelWeightsError: the Python package holding it is not installed.

    Example:
        >>> from terrasight.models.registry import get_config
        >>> resolve(get_config("siamese-effnet-lite0").weights).suffix
        '.npz'
    """
    if spec.source == "package":
        return weights_dir() / spec.file
    if spec.source.startswith("pypi:"):
        module = spec.source[len("pypi:") :]
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise ModelWeightsError(
                f"weights {spec.file} come from the Python package {module!r}, which is not "
                "installed: pip install terrasight[learned]"
            )
        return Path(list(found.submodule_search_locations)[0]) / spec.file
    if spec.source.startswith("folder:"):
        return Path(spec.source[len("folder:") :]) / spec.file
    raise ModelWeightsError(f"unknown weights source {spec.source!r} for {spec.file}")


def shipped_weights_entry(path: Path, version: str) -> dict[str, Any]:
    """The ``weights`` section of a registry entry for a weight file written by training.

    Example:
        >>> shipped_weights_entry(Path("m-v1.npz"), "1")["source"]  # doctest: +SKIP
        'package'
    """
    return {
        "file": path.name,
        "version": version,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "source": "package",
    }


def sha256_file(path: str | Path) -> str:
    """Hex sha256 digest of a file, read in chunks.

    Example:
        >>> len(sha256_file(__file__))
        64
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verified_path(spec: WeightsSpec) -> Path:
    """Resolve a weights file and check its size and full sha256 digest.

    Raises:
        ModelWeightsError: the file is missing, or its size or digest differs
            (the message names the file and says what to do).

    Example:
        >>> from terrasight.models.registry import get_config
        >>> verified_path(get_config("siamese-effnet-lite0").weights).is_file()
        True
    """
    return verify_file(resolve(spec), spec)


def verify_file(path: str | Path, spec: WeightsSpec) -> Path:
    """Check that the file at ``path`` is the one ``spec`` describes (size, then sha256).

    Raises:
        ModelWeightsError: missing file, or another size or digest.

    Example:
        >>> verify_file("copy.npz", get_config("siamese-effnet-lite0").weights)  # doctest: +SKIP
    """
    path = Path(path)
    fix = (
        "Reinstall terrasight (pip install --force-reinstall terrasight[learned]) to restore it, "
        "or pass checkpoint= with weights of your own."
    )
    if not path.is_file():
        raise ModelWeightsError(f"weights file {path} (version {spec.version}) is missing. {fix}")
    size = path.stat().st_size
    if size != spec.size:
        raise ModelWeightsError(
            f"weights file {path} is corrupt: {size} bytes instead of {spec.size} "
            f"(version {spec.version}). {fix}"
        )
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise ModelWeightsError(
            f"weights file {path} is corrupt: sha256 {digest} instead of {spec.sha256} "
            f"(version {spec.version}). {fix}"
        )
    return path


def save_npz(state: Mapping[str, Any], path: str | Path, dtype: str = "float16") -> Path:
    """Write a state dict (tensors or arrays) as an uncompressed ``.npz`` of ``dtype`` arrays.

    Integer entries (batch-norm counters) are skipped.

    Example:
        >>> p = save_npz({"w": np.ones(3)}, "/tmp/w.npz")  # doctest: +SKIP
    """
    arrays = {}
    for key, value in state.items():
        arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if np.issubdtype(arr.dtype, np.floating):
            arrays[key] = arr.astype(dtype)
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle
    return path


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read an ``.npz`` state as float32 arrays (no pickle).

    Raises:
        ModelWeightsError: the file cannot be read as an ``.npz``.

    Example:
        >>> state = load_npz("siamese-effnet-lite0-v1.npz")  # doctest: +SKIP
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k].astype(np.float32) for k in data.files}
    except (OSError, ValueError) as exc:
        raise ModelWeightsError(f"cannot read weights file {path}: {exc}") from exc
