"""How models run in this process: thread counts set per call and restored, and a
model cache that the caller owns (the CLI, an agent, a server), never a global.

>>> cache = ModelCache()
>>> cache.get("answer", lambda: 42), cache.get("answer", lambda: 0), len(cache)
(42, 42, 1)
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with PyTorch's intra-op thread count set to ``count``, then restore it.

    Without PyTorch installed this does nothing. The setting is process-wide
    while the block runs, so call it once around a whole job (which then runs
    its windows on its own worker threads), not inside each worker.

    Example:
        >>> with torch_threads(1):  # doctest: +SKIP
        ...     probabilities = model(before, after)
    """
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class ModelCache:
    """Loaded models kept by the caller and shared by the calls it makes.

    Each entry is built once by ``build()`` and kept until :meth:`clear` or
    until more than ``max_items`` entries are held (then the least recently
    used goes). Safe to share between threads: an entry is built by one thread
    while the others wait for it.

    Example:
        >>> from terrasight.models.runtime import ModelCache
        >>> models = ModelCache()
        >>> net = models.model("siamese-effnet-lite0")  # doctest: +SKIP
        >>> terrasight.classify("a.jpg", ["forest", "port"], cache=models)  # doctest: +SKIP
    """

    def __init__(self, max_items: int = 8) -> None:
        self.max_items = max_items
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The entry for ``key``, built with ``build()`` the first time it is asked for."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = build()
            self._items[key] = value
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return value

    def model(self, name: str, checkpoint: str | None = None) -> Any:
        """A registry model built with :func:`terrasight.models.create_model`, once."""
        from terrasight.models.registry import create_model

        key = ("model", name, None if checkpoint is None else str(checkpoint))
        return self.get(key, lambda: create_model(name, checkpoint=checkpoint))

    def clear(self) -> None:
        """Drop every entry (their memory is freed once no caller holds them)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


def cached(cache: ModelCache | None, key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` for this call only, or once per ``key`` for as long as ``cache`` lives.

    Example:
        >>> cached(None, "k", lambda: 1), cached(ModelCache(), "k", lambda: 2)
        (1, 2)
    """
    return build() if cache is None else cache.get(key, build)
