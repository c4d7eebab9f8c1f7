"""Thread counts restored after a call; a cache the caller owns."""

from __future__ import annotations

import threading

import pytest

from terrasight.models.runtime import ModelCache, torch_threads


def test_torch_threads_are_restored_even_after_an_error():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with pytest.raises(RuntimeError), torch_threads(target):
        assert torch.get_num_threads() == target
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_cache_builds_each_entry_once_even_across_threads():
    calls = []

    def build():
        calls.append(1)
        return object()

    cache = ModelCache()
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", build))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1


def test_cache_drops_the_least_recently_used_entry():
    cache = ModelCache(max_items=2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: 0)  # a is now the most recent
    cache.get("c", lambda: 3)
    assert "a" in cache and "c" in cache and "b" not in cache
    cache.clear()
    assert len(cache) == 0
