"""Runs change jobs in the background, N at a time in submission order, and resumes unfinished
ones; a job waiting for a free slot has a place in the queue (1 runs next).

A job is :func:`terrasight.tasks.change.pipeline.detect.detect_changes` into the job's
``result/`` folder, the land cover of its changes on RGB images
(:func:`~terrasight.server.job_kinds.with_classes`), then ``result.save`` there: the
same code as ``terrasight change -o``, so an interrupted job resumes from the windows
it had finished.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path

from rasterio.errors import RasterioError

from terrasight.errors import TerrasightError, http_status
from terrasight.models.runtime import ModelCache
from terrasight.server.job_kinds import run_image, run_series, with_classes
from terrasight.server.jobs import FINAL_STATES, JobStore

log = logging.getLogger(__name__)

DETECT_SHARE = 0.8
"""Share of the progress bar given to detection; saving (facts, report) takes the rest."""


class JobRunner:
    """``parallel`` background threads working through the queued jobs, oldest first.

    Example:
        >>> runner = JobRunner(store, ModelCache(), parallel=2)  # doctest: +SKIP
        >>> runner.resume()  # doctest: +SKIP
        >>> runner.submit(job.id)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: JobStore,
        cache: ModelCache,
        workers: int = 2,
        classify: bool = True,
        parallel: int = 1,
    ) -> None:
        self.store = store
        self.cache = cache
        self.workers = workers
        self.classify = classify
        self.parallel = parallel
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="terrasight-job")
        self._waiting: list[str] = []  # submitted, not started yet, in order
        self._lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        self._futures: dict[str, Future] = {}
        self._closing = threading.Event()

    def submit(self, job_id: str) -> None:
        """Queue the job to run."""
        self._cancel.setdefault(job_id, threading.Event())
        with self._lock:
            self._waiting.append(job_id)
            self._futures[job_id] = self._pool.submit(self._run, job_id)

    def position(self, job_id: str) -> int | None:
        """The job's place in the queue (1: it starts next), or None when it is not waiting."""
        with self._lock:
            return self._waiting.index(job_id) + 1 if job_id in self._waiting else None

    def resume(self) -> list[str]:
        """Queue every job left unfinished by an earlier server; their ids."""
        ids = [job.id for job in self.store.unfinished()]
        for job_id in ids:
            self.store.update(job_id, state="queued", stage="resuming")
            self.submit(job_id)
        return ids

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop; False when it had already finished."""
        job = self.store.get(job_id)
        if job.state in FINAL_STATES:
            return False
        self._cancel.setdefault(job_id, threading.Event()).set()
        with self._lock:
            waiting = job_id in self._waiting
            if waiting:  # never started: cancelled at once, its place given up
                self._waiting.remove(job_id)
        if waiting:
            self.store.update(job_id, state="cancelled", stage="cancelled", cancel_requested=True)
        else:
            self.store.update(job_id, cancel_requested=True)
        return True

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until the job's run ends (for tests and scripts)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def close(self) -> None:
        """Stop after the window being worked on; unfinished jobs stay queued on disk."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _stopping(self, job_id: str) -> bool:
        return self._closing.is_set() or self._cancel[job_id].is_set()

    def _run(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._waiting:
                self._waiting.remove(job_id)
        job = self.store.get(job_id)
        if job.state in FINAL_STATES:
            return
        if self._stopping(job_id):
            self._stopped(job_id)
            return
        self.store.update(job_id, state="running", stage="detecting", error=None, status=None)
        try:
            self._detect_and_save(job_id)
        except CancelledError:
            self._stopped(job_id)
        except TerrasightError as exc:
            self.store.update(job_id, state="failed", error=str(exc), status=http_status(exc))
        except RasterioError as exc:
            self.store.update(job_id, state="failed", error=f"raster error: {exc}", status=422)
        except Exception:  # a bug: the log has the traceback, the client a sentence
            log.exception("job %s failed", job_id)
            message = "internal error while running the job; the server log has the details."
            self.store.update(job_id, state="failed", error=message, status=500)

    def _stopped(self, job_id: str) -> None:
        if self._cancel[job_id].is_set():
            self.store.update(job_id, state="cancelled", stage="cancelled")
        else:  # the server is shutting down: left queued, resumed on the next start
            self.store.update(job_id, state="queued", stage="interrupted")

    def _detect_and_save(self, job_id: str) -> None:
        job = self.store.get(job_id)
        outdir = self.store.result_dir(job_id)
        if job.kind == "change":
            self._change(job_id)
            return
        if job.kind == "series":
            images = [Path(p) for p in job.images]
            run_series(images, job.method, outdir, self.cache, self.workers)
        else:
            run_image(Path(job.before), outdir, self.cache)
        if self._stopping(job_id):
            raise CancelledError()
        self.store.update(job_id, state="done", stage="finished", progress=1.0)

    def _change(self, job_id: str) -> None:
        from terrasight.tasks.change.pipeline.detect import detect_changes
        from terrasight.tasks.interpret.facts import FactsOptions

        job = self.store.get(job_id)
        done = [0]

        def progress(n: int, total: int) -> None:
            if self._stopping(job_id):
                raise CancelledError()
            done[0] += n
            share = min(done[0] / max(total, 1), 1.0) * DETECT_SHARE
            self.store.update(job_id, progress=round(share, 4))

        outdir = self.store.result_dir(job_id)
        started = time.perf_counter()
        result = detect_changes(
            Path(job.before),
            Path(job.after),
            job.method,
            outdir=outdir,
            progress=progress,
            cache=self.cache,
            workers=self.workers,
            overwrite=False,
        )
        if self._stopping(job_id):
            raise CancelledError()
        if job.classes is not False:
            self.store.update(job_id, stage="classifying", progress=DETECT_SHARE)
            result = with_classes(result, job.classes, time.perf_counter() - started, self.cache)
        if self._stopping(job_id):
            raise CancelledError()
        self.store.update(job_id, stage="saving", progress=DETECT_SHARE)
        result.save(outdir, cache=self.cache, facts=FactsOptions(classify=self.classify))
        self.store.update(job_id, state="done", stage="finished", progress=1.0)
