"""A result's change objects re-cut by land cover, written as the result's new object store.

Every object of the change job is read with its polygon, split into pieces
(:func:`~terrasight.tasks.semantic.split.split_pieces`) on
``change_classes.tif``, and each piece traced into a polygon and measured
like the job's own objects
(:func:`~terrasight.tasks.change.objects.trace.draft_record`). Objects are handled
a group at a time (:mod:`~terrasight.tasks.semantic.groups`: one burn, one read of
each raster and one trace per 512 px cell), each still decided and split on its
own pixels; the pieces come out as the object-by-object cut gave them. The pieces are
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
from rasterio.windows import Window

from terrasight.io.vectors import as_crs
from terrasight.tasks.change.names import CLASSES_NODATA, STORE_NAME
from terrasight.tasks.change.objects.components import open_raster_quietly
from terrasight.tasks.change.objects.extract import write_in_order
from terrasight.tasks.change.objects.trace import Scene
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.change.store import ObjectsView, dump_line
from terrasight.tasks.semantic.groups import Group, burn_group, object_groups
from terrasight.tasks.semantic.pieces import Cutter, Split, piece_records, trace_group
from terrasight.tasks.semantic.same_cover import CheckLog
from terrasight.tasks.semantic.split import NECK


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
    check: CheckLog | None = None,
) -> Recut:
    """Split ``result``'s objects by their land cover and write them as its object store,
    and the decided classes into ``classes_path`` (see
    :func:`~terrasight.tasks.semantic.split.split_pieces` for the arguments). ``check``
    collects the pieces of one land cover on both dates
    (:mod:`~terrasight.tasks.semantic.same_cover`) and, in ``drop`` mode, removes them.

    Example:
        >>> recut = recut_objects(result, Path("out/change_classes.tif"), 20, 6)  # doctest: +SKIP
        >>> recut.objects[0].from_class, recut.objects[0].to_class  # doctest: +SKIP
        ('bare', 'building')
    """
    scene = _scene(result)
    store = Path(result.mask_path).with_name(STORE_NAME)
    drafts = _Drafts(store.with_name(store.name + ".drafts"))
    cutter = Cutter(min_pixels, spacing, smooth, neck, together, cut_seen)
    kept_pixels, dropped = 0, 0
    changes = _Rewrites()
    objects = list(_objects_with_geometry(result))
    boxes = [_box(parent) for parent, _ in objects]
    dropping = check is not None and check.check.mode == "drop"
    try:
        with (
            open_raster_quietly(result.mask_path, "r+" if only or dropping else "r") as mask_ds,
            open_raster_quietly(classes_path, "r+") as cls_ds,
            open_raster_quietly(result.probability_path, "r") as prob_ds,
        ):
            for group in object_groups(boxes):
                splits = _split_group(
                    group, objects, boxes, result, cutter, (mask_ds, cls_ds, prob_ds)
                )
                for s, parts in zip(splits, trace_group(splits, group.window), strict=True):
                    drop = np.zeros(s.inside.shape, bool)
                    for j, (piece, record, geom) in enumerate(piece_records(s, parts, scene)):
                        if only and only not in (record["from_class"], record["to_class"]):
                            drop |= s.labels == piece
                            dropped += 1
                            continue
                        record["parent_id"] = int(s.parent.id)
                        if check is not None and _same_cover(check, s, piece, record, geom):
                            if dropping:
                                drop |= s.labels == piece
                                continue
                        drafts.add(record, geom, (s.order, j))
                        kept_pixels += int(record["pixels"])
                    c0, r0, c1, r1 = s.box
                    if drop.any():
                        _clear(mask_ds, cls_ds, Window(c0, r0, c1 - c0, r1 - r0), drop)
                    edits = s.inside & ~drop & (s.decided != s.codes).any(0)
                    changes.add(edits, s.decided, (c0, r0))
            changes.write(cls_ds)
        view = drafts.write_sorted(store, result.crs)
    finally:
        drafts.discard()
    return Recut(view, kept_pixels, dropped)


def _same_cover(check: CheckLog, s: Split, piece: int, record: dict[str, Any], geom: str) -> bool:
    """Whether the check takes the piece (then logged with its sure same-class share)."""
    share = check.check.judge(record, s.codes[:, s.labels == piece])
    if share is None:
        return False
    check.add(record, geom, share)
    return True


def _box(parent: Any) -> tuple[int, int, int, int]:
    c0, r0, c1, r1 = (int(v) for v in parent.pixel_bbox)
    return c0, r0, c1, r1


def _split_group(
    group: Group,
    objects: list[tuple[Any, Any]],
    boxes: list[tuple[int, int, int, int]],
    result: ChangeResult,
    cutter: Cutter,
    datasets: tuple[Any, Any, Any],
) -> list[Split]:
    """The group's objects split, their polygons burnt and the rasters read once for all."""
    mask_ds, cls_ds, prob_ds = datasets
    burnt = burn_group([objects[i][1] for i in group.members], result.affine, group.window)
    mask = mask_ds.read(1, window=group.window)
    codes = cls_ds.read(window=group.window)
    prob = prob_ds.read(1, window=group.window)
    splits = []
    for k, i in enumerate(group.members):
        rows, cols = group.local(boxes[i])
        inside = (burnt[rows, cols] == k + 1) & (mask[rows, cols] == 1)
        if inside.any():
            parent = objects[i][0]
            box_codes, box_prob = codes[:, rows, cols], prob[rows, cols]
            splits.append(cutter.split(parent, i, boxes[i], inside, box_codes, box_prob))
    return splits


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
