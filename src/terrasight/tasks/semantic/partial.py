"""Cut by class only the objects a budget covered; keep the others as plain change regions.

With a budget (:mod:`~terrasight.tasks.semantic.budget`) only some windows get classes.
The objects lying wholly in them are cut by
:func:`~terrasight.tasks.semantic.objects.recut_objects` as usual; the others keep
their geometry and measures, without ``from_class`` / ``to_class`` (unknown: not
measured), with ``parent_id`` their own id in the change job. Both are written as one
object store, largest first, ids ``1..n``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.change.names import STORE_NAME
from terrasight.tasks.change.objects.extract import write_in_order
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.change.store import ObjectsView, dump_line
from terrasight.tasks.semantic.objects import Recut, recut_objects


@dataclass(frozen=True)
class StoredObjects:
    """A result's object store: its file and each object's pixel box, in store order."""

    path: Path
    boxes: list[tuple[int, int, int, int]]


def stored_objects(result: ChangeResult) -> StoredObjects | None:
    """The result's objects as a file (None when they live only in memory).

    Example:
        >>> len(stored_objects(result).boxes) == len(result.objects)  # doctest: +SKIP
        True
    """
    path = getattr(result.objects, "path", None)
    if path is None or not Path(path).is_file():
        return None
    boxes: list[tuple[int, int, int, int]] = []
    for obj in ObjectsView.open(path).without_geometry():
        c0, r0, c1, r1 = (int(v) for v in obj.pixel_bbox)
        boxes.append((c0, r0, c1, r1))
    return StoredObjects(Path(path), boxes) if len(boxes) == len(result.objects) else None


def recut_covered(
    result: ChangeResult,
    stored: StoredObjects,
    covered: np.ndarray,
    classes_path: Path,
    min_pixels: int,
    spacing: int,
    smooth: int,
) -> Recut:
    """Cut the ``covered`` objects (store order) by class, keep the rest, write them as one store.

    Example:
        >>> recut = recut_covered(result, stored, budget.covered, path, 40, 6, 5)  # doctest: +SKIP
    """
    store = Path(result.mask_path).with_name(STORE_NAME)
    parts = [store.with_name(store.name + s) for s in (".covered", ".rest", ".merge")]
    try:
        inside, rest = _split_store(stored.path, np.asarray(covered, bool), parts[0], parts[1])
        cut = recut_objects(
            replace(result, objects=inside), classes_path, min_pixels, spacing, None, smooth
        )
        view, kept = _merge(cut.objects, rest, parts[2], store, result.crs)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return Recut(view, cut.changed_pixels + kept, cut.dropped)


def _split_store(
    path: Path, covered: np.ndarray, inside: Path, rest: Path
) -> tuple[ObjectsView, ObjectsView]:
    """The store's lines copied to two files, covered objects and the others; their views."""
    n = 0
    with open(path, "rb") as src, open(inside, "wb") as a, open(rest, "wb") as b:
        for line in src:
            if line.strip():
                (a if covered[n] else b).write(line)
                n += 1
    return ObjectsView.open(inside), ObjectsView.open(rest)


def _merge(
    cut: ObjectsView, rest: ObjectsView, scratch: Path, store: Path, crs: Any
) -> tuple[ObjectsView, int]:
    """The pieces and the plain objects written as ``store``, largest first; plain pixels."""
    offsets: list[int] = []
    keys: list[tuple[float, int, int, int]] = []
    kept = 0
    with open(scratch, "wb") as fh:
        for view, plain in ((cut, False), (rest, True)):
            for record, geometry in view.raw_records() if len(view) else ():
                if plain:
                    record = _plain(record)
                    kept += int(record["pixels"])
                offsets.append(fh.tell())
                fh.write(dump_line(record)[:-1] + b"\t" + geometry + b"\n")
                col, row = record["pixel_bbox"][:2]
                keys.append((-float(record["area"]), int(row), int(col), len(keys)))
    order = [offsets[k[3]] for k in sorted(keys)]
    return write_in_order(scratch, order, crs, store, 4096), kept


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """An object not cut by class: no classes, its own id as ``parent_id``."""
    out = {k: v for k, v in record.items() if k not in ("from_class", "to_class")}
    out.update(from_class=None, to_class=None, from_share=None, to_share=None)
    out["parent_id"] = int(record["id"])
    return out
