"""Running a fitted change method over every tile of a pair, and writing the tiles.

Workers read and compute tiles on threads (each read opens its own handles);
the calling thread writes each finished tile into the two part files and
records it in the job journal, so an interrupted run resumes without losing
or repeating a tile. Tiles are made durable in groups (one ``fsync`` per file
every :data:`COMMIT_SECONDS`), then journalled: a crash loses at most that
much work, never a tile the journal counts as done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import rasterio
from rasterio.enums import Resampling

from terrasight.io.pair import PairReader, RasterPair
from terrasight.io.tiling import Tile, TileGrid
from terrasight.tasks.change.methods.base import FittedChange
from terrasight.tasks.change.pipeline.job import Job
from terrasight.tasks.change.result import MASK_NODATA

if TYPE_CHECKING:
    from rasterio.windows import Window

BLOCK = 256
"""Block size of the output GeoTIFFs; tile sizes are multiples of it."""
PROBABILITY_FLOOR = 1e-3
"""Probabilities below this are stored as 0."""
COMMIT_SECONDS = 2.0
"""Finished tiles are synced to disk and journalled together at most this often."""
Progress = Callable[[int, int], None]
"""Called with (pixels just finished, total pixels of the job)."""


class CloudLayer(Protocol):
    """What tiles need of :class:`terrasight.tasks.change.pipeline.clouds.CloudLayer` (which imports this)."""

    def masked(self, window: Window) -> np.ndarray: ...


def read_tile(reader: PairReader, window, clouds: CloudLayer | None):
    """Read a window of both dates: before, after, valid, cloud, valid_before, valid_after.

    ``cloud`` is True where both dates have data but the pixel is excluded as
    cloud or cloud shadow (looked up in the job's cloud layer); ``valid`` is
    False there.
    """
    b, a, vb, va = reader.read_dates(window)
    valid = vb & va
    cloud = np.zeros(valid.shape, bool)
    if clouds is not None:
        cloud = clouds.masked(window) & valid
        valid &= ~cloud
    return b, a, valid, cloud, vb, va


def create_outputs(pair: RasterPair, paths: dict[str, Path], fresh: bool) -> None:
    if not fresh and all(p.exists() for p in paths.values()):
        return
    h, w = pair.shape
    base = dict(
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        tiled=True,
        blockxsize=BLOCK,
        blockysize=BLOCK,
        BIGTIFF="IF_SAFER",
    )
    if pair.before.crs is not None:
        base.update(crs=pair.before.crs, transform=pair.transform)
    # The mask is small and deflate reads everywhere; the float probability is large
    # and ZSTD (GDAL >= 2.3) writes it several times faster than deflate.
    specs = {
        "mask": dict(dtype="uint8", nodata=MASK_NODATA, compress="deflate"),
        "probability": dict(dtype="float32", nodata=float("nan"), compress="zstd", zstd_level=1),
    }
    for kind, spec in specs.items():
        with rasterio.open(paths[kind], "w", **spec, **base):
            pass


TileResult = tuple[Tile, tuple[np.ndarray, np.ndarray], int]
"""A finished window: the tile, its core's (probability, mask) and its cloud pixel count."""
Mapper = Callable[[Callable[[Tile], TileResult], list[Tile]], Iterator[TileResult]]
"""Runs a window function over tiles, yielding results in completion order."""


def tile_work(
    pair: RasterPair, fitted: FittedChange, clouds: CloudLayer | None
) -> Callable[[Tile], TileResult]:
    """The work of one window: read both dates, apply the fitted method, cut the core."""

    def work(tile: Tile) -> TileResult:
        # Each call opens its own handles: datasets are not shared between threads,
        # and opening a GeoTIFF costs little next to decoding a tile.
        with pair.readers() as reader:
            b, a, valid, cloud, _, _ = read_tile(reader, tile.read, clouds)
        prob = fitted.probability(b, a, valid)
        rs, cs = tile.core_slices
        # Only the core is written, so only the core's cloud pixels are counted.
        cloudy = int(cloud[rs, cs].sum())
        return tile, tile_outputs(prob[rs, cs], valid[rs, cs], fitted.threshold), cloudy

    return work


def thread_mapper(workers: int) -> Mapper:
    """Windows on ``workers`` threads of this process, at most twice that many in flight."""

    def run(work: Callable[[Tile], TileResult], todo: list[Tile]) -> Iterator[TileResult]:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from bounded_map(pool, work, todo, 2 * workers)

    return run


def process_tiles(
    pair: RasterPair,
    grid: TileGrid,
    fitted: FittedChange,
    clouds: CloudLayer | None,
    job: Job,
    paths: dict[str, Path],
    workers: int,
    progress: Progress | None,
    mapper: Mapper | None = None,
) -> None:
    """Compute every tile not yet journalled (on threads, or with ``mapper``), write it and
    journal it."""
    done = job.done_tiles()
    todo = [t for t in grid if t.index not in done]
    total = int(grid.region.width * grid.region.height)
    if progress:
        progress(sum(int(grid[i].core.width * grid[i].core.height) for i in done), total)
    run = mapper or thread_mapper(workers)
    pending: list[dict[str, int]] = []
    last = time.monotonic()
    try:
        for tile, (prob, mask), cloudy in run(tile_work(pair, fitted, clouds), todo):
            write_tile(paths, tile.relative_core(grid.region), prob, mask, sync=False)
            rec = {"tile": tile.index, "valid": int((mask != MASK_NODATA).sum())}
            rec.update(changed=int((mask == 1).sum()), cloud=cloudy)
            pending.append(rec)
            if time.monotonic() - last >= COMMIT_SECONDS:
                _commit(paths, job, pending)
                pending, last = [], time.monotonic()
            if progress:
                progress(int(tile.core.width * tile.core.height), total)
    finally:  # interrupted too: the tiles written whole are kept
        _commit(paths, job, pending)


def _commit(paths: dict[str, Path], job: Job, records: list[dict[str, int]]) -> None:
    """Put the tiles written so far on disk, then journal them."""
    if records:
        for path in paths.values():
            sync_file(path)
        job.record_tiles(records)


def bounded_map(pool: ThreadPoolExecutor, fn, items: list, limit: int) -> Iterator[Any]:
    """Like ``pool.map`` but with at most ``limit`` items in flight; yields in completion order."""
    pending: set[Future] = set()
    it = iter(items)
    try:
        for item in it:
            pending.add(pool.submit(fn, item))
            if len(pending) >= limit:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    yield f.result()
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                yield f.result()
    finally:
        for f in pending:
            f.cancel()


def tile_outputs(prob: np.ndarray, valid: np.ndarray, threshold: float):
    """The probability (NaN where invalid) and mask (1, 0, 255) of one tile's core.

    Probabilities below :data:`PROBABILITY_FLOOR` are stored as 0: it keeps the
    file small and fast to write, and such values carry no information.
    """
    mask = (prob >= threshold).view(np.uint8)
    mask[~valid] = MASK_NODATA
    prob = prob.astype(np.float32, copy=True)
    prob[prob < PROBABILITY_FLOOR] = 0
    prob[~valid] = np.nan
    return prob, mask


def write_tile(
    paths: dict[str, Path], window, prob: np.ndarray, mask: np.ndarray, sync: bool = True
) -> None:
    """Write one tile's core into both part files (made durable unless ``sync`` is False).

    Closing a file hands its data to the OS; the ``fsync`` puts it on disk, so
    a tile recorded as done survives a power cut or machine crash, not only a
    killed process. Journal a tile only once its files are synced.
    """
    for key, data in (("probability", prob), ("mask", mask)):
        with rasterio.open(paths[key], "r+") as ds:
            ds.write(data, 1, window=window)
        if sync:
            sync_file(paths[key])


def sync_file(path: Path) -> None:
    """Flush a closed file's data to disk (``fsync``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def totals(records) -> dict[str, int]:
    out = {"valid": 0, "changed": 0, "cloud": 0}
    for rec in records:
        for k in out:
            out[k] += int(rec.get(k, 0))
    return out


def build_overviews(path: Path) -> None:
    """Overviews of the mask (cheap on uint8) so GIS viewers open large results quickly."""
    with rasterio.open(path, "r+") as ds:
        factors = [f for f in (4, 16, 64) if min(ds.width, ds.height) // f >= BLOCK // 2]
        if factors:
            ds.build_overviews(factors, Resampling.nearest)
