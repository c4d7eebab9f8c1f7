"""``build``: index the tiles of image files into a LanceDB table, incrementally and crash-safe.

A build compares the files of its sources with the table: a file whose size,
modification time or content hash differ from its rows, or whose rows are
incomplete, has its rows dropped and is indexed again; local files that no longer
exist lose their rows; unchanged files are left alone. A URL or ``/vsi...`` path is
compared by its size, ETag and Last-Modified (one ``HEAD`` request), a STAC Item by
its JSON; a server that cannot be asked leaves the rows as they are. Tiles are read and
embedded in units (:mod:`terrasight.index.work`) in this process or on a Dask
cluster (:mod:`terrasight.index.cluster`); this process alone writes, all rows
of a file in one commit, after dropping the file's old rows. Killed at any
moment, a build leaves each file either fully indexed or absent, and the next
run picks up where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from terrasight.errors import InvalidOptionError
from terrasight.index import store
from terrasight.index.cluster import make_runner
from terrasight.index.work import (
    Failure,
    Identity,
    Rows,
    Unit,
    batches,
    file_hash,
    list_files,
    remote_state,
    tile_count,
    units_of,
)
from terrasight.io.remote import is_remote
from terrasight.tasks.embed import DEFAULT_MODEL

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

log = logging.getLogger(__name__)

FLUSH_ROWS = 4096
"""Rows gathered before a commit (a commit also happens every :data:`FLUSH_SECONDS`)."""
FLUSH_SECONDS = 20.0


@dataclass
class BuildReport:
    """What a build did.

    Example:
        >>> BuildReport(Path("db"), added=2, tiles_added=8, seconds=2.0).tiles_per_second
        4.0
    """

    db: Path
    added: int = 0
    unchanged: int = 0
    removed: int = 0
    tiles_added: int = 0
    tiles_total: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    search: str = "exact"

    def skip(self, failure: Failure) -> None:
        """Record (and log) a file that could not be indexed."""
        log.info("skipped %s: %s", failure.path, failure.reason)
        self.failures.append(failure)

    @property
    def tiles_per_second(self) -> float:
        return self.tiles_added / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts, rates and the skipped files with their reasons."""
        return {
            "db": str(self.db),
            "files_added": self.added,
            "files_unchanged": self.unchanged,
            "files_removed": self.removed,
            "files_skipped": len(self.failures),
            "tiles_added": self.tiles_added,
            "tiles_total": self.tiles_total,
            "seconds": round(self.seconds, 2),
            "tiles_per_second": round(self.tiles_per_second, 2),
            "search": self.search,
            "skipped": [{"path": f.path, "reason": f.reason} for f in self.failures],
        }


def model_identity(
    model: str, checkpoint: str | None, cache: ModelCache | None
) -> store.IndexModel:
    """Name, weights version and dimension of a ``vl`` model (a registry name or an entry ``.json``)."""
    from terrasight.models.config import ModelConfig
    from terrasight.models.registry import get_config
    from terrasight.tasks.embed import embed_images, load_model

    if str(model).endswith(".json"):
        config = ModelConfig.from_dict(json.loads(Path(model).read_text(encoding="utf-8")))
    else:
        config = get_config(model)
    load_model(model, checkpoint, cache=cache)  # raises for a name that is not a vl model
    version = config.weights.version if config.weights else ""
    if checkpoint is not None:
        version = f"{version}+{Path(str(checkpoint)).name}"
    dim = config.params.get("dim")
    if not isinstance(dim, int):
        vl = load_model(model, checkpoint, cache=cache)
        dim = int(embed_images([np.zeros((8, 8, 3), np.uint8)], vl).shape[1])
    ref = str(Path(model).resolve()) if str(model).endswith(".json") else model
    found = None if checkpoint is None else str(checkpoint)
    return store.IndexModel(config.name, version, dim, ref, found)


