"""Where terrasight keeps files it can make again: ``$TERRASIGHT_CACHE``, else the user's cache.

Exported networks, STAC Items' VRTs and text embeddings live in folders of it.
Everything there is rebuilt when missing, so the folder can be deleted at any time.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache(name: str) -> Path:
    """The folder ``name`` of the cache: ``$TERRASIGHT_CACHE/NAME``, else ``$XDG_CACHE_HOME``
    (or ``~/.cache``) ``/terrasight/NAME``. Not created here.

    Example:
        >>> user_cache("onnx").name
        'onnx'
    """
    root = os.environ.get("TERRASIGHT_CACHE")
    if root:
        return Path(root) / name
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "terrasight" / name
