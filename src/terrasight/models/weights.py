"""Weight files: where they live, checking them, reading and writing them.

Shipped weights are ``.npz`` files of float16 arrays (no pickle), named with
their version (``siamese-effnet-lite0-v1.npz``), each listed in its registry
entry with its size and full sha256 digest, checked before every load.
User checkpoints are ordinary PyTorch ``state_dict`` files or URLs.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import ModelWeightsError
from terrasight.models.registry import WeightsSpec

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
    """The path of a weights file, wherever its ``source`` says it lives.

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
        np.savez(f, **arrays)
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


def read_checkpoint(source: str | Path) -> dict[str, Any]:
    """A PyTorch ``state_dict`` from a file path or an ``http(s)://`` URL (cached by torch.hub).

    Accepts a bare state dict or a dict holding one under ``state_dict`` or
    ``model``; a ``module.`` prefix (DataParallel) is removed. Loaded with
    ``weights_only=True``: no code from the file runs.

    Raises:
        ModelWeightsError: the file is missing or not a PyTorch state dict.

    Example:
        >>> state = read_checkpoint("my_model.pt")  # doctest: +SKIP
    """
    import torch

    text = str(source)
    try:
        if text.startswith(("http://", "https://")):
            state = torch.hub.load_state_dict_from_url(
                text, map_location="cpu", weights_only=True, progress=False
            )
        else:
            if not Path(text).is_file():
                raise ModelWeightsError(f"checkpoint file {text} does not exist.")
            state = torch.load(text, map_location="cpu", weights_only=True)
    except ModelWeightsError:
        raise
    except Exception as exc:  # torch raises many types for unreadable files
        raise unreadable_checkpoint(text, exc) from exc
    return {k.removeprefix("module."): v for k, v in unwrap_state(state, text).items()}


def unwrap_state(state: Any, source: str | Path) -> Mapping[str, Any]:
    """The state dict inside what ``torch.load`` returned: itself, or under
    ``state_dict`` / ``model`` as training checkpoints keep it.

    Raises:
        ModelWeightsError: no non-empty state dict in it.

    Example:
        >>> dict(unwrap_state({"epoch": 3, "state_dict": {"w": 1}}, "ckpt.pt"))
        {'w': 1}
    """
    if isinstance(state, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), Mapping):
                state = state[key]
    if not isinstance(state, Mapping) or not state:
        raise ModelWeightsError(f"checkpoint {source} does not hold a PyTorch state_dict.")
    return state


def load_partial(model: Any, state: Mapping[str, Any], source: str, required: set[str]) -> None:
    """Load ``state`` into ``model``: every key must exist in the model with the same shape,
    and every key in ``required`` must be given.

    Raises:
        ModelWeightsError: unknown keys, wrong shapes or missing required keys.

    Example:
        >>> load_partial(model, state, "my_model.pt", set())  # doctest: +SKIP
    """
    import torch

    own = model.state_dict()
    problems = state_mismatch(own, state, required)
    if problems:
        raise ModelWeightsError(
            f"weights {source} do not fit model {type(model).__name__}: {problems}. "
            "Is it a checkpoint of the same architecture?"
        )
    tensors = {k: torch.as_tensor(v).to(own[k].dtype) for k, v in state.items()}
    model.load_state_dict(tensors, strict=False)


def state_mismatch(own: Mapping[str, Any], state: Mapping[str, Any], required: set[str]) -> str:
    """What keeps ``state`` from loading into a model whose state dict is ``own``; "" if nothing.

    Example:
        >>> own = {"w": np.zeros((2, 2)), "b": np.zeros(2)}
        >>> state_mismatch(own, {"w": np.zeros((3, 2)), "x": np.zeros(1)}, {"w", "b"})
        "1 unknown keys (e.g. ['x']); 1 missing keys (e.g. ['b']); 1 keys of another shape (e.g. ['w'])"
    """
    unknown = sorted(set(state) - set(own))
    missing = sorted(required - set(state))
    wrong = sorted(k for k in state if k in own and tuple(own[k].shape) != tuple(state[k].shape))
    found = (("unknown keys", unknown), ("missing keys", missing), ("keys of another shape", wrong))
    return "; ".join(f"{len(v)} {what} (e.g. {v[:3]})" for what, v in found if v)


def unreadable_checkpoint(source: str | Path, exc: Exception) -> ModelWeightsError:
    """A one-line error for a checkpoint that PyTorch or safetensors cannot read.

    torch's own message runs over many lines and suggests ``weights_only=False``,
    which would run code from the file: terrasight never does that, so the
    message says what the file is not instead.

    Example:
        >>> str(unreadable_checkpoint("x.pt", ValueError("bad magic")))
        'cannot read checkpoint x.pt: bad magic. Is it a PyTorch or safetensors file of tensors?'
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if "Weights only load failed" in str(exc):
        why = "not a file of tensors saved with torch.save (files that hold other objects are never unpickled, for safety)"
    else:
        why = (lines[0] if lines else type(exc).__name__)[:200]
    return ModelWeightsError(
        f"cannot read checkpoint {source}: {why}. Is it a PyTorch or safetensors file of tensors?"
    )
