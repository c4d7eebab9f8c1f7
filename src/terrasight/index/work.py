"""The work of an index build, in pieces a Dask worker (or this process) runs.

A build lists its files on the caller's side (:func:`list_files`,
:func:`file_hash`, :func:`remote_state`, :func:`tile_count`) and hands out
:class:`Unit` s (a file and a range of its tiles) in :func:`batches`. A source
is a local file, a URL or ``/vsi...`` path, or a STAC Item; it stays as given
(a string for remote ones) so workers open it themselves. :func:`embed_units` reads their tiles, embeds them and
returns the table's columns for them (:class:`Rows`), or a :class:`Failure`
naming the file: a bad file never stops a build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import shapely
from rasterio.windows import Window

from terrasight.errors import RasterReadError, TerrasightError
from terrasight.io.chips import (
    Scene,
    chip_windows,
    footprints,
    open_scene,
    read_chips,
    window_boxes,
)
from terrasight.io.raster import open_raster
from terrasight.io.remote import remote_identity, repair
from terrasight.io.rgb import PHOTO_SUFFIXES
from terrasight.io.stac import sniff_item
from terrasight.io.vectors import crs_id
from terrasight.tasks.embed import embed_images, load_model

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

SUFFIXES = PHOTO_SUFFIXES + (".tif", ".tiff", ".jp2", ".img", ".vrt")
"""File name endings a build indexes; other files in the folders are passed over."""
CHUNK = 256
"""Tiles of one scene per unit of work."""
BATCH_TILES = 64
"""Tiles embedded together (small files are grouped up to it)."""
NON_CACHED = "/vsicurl/:/vsis3/:/vsigs/:/vsiaz/"
"""GDAL's ``CPL_VSIL_CURL_NON_CACHED`` for index reads: remote files leave no cache behind."""


def fresh_reads() -> contextlib.AbstractContextManager[Any]:
    """GDAL settings for the reads of a build: a remote file is read anew at each open and
    dropped from GDAL's process-wide cache when closed, so a file changed on its server is
    seen changed by the next build (in this process, or on a long-lived Dask worker).

    A ``CPL_VSIL_CURL_NON_CACHED`` set in the environment wins.

    Example:
        >>> with fresh_reads():
        ...     rasterio.env.getenv()["CPL_VSIL_CURL_NON_CACHED"] == NON_CACHED
        True
    """
    if "CPL_VSIL_CURL_NON_CACHED" in os.environ:
        return contextlib.nullcontext()
    return rasterio.Env(CPL_VSIL_CURL_NON_CACHED=NON_CACHED)


@dataclass(frozen=True)
class Identity:
    """What tells whether a source changed since it was indexed.

    ``digest`` is the SHA-256 of a local file's bytes or of an Item's JSON, or of a remote
    file's size, ETag and Last-Modified; ``known`` is False when a server could not be asked.
    """

    digest: str
    size: int = 0
    mtime_ns: int = 0
    known: bool = True


@dataclass(frozen=True)
class Unit:
    """One piece of work: tiles ``start``..``stop`` of a file whose content hash is ``digest``."""

    path: str
    """The source as given: an absolute local path, or a URL, ``/vsi...`` path or Item href."""
    digest: str
    size: int
    mtime_ns: int
    tiles: int
    start: int
    stop: int
    tile: int
    overlap: int


@dataclass(frozen=True)
class Rows:
    """The table columns of a unit's tiles (``vector`` is float32 ``(n, dim)``)."""

    unit: Unit
    columns: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """A file that could not be indexed, and why (one line)."""

    path: str
    reason: str


def list_files(sources: Iterable[str | Path]) -> tuple[list[str], list[Failure]]:
    """The image files of ``sources`` (files, and folders searched recursively), sorted.

    Returns the local files as absolute paths and URLs, ``/vsi...`` paths and remote
    Items as given (never globbed), and a :class:`Failure` for each local source that
    does not exist.

    Example:
        >>> list_files(["no/such/folder"])[1][0].reason
        'not found'
        >>> list_files(["https://host/scenes/a.tif"])[0]
        ['https://host/scenes/a.tif']
    """
    files: set[str] = set()
    missing = []
    for source in sources:
        given = repair(source)
        if isinstance(given, str):
            files.add(given)
            continue
        path = given.resolve()
        if path.is_dir():
            files.update(
                str(p) for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
            )
        elif path.is_file():
            files.add(str(path))
        else:
            missing.append(Failure(str(source), "not found"))
    return sorted(files), missing


