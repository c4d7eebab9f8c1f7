"""Jobs on disk: one folder each, its state in ``job.json``, written whole or not at all.

``<jobs>/<id>/job.json`` the state; ``<jobs>/<id>/inputs/`` uploaded images;
``<jobs>/<id>/result/`` the change outputs (``terrasight change -o``'s folder).
Nothing lives only in memory: a new :class:`JobStore` on the same folder sees every job.

Example:
    >>> store = JobStore(Path("jobs"))  # doctest: +SKIP
    >>> job = store.create(before="a.tif", after="b.tif", method="cva", source="data")  # doctest: +SKIP
    >>> store.get(job.id).state  # doctest: +SKIP
    'queued'
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from terrasight.errors import OutputFolderError, UnknownJobError

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES = frozenset({"done", "failed", "cancelled"})
UNFINISHED_STATES = frozenset({"queued", "running"})
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
SAVE_EVERY_S = 0.5
"""Progress is written to disk at most this often (every state change at once)."""


@dataclass(frozen=True)
class Job:
    """One change job: its inputs, where it stands, and what went wrong if it failed.

    Attributes:
        id: 12 hex digits.
        kind: ``change`` (two images), ``series`` (three or more dates: ``images``) or
            ``image`` (one image described: ``before``).
        state: ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``.
        progress: 0 to 1.
        stage: what it is doing (``waiting``, ``detecting``, ``saving``, ``finished``...).
        error: the message when failed; ``status`` its HTTP status.
        classes: land-cover classes of a change job's changes (RGB images): None within the
            default budget, True every window, False none.
    """

    id: str
    before: str
    after: str
    method: str
    source: str
    state: str = "queued"
    progress: float = 0.0
    stage: str = "waiting"
    created: float = 0.0
    updated: float = 0.0
    error: str | None = None
    status: int | None = None
    cancel_requested: bool = False
    kind: str = "change"
    images: tuple[str, ...] = ()
    classes: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the input paths are shown by file name only.

        Example:
            >>> Job("0123456789ab", "/x/before.tif", "/x/after.tif", "cva", "sample").to_dict()["before"]
            'before.tif'
        """
        out = asdict(self)
        out["before"], out["after"] = Path(self.before).name, Path(self.after).name
        out["images"] = [Path(p).name for p in self.images]
        out["finished"] = self.state in FINAL_STATES
        return out


class JobStore:
    """The jobs under one folder; safe to use from several threads.

    Raises:
        OutputFolderError: the folder cannot be created or written.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFolderError(
                f"cannot create the jobs folder {self.root}: {exc.strerror or exc}; "
                "choose another with --store."
            ) from None
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._saved: dict[str, float] = {}
        for path in sorted(self.root.glob("*/job.json")):
            job = _read(path)
            if job is not None:
                self._jobs[job.id] = job

    def folder(self, job_id: str) -> Path:
        """The job's folder (the id is checked first)."""
        return self.root / check_id(job_id)

    def result_dir(self, job_id: str) -> Path:
        return self.folder(job_id) / "result"

    def input_dir(self, job_id: str) -> Path:
        return self.folder(job_id) / "inputs"

    def new_id(self) -> str:
        return uuid.uuid4().hex[:12]

    def create(
        self,
        before: str,
        after: str,
        method: str,
        source: str,
        job_id: str | None = None,
        kind: str = "change",
        images: tuple[str, ...] = (),
        classes: bool | None = None,
    ) -> Job:
        """A new queued job, written to disk."""
        now = time.time()
        job = Job(job_id or self.new_id(), str(before), str(after), method, source)
        job = replace(
            job,
            created=now,
            updated=now,
            kind=kind,
            images=tuple(map(str, images)),
            classes=classes,
        )
        self.folder(job.id).mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._jobs[job.id] = job
            self._write(job)
        return job

    def get(self, job_id: str) -> Job:
        """The job with this id.

        Raises:
            UnknownJobError: no such job.
        """
        with self._lock:
            job = self._jobs.get(check_id(job_id))
        if job is None:
            raise UnknownJobError(f"no job {job_id!r}; list the jobs with GET /api/jobs.")
        return job

    def all(self) -> list[Job]:
        """Every job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def unfinished(self) -> list[Job]:
        """Jobs queued or running (when the server stopped), oldest first."""
        return sorted(
            (j for j in self.all() if j.state in UNFINISHED_STATES), key=lambda j: j.created
        )

    def update(self, job_id: str, **changes: Any) -> Job:
        """Change some fields; on disk at once for a new state, else at most every 0.5 s."""
        with self._lock:
            old = self._jobs[check_id(job_id)]
            job = replace(old, **changes, updated=time.time())
            self._jobs[job_id] = job
            urgent = job.state != old.state or job.cancel_requested != old.cancel_requested
            if urgent or time.monotonic() - self._saved.get(job_id, 0.0) >= SAVE_EVERY_S:
                self._write(job)
        return job

    def _write(self, job: Job) -> None:
        path = self.root / job.id / "job.json"
        part = path.with_suffix(".json.part")
        part.write_text(json.dumps(asdict(job), indent=2), encoding="utf-8")
        os.replace(part, path)
        self._saved[job.id] = time.monotonic()


def check_id(job_id: str) -> str:
    """``job_id`` when it is 12 hex digits.

    Raises:
        UnknownJobError: anything else (it never reaches the file system).

    Example:
        >>> check_id("0123456789ab")
        '0123456789ab'
        >>> check_id("../etc")
        Traceback (most recent call last):
        ...
        terrasight.errors.UnknownJobError: no job '../etc': job ids are 12 hex digits.
    """
    if not JOB_ID.match(job_id):
        raise UnknownJobError(f"no job {job_id!r}: job ids are 12 hex digits.")
    return job_id


def _read(path: Path) -> Job | None:
    """The job in ``path``; None for a damaged file (a crash mid-write leaves the old one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = set(Job.__dataclass_fields__)
        data["images"] = tuple(data.get("images") or ())
        return Job(**{k: v for k, v in data.items() if k in fields})
    except (OSError, ValueError, TypeError):
        return None
