"""The work of an index build, in pieces a Dask worker (or this process) runs.

A build lists its files on the caller's side (:func:`list_files`,
:func:`file_hash`, :func:`tile_count`) and hands out :class:`Unit` s (a file
and a range of its tiles) in :func:`batches`. :func:`embed_units` reads their tiles, embeds them and
returns the table's columns for them (:class:`Rows`), or a :class:`Failure`
naming the file: a bad file never stops a build.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from rasterio.windows import Window

from terrasight.errors import TerrasightError
from terrasight.io.chips import (
    Scene,
    chip_windows,
    footprints,
    open_scene,
    read_chips,
    window_boxes,
)
from terrasight.io.rgb import PHOTO_SUFFIXES
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


@dataclass(frozen=True)
class Unit:
    """One piece of work: tiles ``start``..``stop`` of a file whose content hash is ``digest``."""

    path: str
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


def list_files(sources: Iterable[str | Path]) -> tuple[list[Path], list[Failure]]:
    """The image files of ``sources`` (files, and folders searched recursively), sorted.

    Returns the files, absolute, and a :class:`Failure` for each source that does not exist.

    Example:
        >>> list_files(["no/such/folder"])[1][0].reason
        'not found'
    """
    files: set[Path] = set()
    missing = []
    for source in sources:
        path = Path(source).resolve()
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        elif path.is_file():
            files.add(path)
        else:
            missing.append(Failure(str(source), "not found"))
    return sorted(files), missing


def file_hash(path: Path, block: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks.

    Example:
        >>> file_hash(Path(os.devnull))[:12]
        'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def tile_count(path: Path, tile: int, overlap: int) -> int:
    """How many tiles of ``tile`` px a scene has (its header is read, not its pixels)."""
    if path.suffix.lower() in PHOTO_SUFFIXES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                width, height = img.size
        except (OSError, UnidentifiedImageError) as exc:
            raise OSError(f"cannot be decoded ({exc})") from None
    else:
        scene = open_scene(path)
        width, height = scene.width, scene.height
    return len(chip_windows(width, height, tile, overlap))


def units_of(
    path: Path, digest: str, stat: os.stat_result, tiles: int, tile: int, overlap: int
) -> list[Unit]:
    """A file's tiles in :data:`CHUNK`-tile units."""
    return [
        Unit(
            str(path),
            digest,
            stat.st_size,
            stat.st_mtime_ns,
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
            scene = open_scene(unit.path)
            windows = chip_windows(scene.width, scene.height, unit.tile, unit.overlap)
            if len(windows) != unit.tiles:
                raise OSError("the file changed while it was being indexed; run the build again")
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
