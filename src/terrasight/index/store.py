"""The index on disk: one LanceDB table of tiles, its schema, its lock and its vector index.

One row per tile: the embedding (``vector``), the source file (``source``, its
content hash, size and modification time, and ``tiles``, how many tiles the file
has), the tile's window in pixels, its bounding box in the scene CRS
(``bbox``), its footprint in WGS84 (``footprint``, WKB; ``west``, ``south``,
``east``, ``north`` for filters), the CRS, the acquisition date when known, and
the model name and weights version. The table's schema metadata records the
model, so a later build or a search embeds with the same one.

All rows of one file are written in one commit, so the table never holds part
of a file: a file is indexed exactly when it has ``tiles`` rows, all with the
file's current hash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from terrasight.errors import InvalidOptionError, JobLockedError, MissingDependencyError

TABLE = "tiles"
LOCK = ".terrasight-build.lock"
META_KEY = b"terrasight"
ANN_MIN_ROWS = 100_000
"""Rows from which a build adds an approximate vector index; below it search is exact."""
CLEANUP = timedelta(minutes=10)
"""Table versions older than this are deleted after a build."""
ANN_INDEX = "IVF_HNSW_SQ"
"""The approximate index: IVF partitions, an HNSW graph in each, 8-bit scalar-quantised vectors."""


@dataclass(frozen=True)
class IndexModel:
    """The model whose embeddings an index holds.

    Attributes:
        name: its registry name; version: its weights version; dim: vector length.
        ref: how to load it (the registry name, or the path of a trained entry ``.json``).
        checkpoint: the weights file of an entry that does not ship them, or None.
    """

    name: str
    version: str
    dim: int
    ref: str = ""
    checkpoint: str | None = None


def lancedb_module() -> Any:
    """The ``lancedb`` module, or an error that says how to install it."""
    try:
        import lancedb
    except ImportError:
        raise MissingDependencyError(
            "the archive index needs LanceDB, PyArrow and Dask: pip install 'terrasight[index]'"
        ) from None
    return lancedb


def schema(model: IndexModel) -> Any:
    """The table's Arrow schema for the vectors of ``model``, recorded in its metadata.

    Example:
        >>> schema(IndexModel("terrasight-vl", "2", 128)).field("vector").type
        FixedSizeListType(fixed_size_list<item: float>[128])
    """
    import pyarrow as pa

    dim = model.dim
    meta = json.dumps(dataclasses.asdict(model))
    return pa.schema(
        [
            ("vector", pa.list_(pa.float32(), dim)),
            ("source", pa.string()),
            ("source_hash", pa.string()),
            ("source_size", pa.int64()),
            ("source_mtime_ns", pa.int64()),
            ("tiles", pa.int32()),
            ("tile", pa.int32()),
            ("col", pa.int32()),
            ("row", pa.int32()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("bbox", pa.list_(pa.float64(), 4)),
            ("crs", pa.string()),
            ("footprint", pa.binary()),
            ("west", pa.float64()),
            ("south", pa.float64()),
            ("east", pa.float64()),
            ("north", pa.float64()),
            ("date", pa.date32()),
            ("model", pa.string()),
            ("model_version", pa.string()),
        ],
        metadata={META_KEY: meta.encode()},
    )


def table_model(table: Any) -> IndexModel:
    """The model recorded in a table's schema metadata."""
    meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    return IndexModel(**meta)


def connect(db: str | Path) -> Any:
    """A LanceDB connection to the folder ``db`` (created when missing)."""
    return lancedb_module().connect(str(db))


def open_table(db: str | Path) -> Any | None:
    """The tile table of ``db``, or None when the folder holds none."""
    if not Path(db).is_dir():
        return None
    conn = connect(db)
    if TABLE not in conn.list_tables().tables:
        return None
    return conn.open_table(TABLE)


def open_or_create(db: str | Path, model: IndexModel) -> Any:
    """The tile table of ``db``, created for ``model`` when missing.

    Raises:
        InvalidOptionError: the table holds embeddings of another model.
    """
    table = open_table(db)
    if table is None:
        conn = connect(db)
        return conn.create_table(TABLE, schema=schema(model))
    held = table_model(table)
    if (held.name, held.version, held.dim) != (model.name, model.version, model.dim):
        raise InvalidOptionError(
            f"index {db} holds embeddings of model {held.name} (weights version "
            f"{held.version}, {held.dim} dimensions), not of {model.name} (version "
            f"{model.version}): build with --model {held.name}, or into a new --db folder."
        )
    return table


@contextlib.contextmanager
def build_lock(db: str | Path) -> Iterator[None]:
    """Hold the build lock of ``db`` for a block (the OS releases it if the process dies).

    Raises:
        JobLockedError: another process is building into ``db``.
    """
    folder = Path(db)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobLockedError(
                f"index {db}: another terrasight process is building it; wait for it to end."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def has_vector_index(table: Any) -> bool:
    """Whether the table has an index on its ``vector`` column."""
    return any("vector" in list(ix.columns) for ix in table.list_indices())


def maintain(table: Any, ann_min_rows: int = ANN_MIN_ROWS) -> str:
    """Compact the table, and add or update its approximate vector index once it is large.

    Returns ``"exact"`` or the name of the approximate index kind now in place.
    """
    rows = table.count_rows()
    if rows >= ann_min_rows and not has_vector_index(table):
        create_vector_index(table, rows)
    # compacts small commits, adds new rows to the vector index, drops versions older than
    # CLEANUP (kept a while for searches that may still read them)
    table.optimize(cleanup_older_than=CLEANUP)
    return ANN_INDEX if has_vector_index(table) else "exact"


def create_vector_index(table: Any, rows: int, kind: str = ANN_INDEX) -> None:
    """Build the approximate index on ``vector`` (cosine): about 1 partition per 4,000 rows."""
    partitions = max(1, rows // 4096)
    table.create_index(metric="cosine", index_type=kind, num_partitions=partitions, replace=True)
