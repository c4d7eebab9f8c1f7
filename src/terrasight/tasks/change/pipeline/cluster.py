"""The windows of one change job on Dask workers: ``scheduler="tcp://HOST:PORT"`` or ``"local"``.

The fitted method is a pure function of a window (see
:mod:`terrasight.tasks.change.methods.base`), so windows can run anywhere that can read the
two images: each worker restores the method from its fitted parameters (once per
worker: the learned network is built once, in the worker's own model cache), reads
its windows itself and sends back the window's probability and mask. This process
writes them and keeps the journal, exactly as with threads, so the outputs are the
same and a job cut off half way resumes. ``"local"`` starts a ``LocalCluster`` of
``workers`` processes for the job; an address joins a running cluster, whose workers
must see the images at the same paths (a shared file system, or URLs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from terrasight.errors import MissingDependencyError
from terrasight.io.pair import RasterPair
from terrasight.io.tiling import Tile
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.methods import nochange
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.pipeline.tiles import TileResult, tile_work

if TYPE_CHECKING:
    from terrasight.tasks.change.pipeline.clouds import CloudLayer

WORKER_CACHE = "terrasight_change_models"
"""Attribute of a Dask worker holding its model cache and restored methods."""


@contextlib.contextmanager
def dask_client(scheduler: str, workers: int) -> Iterator[Any]:
    """A Dask client: of a ``LocalCluster`` of ``workers`` processes for ``"local"``, else
    of the scheduler at that address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MissingDependencyError(
            "windows on Dask workers need the index extra: pip install 'terrasight[index]' "
            "(or leave out scheduler / --scheduler)."
        ) from None
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(scheduler))
        yield client


def bounded_map(
    client: Any, fn: Callable[[Any, Any], Any], shared: Any, items: Iterable[Any], limit: int
) -> Iterator[Any]:
    """``fn(shared, item)`` of each item on the cluster, in completion order, with at most
    ``limit`` items in flight; ``shared`` is sent to every worker once.

    Example:
        >>> with dask_client("local", 2) as client:  # doctest: +SKIP
        ...     sorted(bounded_map(client, pow, 2, range(4), 2))
        [1, 2, 4, 8]
    """
    from distributed import as_completed

    scattered = client.scatter(shared, broadcast=True)
    todo = iter(items)
    running = as_completed()
    for item in todo:
        running.add(client.submit(fn, scattered, item, pure=False))
        if running.count() >= limit:
            break
    for future in running:
        yield future.result()
        future.release()
        nxt = next(todo, None)
        if nxt is not None:
            running.add(client.submit(fn, scattered, nxt, pure=False))


def map_on_dask(
    client: Any,
    pair: RasterPair,
    method: str,
    params: dict[str, Any],
    clouds: CloudLayer | None,
    tiles: list[Tile],
    limit: int,
) -> Iterator[TileResult]:
    """Each tile's (tile, (probability, mask), cloud pixels), in completion order, with at
    most ``limit`` tiles in flight."""
    yield from bounded_map(client, window_on_worker, (pair, method, params, clouds), tiles, limit)


def window_on_worker(
    shared: tuple[RasterPair, str, dict[str, Any], CloudLayer | None], tile: Tile
) -> TileResult:
    """One window's outputs, computed on a Dask worker (the method restored once per worker)."""
    from distributed import get_worker

    pair, method, params, clouds = shared
    worker = get_worker()
    state = getattr(worker, WORKER_CACHE, None)
    if state is None:
        state = {"models": ModelCache(), "fitted": {}}
        setattr(worker, WORKER_CACHE, state)
    key = (method, repr(sorted(params.items())))
    fitted = state["fitted"].get(key)
    if fitted is None:
        fitted = nochange.restore_checked(get_method(method), params, state["models"])
        state["fitted"] = {key: fitted}  # one job's method at a time
    return tile_work(pair, fitted, clouds)(tile)
