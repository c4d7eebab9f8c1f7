"""Where the units of a build run: in this process, or on Dask workers.

``make_runner(1, None, ...)`` runs units one after another here. With more
workers it starts a Dask ``LocalCluster`` of worker processes (one thread each,
PyTorch sharing the machine's cores between them); with a scheduler address it
joins a running cluster. Each worker keeps its own
:class:`~terrasight.models.runtime.ModelCache` in a worker plugin, so a model is
loaded once per worker, not once per unit. Units are handed out a few at a
time, so memory stays flat however many tiles a build has.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from terrasight.errors import InvalidOptionError, MissingDependencyError
from terrasight.index.work import Failure, Rows, Unit, embed_units

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

PLUGIN = "terrasight-index-models"
IN_FLIGHT = 2
"""Batches of units queued per worker."""


class LocalRunner:
    """Runs units in this process."""

    def __init__(self, model: str, checkpoint: str | None, cache: ModelCache | None) -> None:
        from terrasight.models.runtime import ModelCache

        self.model, self.checkpoint = model, checkpoint
        self.cache = cache if cache is not None else ModelCache()

    def map(self, batches: Sequence[list[Unit]]) -> Iterator[Rows | Failure]:
        for batch in batches:
            yield from embed_units(batch, self.model, self.checkpoint, self.cache)


class ModelsPlugin:
    """A Dask worker plugin holding the worker's models (``worker.plugins[PLUGIN]``)."""

    name = PLUGIN

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.cache: Any = None

    def setup(self, worker: Any) -> None:
        from terrasight.models.runtime import ModelCache

        self.cache = ModelCache()
        try:
            import torch

            torch.set_num_threads(self.threads)  # this worker process's own setting
        except ImportError:
            pass

    def teardown(self, worker: Any) -> None:
        if self.cache is not None:
            self.cache.clear()


def run_on_worker(batch: list[Unit], model: str, checkpoint: str | None) -> list[Rows | Failure]:
    """Run a batch of units on a Dask worker with the worker's own model cache."""
    from distributed import get_worker

    plugin: Any = get_worker().plugins[PLUGIN]
    return embed_units(batch, model, checkpoint, cache=plugin.cache)


class DaskRunner:
    """Runs units on the workers of a Dask client, a bounded number at a time."""

    def __init__(self, client: Any, model: str, checkpoint: str | None) -> None:
        self.client, self.model, self.checkpoint = client, model, checkpoint
        workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        self.slots = IN_FLIGHT * workers

    def map(self, batches: Sequence[list[Unit]]) -> Iterator[Rows | Failure]:
        from distributed import as_completed

        todo = iter(batches)
        first = [
            self._submit(u) for _, u in zip(range(self.slots), todo, strict=False)
        ]  # range first: zip must not take a unit it drops
        running = as_completed(first)
        for future in running:
            result = future.result()
            future.release()
            nxt = next(todo, None)
            if nxt is not None:
                running.add(self._submit(nxt))
            yield from result

    def _submit(self, batch: list[Unit]) -> Any:
        return self.client.submit(run_on_worker, batch, self.model, self.checkpoint, pure=False)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            "--workers and --scheduler need Dask: pip install 'terrasight[index]'"
        ) from None
    return distributed


@contextlib.contextmanager
def make_runner(
    workers: int,
    scheduler: str | None,
    model: str,
    checkpoint: str | None,
    cache: ModelCache | None,
) -> Iterator[LocalRunner | DaskRunner]:
    """A runner for a build: here (1 worker), a LocalCluster (more), or a scheduler's cluster.

    Raises:
        InvalidOptionError: ``workers`` < 1, or the scheduler cannot be reached.
    """
    if workers < 1:
        raise InvalidOptionError(f"index build: --workers {workers}; give 1 or more.")
    if scheduler is None and workers == 1:
        yield LocalRunner(model, checkpoint, cache)
        return
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            threads = max(1, (os.cpu_count() or 1) // workers)
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            threads = 1
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="10s"))
            except OSError as exc:
                raise InvalidOptionError(
                    f"index build: cannot reach the Dask scheduler {scheduler} ({exc}); check "
                    "the address and that the scheduler is running."
                ) from None
        client.register_plugin(_as_worker_plugin(distributed, threads), name=PLUGIN)
        yield DaskRunner(client, model, checkpoint)


def _as_worker_plugin(distributed: Any, threads: int) -> Any:
    """A :class:`ModelsPlugin` that is also a ``distributed.WorkerPlugin``."""
    kind = type("TerrasightModels", (ModelsPlugin, distributed.WorkerPlugin), {})
    return kind(threads)