def build(
    sources: Sequence[str | Path],
    db: str | Path,
    *,
    tile: int = 224,
    overlap: int = 32,
    model: str = DEFAULT_MODEL,
    checkpoint: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: ModelCache | None = None,
    ann_min_rows: int = store.ANN_MIN_ROWS,
    flush_rows: int = FLUSH_ROWS,
) -> BuildReport:
    """Index the tiles of the image files in ``sources`` into the LanceDB folder ``db``.

    Args:
        sources: files and folders (searched recursively for GeoTIFFs, JPEGs, PNGs...),
            ``http(s)``/``s3``/``gs`` URLs, ``/vsi...`` paths and STAC Items (rows name them
            as given).
        db: the index folder (created when missing).
        tile: tile side in pixels; overlap: pixels shared by neighbouring tiles.
        model: a ``vl`` registry name or a trained entry ``.json``; a table keeps one model.
        checkpoint: weights of a registry entry that does not ship them.
        workers: 1 runs in this process; more start a Dask LocalCluster of that many.
        scheduler: address of a running Dask scheduler (``tcp://HOST:PORT``) to use instead.
        progress: called as ``progress(tiles_done, tiles_to_do)`` after each unit of work.
        cache: keeps the model for later calls (this process only).
        ann_min_rows: rows from which an approximate vector index is built.
        flush_rows: rows gathered before each commit.

    Raises:
        InvalidOptionError: bad tile or overlap, or ``db`` holds another model's vectors.
        JobLockedError: another build is writing ``db``.

    Example:
        >>> report = build(["scenes/"], "archive.lance", workers=2)  # doctest: +SKIP
        >>> report.summary()["tiles_added"]  # doctest: +SKIP
        1234
    """
    if tile < 16 or not 0 <= overlap < tile // 2 + 1:
        raise InvalidOptionError(
            f"index build: tile {tile} px with overlap {overlap} px; the tile must be at least "
            "16 px and the overlap between 0 and half the tile."
        )
    started = time.perf_counter()
    ident = model_identity(model, checkpoint, cache)
    report = BuildReport(Path(db))
    with store.build_lock(db):
        table = store.open_or_create(db, ident)
        units = _plan(table, sources, tile, overlap, report)
        if units:
            with make_runner(workers, scheduler, model, checkpoint, cache) as runner:
                results = runner.map(batches(units))
                _run(table, ident, units, results, report, progress, flush_rows)
        report.tiles_total = table.count_rows()
        report.search = store.maintain(table, ann_min_rows)
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    table: Any, sources: Sequence[str | Path], tile: int, overlap: int, report: BuildReport
) -> list[Unit]:
    """The units to run; drops the rows of deleted, changed and incomplete files first."""
    held = _held(table)
    files, missing = list_files(sources)
    for failure in missing:
        report.skip(failure)
    stale = [s for s in held if not is_remote(s) and not Path(s).exists()]
    report.removed = len(stale)
    units: list[Unit] = []
    for source in files:
        rows = held.get(source)
        complete = rows is not None and rows["complete"]
        try:
            identity = _identity(source, rows if complete else None)
            if identity is None:
                report.unchanged += 1
                continue
            if rows is not None:
                stale.append(source)
            tiles = tile_count(source, tile, overlap)
        except (OSError, ValueError) as exc:
            report.skip(Failure(source, " ".join(str(exc).split())[:300]))
            continue
        units += units_of(source, identity, tiles, tile, overlap)
    _delete_sources(table, stale)
    return units


def _identity(source: str, rows: dict[str, Any] | None) -> Identity | None:
    """The source's :class:`Identity`, or None when its complete ``rows`` are up to date.

    A local file is unchanged when its size and modification time, else its content
    hash, match; a remote one when its digest matches or its server cannot be asked.
    """
    if is_remote(source):
        identity = remote_state(source)
        if rows is not None and (not identity.known or rows["hash"] == identity.digest):
            return None
        return identity
    stat = Path(source).stat()
    if rows is not None and rows["stat"] == (stat.st_size, stat.st_mtime_ns):
        return None
    identity = Identity(file_hash(Path(source)), stat.st_size, stat.st_mtime_ns)
    return None if rows is not None and rows["hash"] == identity.digest else identity


