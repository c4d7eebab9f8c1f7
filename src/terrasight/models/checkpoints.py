"""User checkpoints: reading PyTorch ``state_dict`` files or URLs and loading them into models.

Everything is read with ``weights_only=True``: no code from a file ever runs. A
checkpoint loads only when every key exists in the model with the same shape.
Shipped weight files (``.npz``, checked by sha256) are :mod:`terrasight.models.weights`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from terrasight.errors import ModelWeightsError


def load_checkpoint(model: Any, source: str | Path) -> Any:
    """Load a user's PyTorch checkpoint (path or URL) into a model of the same architecture.

    The checkpoint may hold the full state dict or only the trained layers: a model
    with a ``trained_keys()`` method (the change networks) needs every one of those.

    Raises:
        ModelWeightsError: missing, unreadable, or of another architecture.

    Example:
        >>> torch.save(model.state_dict(), "mine.pt")  # doctest: +SKIP
        >>> model = load_checkpoint(create_model("siamese-effnet-lite0"), "mine.pt")  # doctest: +SKIP
    """
    required = model.trained_keys() if hasattr(model, "trained_keys") else set()
    load_partial(model, read_checkpoint(source), str(source), required)
    return model


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
        >>> import numpy as np
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
