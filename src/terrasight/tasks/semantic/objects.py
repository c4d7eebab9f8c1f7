"""A result's change objects re-cut by land cover, written as the result's new object store.

Every object of the change job is read with its polygon, split into pieces
(:func:`~terrasight.tasks.semantic.split.split_pieces`) on
``change_classes.tif``, and each piece traced into a polygon and measured
like the job's own objects
(:func:`~terrasight.tasks.change.objects.trace.draft_record`). The pieces are
sorted largest first, given ids ``1..n`` and written to
``change_objects.jsonl``; each keeps the id of the region it came from in
``parent_id``. Pieces of a class ``only`` does not involve are dropped, and
their pixels cleared in the mask and in ``change_classes.tif``.

``change_classes.tif`` is then rewritten with the classes as decided
(:func:`~terrasight.tasks.semantic.decide.decide_classes`): the pixels whose
decided classes differ from the network's are kept as (row, col, before, after)
until the end (10 bytes each) and written block by block, each block once.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from rasterio.windows import Window

from terrasight.io.geojson import polygonal
from terrasight.io.vectors import as_crs
from terrasight.tasks.change.names import CLASSES_NODATA, STORE_NAME
from terrasight.tasks.change.objects.components import open_raster_quietly
from terrasight.tasks.change.objects.extract import write_in_order
from terrasight.tasks.change.objects.trace import Scene, draft_record, merge_pieces
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.change.store import ObjectsView, dump_line
from terrasight.tasks.semantic.decide import as_codes, decide_classes, seen_building
from terrasight.tasks.semantic.groups import burn_group, object_groups
from terrasight.tasks.semantic.split import NECK, majority, pieces_of


@dataclass(frozen=True)
class Recut:
    """What :func:`recut_objects` did: the new objects, changed pixels left, pieces dropped."""

    objects: ObjectsView
    changed_pixels: int
    dropped: int


def recut_objects(
    result: ChangeResult,
    classes_path: Path,
    min_pixels: int,
    spacing: int,
    only: str | None = None,
    smooth: int = 5,
    neck: float = NECK,
    together: bool = True,
    cut_seen: bool = False,
) -> Recut:
    """Split ``result``'s objects by their land cover and write them as its object store,
    and the decided classes into ``classes_path`` (see
    :func:`~terrasight.tasks.semantic.split.split_pieces` for the arguments).

    Example:
        >>> recut = recut_objects(result, Path("out/change_classes.tif"), 20, 6)  # doctest: +SKIP
        >>> recut.objects[0].from_class, recut.objects[0].to_class  # doctest: +SKIP
        ('bare', 'building')
    """
    scene = _scene(result)
    store = Path(result.mask_path).with_name(STORE_NAME)
    drafts = _Drafts(store.with_name(store.name + ".drafts"))
    cut = _Cut(min_pixels, spacing, only, smooth, neck, together, cut_seen)
    changes = _Rewrites()
    objects = list(_objects_with_geometry(result))
    boxes = [_box(parent) for parent, _ in objects]
    try:
        with (
            open_raster_quietly(result.mask_path, "r+" if only else "r") as mask_ds,
            open_raster_quietly(classes_path, "r+") as cls_ds,
            open_raster_quietly(result.probability_path, "r") as prob_ds,
        ):
            for group in object_groups(boxes):
                burnt = burn_group(
                    [objects[i][1] for i in group.members], result.affine, group.window
                )
                mask = mask_ds.read(1, window=group.window)
                codes = cls_ds.read(window=group.window)
                prob = prob_ds.read(1, window=group.window)
                for k, i in enumerate(group.members):
                    rows, cols = group.local(boxes[i])
                    inside = (burnt[rows, cols] == k + 1) & (mask[rows, cols] == 1)
                    if inside.any():
                        cut.one(
                            objects[i][0], i, inside, codes[:, rows, cols], prob[rows, cols],
                            scene, drafts, changes, (mask_ds, cls_ds),
                        )  # fmt: skip
            changes.write(cls_ds)
        view = drafts.write_sorted(store, result.crs)
    finally:
        drafts.discard()
    return Recut(view, cut.kept_pixels, cut.dropped)


def _box(parent: Any) -> tuple[int, int, int, int]:
    c0, r0, c1, r1 = (int(v) for v in parent.pixel_bbox)
    return c0, r0, c1, r1


@dataclass
class _Cut:
    """How one object is cut (the arguments of :func:`recut_objects`) and what was kept."""

    min_pixels: int
    spacing: int
    only: str | None
    smooth: int
    neck: float
    together: bool
    cut_seen: bool
    kept_pixels: int = 0
    dropped: int = 0

    def one(
        self,
        parent: Any,
        order: int,
        inside: np.ndarray,
        codes: np.ndarray,
        prob: np.ndarray,
        scene: Scene,
        drafts: _Drafts,
        changes: _Rewrites,
        datasets: tuple[Any, Any],
    ) -> None:
        """Cut one object (its box's pixels ``inside``, classes and probabilities) into
        drafts; an object under ``min_pixels`` is always one piece and is not split."""
        c0, r0, c1, r1 = _box(parent)
        b, a = decide_classes(codes[0], codes[1], inside, self.smooth, self.together)
        if int(inside.sum()) < self.min_pixels:
            labels, n = inside.astype(np.int32), 1
        else:
            seen = None
            if self.cut_seen:
                seen = (
                    seen_building(codes[0], inside, self.smooth),
                    seen_building(codes[1], inside, self.smooth),
                )
            labels, n = pieces_of(
                b, a, inside, self.min_pixels, self.spacing, self.neck, seen
            )  # fmt: skip
        decided = np.stack([as_codes(b, codes[0]), as_codes(a, codes[1])])
        drop = np.zeros(inside.shape, bool)
        pieces = _pieces(labels, n, decided, prob, (c0, r0), scene)
        for j, (piece, record, geom) in enumerate(pieces):
            if self.only and self.only not in (record["from_class"], record["to_class"]):
                drop |= labels == piece
                self.dropped += 1
                continue
            record["parent_id"] = int(parent.id)
            drafts.add(record, geom, (order, j))
            self.kept_pixels += int(record["pixels"])
        if drop.any():
            _clear(*datasets, Window(c0, r0, c1 - c0, r1 - r0), drop)
        changes.add(inside & ~drop & (decided != codes).any(0), decided, (c0, r0))


def _scene(result: ChangeResult) -> Scene:
    return Scene(
        crs=as_crs(result.crs),
        transform=tuple(result.transform)[:6],
        width=result.width,
        height=result.height,
        unit_area=result.pixel_area,
        unit=result.area_unit,
        connectivity=8,
        tile_size=max(result.width, result.height, 1),
    )


def _objects_with_geometry(result: ChangeResult) -> Iterator[tuple[Any, Any]]:
    """Each object (its geometry left empty) and its geometry as a shapely geometry."""
    split = getattr(result.objects, "split_records", None)
    if split is not None:
        for obj, text in split():
            yield obj, shapely.from_geojson(text)
        return
    for obj in result.objects:
        yield obj, shapely.geometry.shape(obj.geometry)


def _pieces(
    labels: np.ndarray,
    n: int,
    codes: np.ndarray,
    prob: np.ndarray,
    origin: tuple[int, int],
    scene: Scene,
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """``(label, record, GeoJSON text)`` of each piece, the record without id and WGS84."""
    c0, r0 = origin
    parts: dict[int, list[Any]] = {}
    tile = Affine.translation(c0, r0)
    for geom, value in shapes(labels, mask=labels > 0, connectivity=4, transform=tile):
        parts.setdefault(int(value), []).append(polygonal(geom))
    for piece in range(1, n + 1):
        own = labels == piece if n > 1 else labels > 0
        rr, cc = np.nonzero(own)
        if piece not in parts or not rr.size:
            continue
        p = prob[own]
        finite = np.isfinite(p)
        stats = {
            "pixels": int(own.sum()),
            "col_sum": float(cc.sum() + c0 * own.sum()),
            "row_sum": float(rr.sum() + r0 * own.sum()),
            "col0": int(cc.min()) + c0,
            "row0": int(rr.min()) + r0,
            "col1": int(cc.max()) + c0 + 1,
            "row1": int(rr.max()) + r0 + 1,
            "prob_sum": float(p[finite].sum()),
            "prob_n": int(finite.sum()),
        }
        geom = merge_pieces(parts[piece], scene, one_tile=True)
        record = draft_record(stats, geom, scene)
        record["from_class"], record["from_share"] = majority(codes[0][own])
        record["to_class"], record["to_share"] = majority(codes[1][own])
        yield piece, record, shapely.to_geojson(geom)


def _clear(mask_ds: Any, cls_ds: Any, window: Window, drop: np.ndarray) -> None:
    """Set dropped pixels unchanged in the mask and classless in ``change_classes.tif``."""
    mask = mask_ds.read(1, window=window)
    mask[drop] = 0
    mask_ds.write(mask, 1, window=window)
    codes = cls_ds.read(window=window)
    codes[:, drop] = CLASSES_NODATA
    cls_ds.write(codes, window=window)


class _Rewrites:
    """Pixels of ``change_classes.tif`` to rewrite with their decided classes, kept as
    arrays of rows, columns and the two codes, written once per block at the end."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, where: np.ndarray, decided: np.ndarray, origin: tuple[int, int]) -> None:
        if where.any():
            rows, cols = np.nonzero(where)
            codes = decided[:, rows, cols]
            self.parts.append(
                ((rows + origin[1]).astype(np.int32), (cols + origin[0]).astype(np.int32), codes)
            )

    def write(self, ds: Any) -> None:
        """Each touched block of ``ds`` read, updated and written once."""
        if not self.parts:
            return
        rows = np.concatenate([p[0] for p in self.parts])
        cols = np.concatenate([p[1] for p in self.parts])
        codes = np.concatenate([p[2] for p in self.parts], axis=1)
        self.parts = []
        bh, bw = ds.block_shapes[0]
        key = (rows // bh).astype(np.int64) * (ds.width // bw + 1) + cols // bw
        order = np.argsort(key, kind="stable")
        rows, cols, codes, key = rows[order], cols[order], codes[:, order], key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        for s, e in zip(starts, [*starts[1:], len(key)], strict=True):
            r0, c0 = int(rows[s]) // bh * bh, int(cols[s]) // bw * bw
            window = Window(c0, r0, min(bw, ds.width - c0), min(bh, ds.height - r0))
            block = ds.read(window=window)
            block[:, rows[s:e] - r0, cols[s:e] - c0] = codes[:, s:e]
            ds.write(block, window=window)


class _Drafts:
    """Unsorted records on disk (record JSON, a tab, geometry GeoJSON per line), their sort
    keys in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by write_sorted / discard
        self.offsets = array("q")
        self.keys: list[tuple[float, int, int, int, int, int]] = []

    def add(
        self, record: dict[str, Any], geometry: str, order: tuple[int, int] | None = None
    ) -> None:
        """One draft; ``order`` (the parent's place, the piece's place) breaks ties of
        area and position (the order of adding if None)."""
        self.offsets.append(self._fh.tell())
        self._fh.write(dump_line(record)[:-1] + b"\t" + geometry.encode() + b"\n")
        col, row = record["pixel_bbox"][:2]
        tie = order if order is not None else (len(self.keys), 0)
        self.keys.append((-float(record["area"]), int(row), int(col), *tie, len(self.keys)))

    def write_sorted(self, store: Path, crs: str | None) -> ObjectsView:
        """Largest first (then top-most, left-most), ids ``1..n``, WGS84 positions added."""
        self._fh.close()
        order = [k[-1] for k in sorted(self.keys)]
        return write_in_order(self.path, [self.offsets[i] for i in order], crs, store, 4096)

    def discard(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)