def _held(table: Any) -> dict[str, dict[str, Any]]:
    """Per source file in the table: its hash, (size, mtime) and whether all its rows are there."""
    cols = ["source", "source_hash", "source_size", "source_mtime_ns", "tiles"]
    data = table.search().select(cols).limit(None).to_arrow().to_pydict()
    held: dict[str, dict[str, Any]] = {}
    for src, digest, size, mtime, tiles in zip(*(data[c] for c in cols), strict=True):
        entry = held.setdefault(src, {"hashes": set(), "count": 0, "tiles": tiles})
        entry["hashes"].add(digest)
        entry["count"] += 1
        entry["stat"] = (size, mtime)
    for entry in held.values():
        entry["hash"] = next(iter(entry["hashes"]))
        entry["complete"] = len(entry["hashes"]) == 1 and entry["count"] == entry["tiles"]
    return held


def _delete_sources(table: Any, sources: Iterable[str], batch: int = 256) -> None:
    items = sorted(set(sources))
    for i in range(0, len(items), batch):
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in items[i : i + batch])
        table.delete(f"source IN ({quoted})")


def _run(
    table: Any,
    ident: store.IndexModel,
    units: list[Unit],
    results: Iterable[Rows | Failure],
    report: BuildReport,
    progress: Callable[[int, int], None] | None,
    flush_rows: int,
) -> None:
    """Gather each file's units and commit whole files as they complete."""
    total = sum(u.stop - u.start for u in units)
    waiting = Counter(u.path for u in units)
    parts: dict[str, list[Rows]] = {}
    failed: set[str] = set()
    pending: list[list[Rows]] = []
    done, last = 0, time.monotonic()
    for result in results:
        path = result.path if isinstance(result, Failure) else result.unit.path
        waiting[path] -= 1
        if isinstance(result, Failure):
            if path not in failed:
                failed.add(path)
                report.skip(result)
            parts.pop(path, None)
        elif path not in failed:
            parts.setdefault(path, []).append(result)
            done += result.unit.stop - result.unit.start
        if waiting[path] == 0 and path in parts:
            pending.append(parts.pop(path))
        if progress is not None:
            progress(done, total)
        size = sum(len(r.columns["tile"]) for f in pending for r in f)
        if pending and (size >= flush_rows or time.monotonic() - last > FLUSH_SECONDS):
            _commit(table, ident, pending, report)
            pending, last = [], time.monotonic()
    if pending:
        _commit(table, ident, pending, report)
    for path in sorted(p for p, n in waiting.items() if n > 0 and p not in failed):
        report.skip(Failure(path, "its tiles did not all come back from the workers; run again"))


def _commit(
    table: Any, ident: store.IndexModel, files: list[list[Rows]], report: BuildReport
) -> None:
    """Append the rows of whole files in one commit."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {}
    vectors = []
    for parts in files:
        for rows in sorted(parts, key=lambda r: r.unit.start):
            u, n = rows.unit, len(rows.columns["tile"])
            fixed = {
                "source": u.path,
                "source_hash": u.digest,
                "source_size": u.size,
                "source_mtime_ns": u.mtime_ns,
                "tiles": u.tiles,
                "model": ident.name,
                "model_version": ident.version,
            }
            for key, value in fixed.items():
                columns.setdefault(key, []).extend([value] * n)
            for key, value in rows.columns.items():
                if key == "vector":
                    vectors.append(value)
                else:
                    columns.setdefault(key, []).extend(list(value))
    flat = np.concatenate(vectors).astype(np.float32)
    schema = store.schema(ident)
    arrays = {"vector": pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), ident.dim)}
    arrays.update({k: pa.array(v, type=schema.field(k).type) for k, v in columns.items()})
    table.add(pa.table(arrays, schema=schema))
    report.added += len(files)
    report.tiles_added += len(flat)
