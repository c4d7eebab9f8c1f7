"""The windows of one series job on Dask workers: ``scheduler="local"`` or ``"tcp://HOST:PORT"``.

As for a change job (:mod:`terrasight.tasks.change.pipeline.cluster`): each window is a
pure function of the stack, the fitted pairs and the cloud masks, so a worker restores
every pair's method from its fitted parameters (once per worker and job), reads its
windows itself and sends back the window's change date, interval and journal record.
This process writes them and keeps the journal, exactly as with threads, so the outputs
are the same and a job cut off half way resumes. An address joins a running cluster whose
workers must see the images and the job folder (the per-date cloud masks) at the same paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from terrasight.io.tiling import Tile
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.methods import nochange
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.pipeline.cluster import bounded_map
from terrasight.tasks.series.fit import DateClouds
from terrasight.tasks.series.stack import SeriesStack
from terrasight.tasks.series.windows import WindowResult, date_window

WORKER_CACHE = "terrasight_series_models"
"""Attribute of a Dask worker holding its model cache and restored pairs."""

Shared = tuple[SeriesStack, str, dict[str, Any], DateClouds, int]
"""What every window needs: stack, method name, each pair's parameters, clouds, confirm."""


def usable(params: dict[str, Any] | None) -> bool:
    """Whether a pair's fitted parameters are restored (a pair with issues is not compared).

    Example:
        >>> usable(None)
        False
    """
    return params is not None and not nochange.issues_of(params)


def map_on_dask(
    client: Any, shared: Shared, tiles: list[Tile], limit: int
) -> Iterator[WindowResult]:
    """Each window's result, in completion order, with at most ``limit`` windows in flight.

    Example:
        >>> with dask_client("local", 2) as client:  # doctest: +SKIP
        ...     results = list(map_on_dask(client, shared, list(grid), 4))
    """
    yield from bounded_map(client, window_on_worker, shared, tiles, limit)


def window_on_worker(shared: Shared, tile: Tile) -> WindowResult:
    """One window's result, computed on a Dask worker (the pairs restored once per worker)."""
    from distributed import get_worker

    stack, method, pairs, clouds, confirm = shared
    worker = get_worker()
    state = getattr(worker, WORKER_CACHE, None)
    if state is None:
        state = {"models": ModelCache(), "fitted": {}}
        setattr(worker, WORKER_CACHE, state)
    key = (method, repr(sorted(pairs.items())))
    fitted = state["fitted"].get(key)
    if fitted is None:
        spec = get_method(method)
        fitted = {
            k: nochange.restore_checked(spec, p, state["models"]) if usable(p) else None
            for k, p in pairs.items()
        }
        state["fitted"] = {key: fitted}  # one job's pairs at a time
    return date_window(stack, fitted, clouds, confirm, tile)
