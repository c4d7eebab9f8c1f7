"""The on-disk journal that lets a change job be interrupted and resumed.

A job folder holds ``.terrasight-job.json`` (what is being computed: inputs,
method, options, and the fitted parameters) and ``.terrasight-tiles.jsonl``
(one line per finished tile, written only after the tile's pixels are on
disk). Re-running the same job skips finished tiles, so nothing is lost and
nothing is counted twice; a different job in the same folder is refused. An
unfinished job whose input files have changed since (a damaged file replaced)
starts again from scratch.

While a job runs it holds an exclusive lock on ``.terrasight-lock`` in the
folder (``flock``: the system releases it when the process ends, however it
ends), so a second run into the same folder is refused at once instead of
writing into the same files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from terrasight.errors import JobLockedError, OutputExistsError, OutputFolderError
from terrasight.io.remote import is_remote, remote_identity, source_name

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not guarded
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
T = TypeVar("T")

JOB_FILE = ".terrasight-job.json"
TILES_FILE = ".terrasight-tiles.jsonl"
LOCK_FILE = ".terrasight-lock"
INPUTS = ("before", "after")
"""Signature keys that identify the input files' content."""


@contextlib.contextmanager
def job_lock(folder: Path) -> Iterator[None]:
    """Hold the job folder's lock while the block runs.

    Raises:
        JobLockedError: another process holds it: a job is already running there.

    Example:
        >>> with job_lock(Path("changes")):  # doctest: +SKIP
        ...     run_the_job()
    """
    _make_folder(folder)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise JobLockedError(
                    f"a job is already running in {folder} (pid {pid}); wait for it to finish, "
                    "or choose another output folder."
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def in_temporary_folder(prefix: str, run: Callable[[Path], T]) -> T:
    """``run(folder)`` in a new temporary folder that belongs to the result: removed when the
    result is garbage-collected (or the interpreter exits), or at once when ``run`` fails.

    Example:
        >>> result = in_temporary_folder("terrasight-", lambda folder: run_job(folder))  # doctest: +SKIP
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        result = run(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(result, shutil.rmtree, str(folder), ignore_errors=True)
    return result


def file_identity(path: Path | str) -> dict[str, Any]:
    """What identifies an input file's content cheaply: absolute path, size, modification time.

    For a URL: the URL, its size, ETag and Last-Modified (one request; the file is not read).

    Example:
        >>> file_identity("https://host/a.tif")["path"]  # doctest: +SKIP
        'https://host/a.tif'
    """
    if is_remote(path):
        return remote_identity(str(path))
    path = Path(path)
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@dataclass
class Job:
    """A job folder's journal."""

    folder: Path
    signature: dict[str, Any]
    fitted: dict[str, Any] | None = None
    complete: bool = False

    @property
    def tiles_path(self) -> Path:
        return self.folder / TILES_FILE

    def done_tiles(self) -> dict[int, dict[str, int]]:
        """Finished tiles by index with their pixel counts (a torn last line is ignored)."""
        done: dict[int, dict[str, int]] = {}
        if not self.tiles_path.exists():
            return done
        for line in self.tiles_path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[int(rec["tile"])] = rec
        return done

    def record_tiles(self, records: list[dict[str, int]]) -> None:
        """Append finished tiles (after their pixels are on disk), durably, with one sync."""
        if not records:
            return
        with open(self.tiles_path, "a") as f:
            f.write("".join(json.dumps(record) + "\n" for record in records))
            f.flush()
            os.fsync(f.fileno())

    def save(self) -> None:
        data = {"signature": self.signature, "fitted": self.fitted, "complete": self.complete}
        tmp = self.folder / (JOB_FILE + ".part")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.folder / JOB_FILE)


def open_job(folder: Path, signature: dict[str, Any], outputs: list[str], overwrite: bool) -> Job:
    """Start a job in ``folder`` or resume the same job found there.

    Raises:
        OutputExistsError: the folder holds results of a different job (or results
            without a journal) and ``overwrite`` is false.
    """
    _make_folder(folder)
    journal = folder / JOB_FILE
    if journal.exists() and not overwrite:
        try:
            data = json.loads(journal.read_text())
        except json.JSONDecodeError:
            data = {}
        if data.get("signature") == signature:
            return Job(folder, signature, data.get("fitted"), bool(data.get("complete")))
        if _inputs_changed_only(data, signature):
            log.warning(
                "the input files changed since the unfinished job in %s: starting again", folder
            )
            return _fresh_job(folder, signature)
        raise OutputExistsError(
            f"{folder} holds results of a different change job ({_describe(data)}). "
            "Choose another output folder, or pass overwrite=True (--overwrite) to replace them."
        )
    existing = [n for n in outputs if (folder / n).exists()]
    if existing and not overwrite and not journal.exists():
        raise OutputExistsError(
            f"{folder} already holds {', '.join(existing)}; they won't be overwritten without "
            "overwrite=True (--overwrite). Choose another output folder to keep them."
        )
    return _fresh_job(folder, signature)


def _fresh_job(folder: Path, signature: dict[str, Any]) -> Job:
    for name in [JOB_FILE, TILES_FILE]:
        (folder / name).unlink(missing_ok=True)
    job = Job(folder, signature)
    job.save()
    return job


def _inputs_changed_only(data: dict[str, Any], signature: dict[str, Any]) -> bool:
    """An unfinished job of the same files and options whose files' content has changed."""
    old = data.get("signature")
    if data.get("complete") or not isinstance(old, dict) or set(old) != set(signature):
        return False
    for key in signature:
        if key in INPUTS:
            if (old[key] or {}).get("path") != signature[key].get("path"):
                return False
        elif old[key] != signature[key]:
            return False
    return True


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"output folder {folder} is a file; give a folder path.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".terrasight-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputFolderError(
            f"cannot write into the output folder {folder}: {exc.strerror or exc}. "
            "Choose a folder you can write to."
        ) from None


def _describe(data: dict[str, Any]) -> str:
    sig = data.get("signature") or {}
    try:
        before, after = source_name(sig["before"]["path"]), source_name(sig["after"]["path"])
        return f"before={before}, after={after}, method={sig['method']}"
    except (KeyError, TypeError):
        return "unreadable journal"
