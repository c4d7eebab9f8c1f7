"""Run a table of pairs: each pair's change job in a folder of its own, here or on Dask.

Each pair is one ordinary change job (:func:`~terrasight.tasks.change.pipeline.detect.detect_changes`
and ``result.save``) written into ``OUTDIR/NAME``, so its outputs are exactly those
of ``terrasight change`` on that pair. A pair that finished leaves
``batch_pair.json`` in its folder; a batch started again skips those pairs, and a pair
cut off half way resumes from its own journal. A pair that fails is recorded with a
one-line reason and does not stop the others.

With ``workers`` above 1 (a Dask ``LocalCluster`` of that many processes) or a
``scheduler`` address, pairs run on Dask workers, one pair per worker at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from terrasight.errors import InvalidOptionError, MissingDependencyError, TerrasightError
from terrasight.models.runtime import ModelCache
from terrasight.tasks.batch.merge import write_tables
from terrasight.tasks.batch.outcome import PairOutcome
from terrasight.tasks.batch.table import PairRow
from terrasight.tasks.change.pipeline.checks import check_keywords
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.pipeline.options import ChangeOptions

DONE = "batch_pair.json"
"""File a finished pair leaves in its folder (its outcome)."""

Progress = Callable[[int, int, PairOutcome], None]
"""Called after each pair with (pairs finished, pairs in all, that pair's outcome)."""


@dataclass(frozen=True)
class BatchResult:
    """The outcome of every pair in table order, and the batch's own outputs."""

    outdir: Path
    pairs: tuple[PairOutcome, ...]
    outputs: dict[str, Path]

    @property
    def failed(self) -> tuple[PairOutcome, ...]:
        """The pairs that failed."""
        return tuple(p for p in self.pairs if p.status != "done")


def run_batch(
    pairs: Sequence[PairRow],
    outdir: str | Path,
    change: Mapping[str, Any] | None = None,
    *,
    report: bool = True,
    facts: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Run the change job of every pair into ``outdir/NAME``; one summary for the batch.

    Args:
        pairs: the table (:func:`~terrasight.tasks.batch.table.read_pairs`).
        outdir: the batch folder (created); a batch started again there resumes.
        change: options of each job, as :func:`detect_changes` takes them (``method``,
            ``min_pixels``, ``method_options``, ``bbox``...), checked before any pair runs.
        report, facts: also write each pair's ``report.html`` and ``facts.json``.
        workers: pairs at once: 1 runs them one after another here; more start a Dask
            ``LocalCluster`` of that many worker processes.
        scheduler: the address of a running Dask scheduler (``tcp://host:8786``) instead.
        progress: called after each pair (see :data:`Progress`).

    Writes ``batch_summary.csv`` and ``batch_summary.json`` (one row per pair: status,
    objects, changed area, reason of a failure) and ``batch_changes.gpkg`` (every pair's
    objects in WGS84, with the pair's name).

    Raises:
        InvalidOptionError: an unknown or out-of-range change option, or ``workers < 1``.
        MissingDependencyError: Dask is not installed and ``workers > 1`` or a scheduler.

    Example:
        >>> from terrasight.tasks.batch import read_pairs, run_batch
        >>> batch = run_batch(read_pairs("pairs.csv"), "out/", {"method": "cva"})  # doctest: +SKIP
        >>> [(p.name, p.objects) for p in batch.pairs]  # doctest: +SKIP
    """
    options = _checked(change or {}, workers)
    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    save = {"report": report, "facts": facts}
    jobs = [(row, folder / row.name) for row in pairs]
    found: dict[str, PairOutcome] = {}
    with _runner(workers, scheduler) as run:
        for outcome in run(jobs, options, save):
            found[outcome.name] = outcome
            if progress is not None:
                progress(len(found), len(jobs), outcome)
    ordered = tuple(found[row.name] for row in pairs)
    return BatchResult(folder, ordered, write_tables(folder, ordered))


def run_pair(
    row: PairRow, folder: Path, change: Mapping[str, Any], save: Mapping[str, Any]
) -> PairOutcome:
    """One pair's change job into ``folder``; its outcome (a failure is an outcome, not raised)."""
    marker = folder / DONE
    if marker.is_file():
        return PairOutcome(**{**json.loads(marker.read_text()), "resumed": True})
    start = time.perf_counter()
    base: dict[str, Any] = {"name": row.name, "before": row.before, "after": row.after}
    try:
        cache = ModelCache()
        result = detect_changes(row.before, row.after, outdir=folder, cache=cache, **change)
        result.save(folder, cache=cache, workers=change.get("workers", 2), **save)
    except TerrasightError as exc:
        return PairOutcome(**base, status="failed", error=_one_line(str(exc)))
    except Exception as exc:  # noqa: BLE001 - one broken pair must not lose the others
        return PairOutcome(**base, status="failed", error=_one_line(f"{type(exc).__name__}: {exc}"))
    outcome = PairOutcome(
        **base,
        status="done",
        objects=len(result.objects),
        changed_area=float(result.changed_area),
        area_unit=result.area_unit,
        changed_percent=round(100 * float(result.changed_fraction), 4),
        method=result.method,
        unreliable=bool(result.quality_issues),
        seconds=round(time.perf_counter() - start, 2),
    )
    part = marker.with_name(DONE + ".part")
    part.write_text(json.dumps(outcome.to_dict(), indent=2))
    os.replace(part, marker)
    return outcome


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _checked(change: Mapping[str, Any], workers: int) -> dict[str, Any]:
    """The change options, checked as ``detect_changes`` checks them, before any pair runs."""
    if workers < 1:
        raise InvalidOptionError(f"workers must be at least 1, not {workers}.")
    known = [f.name for f in fields(ChangeOptions)] + ["overwrite"]
    method = str(change.get("method", "auto"))
    check_keywords(change, known, method)
    ChangeOptions(**{k: v for k, v in change.items() if k != "overwrite"})
    return dict(change)


Runner = Callable[
    [list[tuple[PairRow, Path]], Mapping[str, Any], Mapping[str, Any]], Iterator[PairOutcome]
]


@contextlib.contextmanager
def _runner(workers: int, scheduler: str | None) -> Iterator[Runner]:
    """Where pairs run: here, one after another, or on Dask workers."""
    if workers == 1 and scheduler is None:
        yield lambda jobs, change, save: (run_pair(r, f, change, save) for r, f in jobs)
        return
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise MissingDependencyError(
            "running pairs on Dask needs the index extra: pip install 'terrasight[index]' "
            "(or run with workers=1)."
        ) from None
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(scheduler))

        def on_dask(
            jobs: list[tuple[PairRow, Path]], change: Mapping[str, Any], save: Mapping[str, Any]
        ) -> Iterator[PairOutcome]:
            # Dask's worker processes cannot start processes of their own: trace in threads.
            single = {**change, "workers": 1}
            futures = [
                client.submit(run_pair, row, folder, single, save, pure=False)
                for row, folder in jobs
            ]
            for future in as_completed(futures):
                yield future.result()

        yield on_dask