def file_hash(path: Path, block: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks.

    Example:
        >>> import os
        >>> file_hash(Path(os.devnull))[:12]
        'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def remote_state(source: str) -> Identity:
    """The :class:`Identity` of a URL or ``/vsi...`` source, its pixels unread.

    A STAC Item: the digest of its JSON (read again, it is small). A remote file: a
    digest of its size, ETag and Last-Modified (one ``HEAD`` request,
    :func:`~terrasight.io.remote.remote_identity`); ``known`` is False when the server
    gave none of them (unreachable, or a private bucket), so held rows are kept.

    Example:
        >>> remote_state("/vsizip/scenes.zip/a.tif").known
        False
    """
    try:
        item = sniff_item(source)
    except RasterReadError:  # an Item that cannot be fetched now
        return Identity(_digest({"path": source}), known=False)
    if item is not None:
        return Identity(item.digest)
    found = remote_identity(source)
    size = found.get("size")
    mtime_ns = 0
    if found.get("last_modified"):
        try:
            mtime_ns = int(parsedate_to_datetime(found["last_modified"]).timestamp() * 1e9)
        except (TypeError, ValueError):
            mtime_ns = 0
    known = len(found) > 1
    return Identity(_digest(found), size if isinstance(size, int) else 0, mtime_ns, known)


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def tile_count(path: str | Path, tile: int, overlap: int) -> int:
    """How many tiles of ``tile`` px a scene has (its header is read, not its pixels)."""
    source = repair(path)
    if isinstance(source, str):
        with fresh_reads():
            src = open_raster(source)
        return len(chip_windows(src.width, src.height, tile, overlap))
    if source.suffix.lower() in PHOTO_SUFFIXES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(source) as img:
                width, height = img.size
        except (OSError, UnidentifiedImageError) as exc:
            raise OSError(f"cannot be decoded ({exc})") from None
    else:
        src = open_raster(source)
        width, height = src.width, src.height
    return len(chip_windows(width, height, tile, overlap))


def units_of(source: str, identity: Identity, tiles: int, tile: int, overlap: int) -> list[Unit]:
    """A source's tiles in :data:`CHUNK`-tile units."""
    return [
        Unit(
            source,
            identity.digest,
            identity.size,
            identity.mtime_ns,
            tiles,
            s,
            min(s + CHUNK, tiles),
            tile,
            overlap,
        )
        for s in range(0, tiles, CHUNK)
    ]


def batches(units: Iterable[Unit], tiles: int = BATCH_TILES) -> list[list[Unit]]:
    """Consecutive units grouped up to ``tiles`` tiles, so small files are embedded together.

    Example:
        >>> units = [Unit(f"{i}.jpg", "h", 1, 0, 1, 0, 1, 224, 0) for i in range(5)]
        >>> [len(b) for b in batches(units, tiles=2)]
        [2, 2, 1]
    """
    out: list[list[Unit]] = []
    size = tiles
    for unit in units:
        n = unit.stop - unit.start
        if size + n > tiles:
            out.append([])
            size = 0
        out[-1].append(unit)
        size += n
    return out


def embed_units(
    units: list[Unit], model: Any, checkpoint: str | None = None, cache: ModelCache | None = None
) -> list[Rows | Failure]:
    """Read the tiles of ``units``, embed them together, and describe each unit's tiles.

    A file that cannot be read gives a :class:`Failure`; the others go on.

    Example:
        >>> unit = Unit("a.jpg", "ab12", 10, 0, 1, 0, 1, 224, 32)
        >>> embed_units([unit], "terrasight-vl")[0].columns["vector"].shape  # doctest: +SKIP
        (1, 128)
    """
    read: list[tuple[Unit, Scene, list[Window]] | Failure] = []
    chips: list[np.ndarray] = []
    for unit in units:
        try:
            with fresh_reads():
                scene = open_scene(unit.path)
                windows = chip_windows(scene.width, scene.height, unit.tile, unit.overlap)
                if len(windows) != unit.tiles:
                    raise OSError("the file changed while it was being indexed; run it again")
                windows = windows[unit.start : unit.stop]
                chips += read_chips(scene, windows)
            read.append((unit, scene, windows))
        except (TerrasightError, OSError, ValueError) as exc:
            read.append(Failure(unit.path, " ".join(str(exc).split())[:300] or type(exc).__name__))
    vl = load_model(model, checkpoint, cache=cache)
    vectors = embed_images(chips, vl) if chips else np.zeros((0, 0), np.float32)
    out: list[Rows | Failure] = []
    at = 0
    for item in read:
        if isinstance(item, Failure):
            out.append(item)
            continue
        unit, scene, windows = item
        out.append(
            Rows(unit, describe(scene, windows, vectors[at : at + len(windows)], unit.start))
        )
        at += len(windows)
    return out


def describe(
    scene: Scene, windows: list[Window], vectors: np.ndarray, start: int
) -> dict[str, Any]:
    """The table columns of a scene's tiles ``start``.. (windows and their vectors)."""
    boxes = window_boxes(scene, windows)
    shapes = footprints(scene, windows)
    n = len(windows)
    day = date.fromisoformat(scene.date) if scene.date else None
    extent = shapely.bounds(np.array(shapes, dtype=object)) if shapes else np.full((n, 4), np.nan)
    return {
        "vector": vectors,
        "tile": np.arange(start, start + n, dtype=np.int32),
        "col": [int(w.col_off) for w in windows],
        "row": [int(w.row_off) for w in windows],
        "width": [int(w.width) for w in windows],
        "height": [int(w.height) for w in windows],
        "bbox": boxes.tolist(),
        "crs": [crs_id(scene.crs)] * n,
        "footprint": list(shapely.to_wkb(np.array(shapes, dtype=object))) if shapes else [None] * n,
        "west": _or_none(extent[:, 0]),
        "south": _or_none(extent[:, 1]),
        "east": _or_none(extent[:, 2]),
        "north": _or_none(extent[:, 3]),
        "date": [day] * n,
    }


def _or_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
