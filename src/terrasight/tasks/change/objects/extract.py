"""Changed regions of a change mask as :class:`ChangeObject` s, in bounded memory.

The mask may be far larger than memory, so it is read in non-overlapping tiles,
twice:

1. :func:`~terrasight.tasks.change.objects.components.label_components` labels each
   tile, merges labels across tile borders and sums per object its pixels,
   probabilities, pixel positions and bounding box.
2. Each tile is labelled again (labelling is deterministic) and traced by
   :func:`~terrasight.tasks.change.objects.trace.trace_tile`, in ``workers`` processes:
   pixels of objects below the size filter are set to 0 in the mask file (by
   this process only, in place), and the kept objects are traced into
   polygons, in scene pixel coordinates so pieces from neighbouring tiles
   share exact vertices and union cleanly.

Each object is written to disk as soon as it is finished (its last tile
traced); only its sort key stays in memory. At the end the objects are
rewritten largest first with their ids and WGS84 positions into
``change_objects.jsonl``, read back lazily through an
:class:`~terrasight.tasks.change.store.ObjectsView`.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing
from array import array
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from affine import Affine

from terrasight.io.vectors import as_crs, bounds_to_lonlat, pixel_area, to_lonlat
from terrasight.tasks.change.names import STORE_NAME
from terrasight.tasks.change.objects.components import (
    Components,
    label_components,
    open_raster_quietly,
)
from terrasight.tasks.change.objects.trace import (
    Scene,
    TileOutcome,
    TileTask,
    draft_record,
    merge_pieces,
    trace_tile,
)
from terrasight.tasks.change.store import ObjectsView, ObjectWriter, dump_line

SORT_BATCH = 4096
"""Objects given their WGS84 positions per call while sorting."""
_START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
"""Fork where there is one: workers start at once and a caller's script needs no
``if __name__ == "__main__"`` guard (the tracing workers use neither threads nor
PyTorch). Elsewhere, spawn."""


def extract_objects(
    mask_path: Path,
    probability_path: Path,
    min_pixels: int,
    crs: str | None,
    transform: Affine,
    tile_size: int = 2048,
    connectivity: int = 8,
    workers: int = 1,
    store_path: Path | None = None,
) -> tuple[ObjectsView, int]:
    """Connected changed regions of a mask file, largest first; drops the small ones in place.

    Args:
        mask_path: single-band uint8 GeoTIFF, 1 changed, 0 unchanged, 255 no data.
            Pixels of objects smaller than ``min_pixels`` are set to 0 in it.
        probability_path: float32 probability raster on the same grid, NaN no data.
        min_pixels: smallest object kept, in pixels.
        crs: the image CRS (WKT or ``"EPSG:xxxx"``), or None for pixel space.
        transform: the grid's affine transform (identity for pixel space).
        tile_size: side of the tiles read at a time; bounds memory.
        connectivity: 8 (pixels touching at a corner join) or 4.
        workers: processes tracing tiles (1: all in this process). The objects
            and their ids do not depend on it.
        store_path: where the objects are written (default ``change_objects.jsonl``
            beside the mask).

    Returns:
        The objects, sorted by area descending with ids 1..n, as a lazy
        sequence over the store file, and the number of changed pixels left in
        the mask after the size filter.

    Example:
        >>> objects, changed = extract_objects(
        ...     Path("change_mask.tif"), Path("change_probability.tif"), 10,
        ...     "EPSG:32633", from_origin(500000, 5000000, 10, 10))  # doctest: +SKIP
        >>> objects[0].area, objects[0].location  # doctest: +SKIP
        (2400.0, 'north-east')
    """
    mask_path = Path(mask_path)
    comps = label_components(mask_path, Path(probability_path), tile_size, connectivity)
    keep = comps.stats["pixels"] >= max(1, int(min_pixels))
    store = Path(store_path) if store_path else mask_path.with_name(STORE_NAME)
    scene = _scene(comps, crs, transform)
    drafts = _Drafts(store.with_name(store.name + ".drafts"))
    try:
        _filter_and_trace(mask_path, comps, keep, scene, drafts, max(1, int(workers)))
        view = drafts.write_sorted(store, crs)
    finally:
        drafts.discard()
    changed = int(comps.stats["pixels"][keep].sum())
    return view, changed


def _scene(comps: Components, crs: str | None, transform: Affine) -> Scene:
    height, width = int(comps.grid.region.height), int(comps.grid.region.width)
    parsed = as_crs(crs)
    unit_area, unit = pixel_area(parsed, transform, shape=(height, width))
    return Scene(
        crs=parsed,
        transform=tuple(transform)[:6],
        width=width,
        height=height,
        unit_area=unit_area,
        unit=unit,
        connectivity=comps.connectivity,
        tile_size=comps.grid.size,
    )


def _filter_and_trace(
    mask_path: Path,
    comps: Components,
    keep: np.ndarray,
    scene: Scene,
    drafts: _Drafts,
    workers: int,
) -> None:
    """Second pass: zero the small objects in the mask file, trace and record the kept ones."""
    pixels = comps.stats["pixels"]
    removes = bool(np.any((pixels > 0) & ~keep))
    pending = _Pending(scene)
    with open_raster_quietly(mask_path, "r+" if removes else "r") as ds:
        tasks = _tasks(ds, comps, keep)
        for outcome in _outcomes(tasks, scene, workers, _busy_tiles(comps)):
            if outcome.filtered is not None:
                ds.write(outcome.filtered, 1, window=comps.grid[outcome.index].core)
            for finished in outcome.finished:
                drafts.add(*finished)
            for finished in pending.add(outcome, comps.stats):
                drafts.add(*finished)
    for finished in pending.flush(comps.stats):
        drafts.add(*finished)


def _busy_tiles(comps: Components) -> int:
    return int(np.count_nonzero(np.diff(comps.offsets)))


def _tasks(ds: Any, comps: Components, keep: np.ndarray) -> Iterator[TileTask]:
    """A task for every tile holding changed pixels, its mask read by this process."""
    for tile in comps.grid:
        offset, end = int(comps.offsets[tile.index]), int(comps.offsets[tile.index + 1])
        if end == offset:
            continue
        roots = comps.roots[offset + 1 : end + 1]
        kept = keep[roots]
        ids = np.unique(roots[kept])
        window = tile.core
        yield TileTask(
            index=tile.index,
            col_off=int(window.col_off),
            row_off=int(window.row_off),
            mask=ds.read(1, window=window),
            roots=roots,
            keep=kept,
            stats={"id": ids, **{k: v[ids] for k, v in comps.stats.items()}},
        )


def _outcomes(
    tasks: Iterator[TileTask], scene: Scene, workers: int, busy: int
) -> Iterator[TileOutcome]:
    """Outcomes of the tasks in tile order, traced here or by ``workers`` processes."""
    if workers <= 1 or busy <= 1:
        for task in tasks:
            yield trace_tile(task, scene)
        return
    context = multiprocessing.get_context(_START_METHOD)
    with ProcessPoolExecutor(min(workers, busy), mp_context=context) as pool:
        queue: deque[Future[TileOutcome]] = deque()
        for task in tasks:  # at most two tiles per worker in flight: bounded memory
            queue.append(pool.submit(trace_tile, task, scene))
            if len(queue) >= 2 * workers:
                yield queue.popleft().result()
        while queue:
            yield queue.popleft().result()


class _Pending:
    """Pieces of objects spanning several tiles, kept until their last tile is traced."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.pieces: dict[int, list[shapely.Geometry]] = {}
        self.due: list[tuple[int, int]] = []  # (last tile index, component id)

    def add(
        self, outcome: TileOutcome, stats: dict[str, np.ndarray]
    ) -> list[tuple[int, dict[str, Any], str]]:
        """Take a tile's pieces; return the objects finished by that tile."""
        for comp, blobs in outcome.pieces.items():
            if comp not in self.pieces:
                last = self.scene.tile_of(
                    int(stats["col1"][comp]) - 1, int(stats["row1"][comp]) - 1
                )
                heapq.heappush(self.due, (int(last), comp))
                self.pieces[comp] = []
            self.pieces[comp].extend(shapely.from_wkb(blobs))
        done = []
        while self.due and self.due[0][0] <= outcome.index:
            done.append(heapq.heappop(self.due)[1])
        return [self._finish(comp, stats) for comp in done]

    def flush(self, stats: dict[str, np.ndarray]) -> list[tuple[int, dict[str, Any], str]]:
        """All objects still pending."""
        done = [comp for _, comp in sorted(self.due)]
        self.due = []
        return [self._finish(comp, stats) for comp in done]

    def _finish(self, comp: int, stats: dict[str, np.ndarray]) -> tuple[int, dict[str, Any], str]:
        geom = merge_pieces(self.pieces.pop(comp), self.scene)
        row = {k: v[comp] for k, v in stats.items()}
        return comp, draft_record(row, geom, self.scene), shapely.to_geojson(geom)


