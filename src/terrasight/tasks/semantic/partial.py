"""Cut by class only the objects a budget covered; keep the others as plain change regions.

:func:`recut_covered` gives the objects lying wholly in classified windows to
:func:`~terrasight.tasks.semantic.objects.recut_objects` as usual (in a scratch
folder); the others keep their geometry and measures, without ``from_class`` /
``to_class`` (not measured), with ``parent_id`` their own id in the change job. Both
are then written as one object store, largest first, ids ``1..n``, in the order the
whole step gives (ties broken by the parent's id, then by the order of its pieces).

Cutting parts on two processes was tried (objects dealt round-robin, each part in its
own folder): on the shared two-core machine it was slower than one process (14.5 s
against 11.7 s for 2,556 objects, spawn start included), and threads slower still
(25 s: the loop holds the GIL), so one process it is.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.change.names import STORE_NAME
from terrasight.tasks.change.objects.extract import write_in_order
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.change.store import ObjectsView, dump_line
from terrasight.tasks.semantic.objects import Recut, recut_objects
from terrasight.tasks.semantic.same_cover import CheckLog
from terrasight.tasks.semantic.split import NECK


@dataclass(frozen=True)
class StoredObjects:
    """A result's object store: its file and each object's pixel box, in store order."""

    path: Path
    boxes: list[tuple[int, int, int, int]]


@dataclass(frozen=True)
class CutSettings:
    """How pieces are cut (:class:`~terrasight.tasks.semantic.run.SemanticOptions`' share)."""

    min_pixels: int
    spacing: int
    smooth: int
    neck: float = NECK
    together: bool = True
    cut_seen: bool = False


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
    settings: CutSettings,
    check: CheckLog | None = None,
) -> Recut:
    """Cut the ``covered`` objects (store order) by class, keep the rest, write them as one store.

    Example:
        >>> recut = recut_covered(result, stored, budget.covered, path, CutSettings(40, 6, 5))  # doctest: +SKIP
    """
    covered = np.asarray(covered, bool)
    store = Path(result.mask_path).with_name(STORE_NAME)
    scratch = store.with_name(".semantic-parts")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        inside, rest = _split_store(stored.path, covered, scratch / "part", scratch / "rest.jsonl")
        part = replace(result, mask_path=_link(result.mask_path, scratch / "part"), objects=inside)
        s = settings
        cut = recut_objects(
            part, classes_path, s.min_pixels, s.spacing, None, s.smooth,
            neck=s.neck, together=s.together, cut_seen=s.cut_seen, check=check,
        )  # fmt: skip
        view, kept = _merge(cut.objects, rest, scratch / "merge", store, result.crs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Recut(view, cut.changed_pixels + kept, cut.dropped)


def _link(mask: Path | str, folder: Path) -> Path:
    """The mask seen from ``folder`` (the part's store is written beside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / Path(mask).name
    os.symlink(Path(mask).resolve(), link)
    return link


def _split_store(
    path: Path, covered: np.ndarray, folder: Path, rest: Path
) -> tuple[ObjectsView, ObjectsView]:
    """The store's lines copied out: covered objects into ``folder``, the others to ``rest``."""
    folder.mkdir(parents=True, exist_ok=True)
    inside = folder / "objects.jsonl"
    n = 0
    with open(path, "rb") as src, open(inside, "wb") as mine, open(rest, "wb") as others:
        for line in src:
            if line.strip():
                (mine if covered[n] else others).write(line)
                n += 1
    return ObjectsView.open(inside), ObjectsView.open(rest)


def _merge(
    cut: ObjectsView, rest: ObjectsView, scratch: Path, store: Path, crs: Any
) -> tuple[ObjectsView, int]:
    """The pieces and the plain objects written as ``store``, largest first (then top-most,
    left-most, the parent's id, the piece's place among the pieces); the plain objects' pixels."""
    offsets: list[int] = []
    keys: list[tuple[float, int, int, int, int, int]] = []
    kept = 0
    with open(scratch, "wb") as fh:
        for view, plain in ((cut, False), (rest, True)):
            for k, (record, geometry) in enumerate(view.raw_records() if len(view) else ()):
                if plain:
                    record = _plain(record)
                    kept += int(record["pixels"])
                col, row = record["pixel_bbox"][:2]
                parent = int(record["parent_id"])
                keys.append((-float(record["area"]), int(row), int(col), parent, k, len(keys)))
                offsets.append(fh.tell())
                fh.write(dump_line(record)[:-1] + b"\t" + geometry + b"\n")
    order = [offsets[key[-1]] for key in sorted(keys)]
    return write_in_order(scratch, order, crs, store, 4096), kept


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """An object not cut by class: no classes, its own id as ``parent_id``."""
    out = {k: v for k, v in record.items() if k not in ("from_class", "to_class")}
    out.update(from_class=None, to_class=None, from_share=None, to_share=None)
    out["parent_id"] = int(record["id"])
    return out