class _Drafts:
    """Unsorted object records on disk, with their sort keys in memory (a few numbers each).

    A line holds the record's JSON, a tab, and the geometry's GeoJSON text,
    which is copied as it is into the sorted file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by write_sorted / discard
        self.offsets, self.comps = array("q"), array("q")
        self.areas, self.rows, self.cols = array("d"), array("q"), array("q")

    def add(self, comp: int, record: dict[str, Any], geometry: str) -> None:
        self.offsets.append(self._fh.tell())
        self._fh.write(dump_line(record)[:-1] + b"\t" + geometry.encode() + b"\n")
        self.comps.append(int(comp))
        self.areas.append(float(record["area"]))
        self.cols.append(int(record["pixel_bbox"][0]))
        self.rows.append(int(record["pixel_bbox"][1]))

    def order(self) -> np.ndarray:
        """Largest area first, then top-most, left-most, smallest component id."""
        keys = [np.frombuffer(a, dtype=a.typecode) for a in (self.comps, self.cols, self.rows)]
        return np.lexsort((*keys, -np.frombuffer(self.areas, dtype="d")))

    def write_sorted(self, store: Path, crs: str | None) -> ObjectsView:
        """Rewrite the records largest first with ids 1..n and WGS84 positions into ``store``."""
        self._fh.close()
        order = self.order()
        offsets = np.frombuffer(self.offsets, dtype="q")
        return write_in_order(self.path, [int(offsets[i]) for i in order], crs, store)

    def discard(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


def write_in_order(
    path: Path, offsets: Sequence[int], crs: Any, store: Path, batch: int = SORT_BATCH
) -> ObjectsView:
    """The objects of a scratch file (one ``record<TAB>geometry`` line each), in the order of
    the line ``offsets``, written to ``store`` with ids ``1..n`` and their WGS84 positions.

    Example:
        >>> write_in_order(scratch, [120, 0], crs, Path("change_objects.jsonl"))  # doctest: +SKIP
    """
    with open(path, "rb") as src, ObjectWriter(store) as out:
        for start in range(0, len(offsets), batch):
            records, geoms = [], []
            for offset in offsets[start : start + batch]:
                src.seek(offset)
                record, geometry = src.readline().rstrip(b"\n").split(b"\t")
                records.append(json.loads(record))
                geoms.append(geometry)
            lonlats = to_lonlat([r["centroid_image_crs"] for r in records], crs)
            boxes = bounds_to_lonlat([r["bbox_image_crs"] for r in records], crs)
            rows = zip(records, geoms, lonlats, boxes, strict=True)
            for n, (r, geometry, ll, box) in enumerate(rows):
                r.update(id=start + n + 1, centroid_lonlat=ll, bbox_wgs84=box)
                out.add_line(dump_line(r)[:-2] + b',"geometry":' + geometry + b"}\n")
    return out.view()
