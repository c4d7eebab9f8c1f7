"""Which objects and pixels a :class:`~terrasight.tasks.scene_ask.parse.Target` is about.

Example:
    >>> region((3, 3), "north").astype(int).tolist()
    [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from terrasight.tasks.scene_ask.instances import SceneObjects, beside, near, shape_word
from terrasight.tasks.scene_ask.parse import Target
from terrasight.tasks.scene_ask.words import CLASS_NOUNS, NOTHING, in_place

_ROW_NAMES = ("north", "", "south")
_COL_NAMES = ("west", "", "east")


@dataclass(frozen=True)
class Selection:
    """The objects a target names, or why they cannot be named.

    Attributes:
        ids: the objects' ids.
        name: the land-cover class.
        filtered: whether size, shape or a relation narrowed the class's objects
            (then areas are summed over objects, not over the class's pixels).
        reason: why the classes cannot answer; None when they can.
    """

    ids: tuple[int, ...]
    name: str
    filtered: bool = False
    reason: str | None = None


def select(objs: SceneObjects, t: Target) -> Selection:
    """The objects of ``objs`` that ``t`` names (class, size, shape, place, relation).

    Example:
        >>> from terrasight.tasks.scene_ask.instances import find_objects
        >>> from terrasight.tasks.scene_ask.landcover_map import LandCoverMap
        >>> from terrasight.tasks.scene_ask.parse import target
        >>> c = np.ones((9, 9), np.uint8); c[0:2, 0:2] = 0; c[7:9, 7:9] = 0
        >>> objs = find_objects(LandCoverMap(c, ("building", "bare"), np.ones(9), "px"))
        >>> select(objs, target("buildings in the south-east")).ids
        (2,)
    """
    if t.unseen is not None:
        return Selection((), t.name or "", reason=t.unseen)
    if t.name == NOTHING:  # a best guess that there is none of an unseen kind
        return Selection((), NOTHING, True)
    if t.name is None:
        known = ", ".join(CLASS_NOUNS)
        return Selection((), "", reason=f"'{t.words}' is none of the land-cover classes ({known})")
    if objs.map.code(t.name) is None:
        return Selection((), t.name, reason=f"this land-cover map has no class '{t.name}'")
    insts = objs.of(t.name)
    if t.size:
        insts = [i for i in insts if i.size == t.size]
    if t.shape:
        insts = [i for i in insts if shape_word(objs, i) == t.shape]
    if t.place:
        insts = [i for i in insts if in_place(i.place, t.place)]
    ids = [i.id for i in insts]
    if t.relation is not None:
        rel, other_t = t.relation
        other = select(objs, other_t)
        if other.reason is not None:
            return Selection((), t.name, True, other.reason)
        if rel == "next":
            ids = near(objs, ids, mask_of(objs, other.ids))
        else:
            ids = beside(objs, ids, objs.by_id(other.ids), rel)
    if t.extreme and ids:
        pick = sorted(objs.by_id(ids), key=lambda i: i.area)
        ids = [pick[-1].id if t.extreme == "largest" else pick[0].id]
    filtered = bool(t.size or t.shape or t.relation or t.extreme)
    return Selection(tuple(ids), t.name, filtered)


def mask_of(objs: SceneObjects, ids: tuple[int, ...] | list[int]) -> np.ndarray:
    """The pixels of the objects with these ids."""
    out = np.zeros(objs.map.shape, bool)
    for inst in objs.by_id(list(ids)):
        r0, c0, r1, c1 = inst.bbox
        out[r0:r1, c0:c1] |= objs.labels[inst.name][r0:r1, c0:c1] == inst.id
    return out


def region(shape: tuple[int, int], place: str | None) -> np.ndarray:
    """The pixels of a place (grid cell name or compass side) on a 3 x 3 grid; all without one."""
    height, width = shape
    if place is None:
        return np.ones(shape, bool)
    rows = np.minimum(2, (3 * (np.arange(height) + 0.5) / height).astype(int))
    cols = np.minimum(2, (3 * (np.arange(width) + 0.5) / width).astype(int))
    ok = np.zeros((3, 3), bool)
    for r in range(3):
        for c in range(3):
            ok[r, c] = in_place(cell_name(r, c), place)
    return ok[rows[:, None], cols[None, :]]


def cell_areas(objs: SceneObjects, name: str) -> dict[str, float]:
    """Ground area of a class in each 3 x 3 grid cell (cells without it left out).

    Example:
        >>> from terrasight.tasks.scene_ask.instances import find_objects
        >>> from terrasight.tasks.scene_ask.landcover_map import LandCoverMap
        >>> c = np.ones((6, 6), np.uint8); c[:, :2] = 0
        >>> cell_areas(find_objects(LandCoverMap(c, ("water", "bare"), np.ones(6), "px")), "water")
        {'north-west': 4.0, 'west': 4.0, 'south-west': 4.0}
    """
    code = objs.map.code(name)
    if code is None:
        return {}
    height, width = objs.map.shape
    rows = np.minimum(2, (3 * (np.arange(height) + 0.5) / height).astype(int))
    cols = np.minimum(2, (3 * (np.arange(width) + 0.5) / width).astype(int))
    cells = rows[:, None] * 3 + cols[None, :]
    weights = np.broadcast_to(objs.map.row_area[:, None], objs.map.shape)
    hit = objs.map.classes == code
    sums = np.bincount(cells[hit], weights=weights[hit], minlength=9)
    return {cell_name(k // 3, k % 3): float(sums[k]) for k in range(9) if sums[k] > 0}


def touching(objs: SceneObjects, name: str, place: str) -> tuple[int, ...]:
    """Ids of the objects of a class with any pixel in a place."""
    lab = objs.labels.get(name)
    if lab is None:
        return ()
    mine = {i.id for i in objs.of(name)}
    return tuple(int(i) for i in np.unique(lab[region(objs.map.shape, place)]) if int(i) in mine)


def cell_name(row: int, col: int) -> str:
    """The compass name of a grid cell (as :func:`terrasight.io.vectors.cell_words`)."""
    return "-".join(w for w in (_ROW_NAMES[row], _COL_NAMES[col]) if w) or "centre"


def class_area(objs: SceneObjects, sel: Selection, place: str | None) -> float:
    """Ground area of what a selection names: the class's pixels in the place, or the
    selected objects' area when size, shape or a relation narrowed them."""
    if sel.filtered:
        return float(sum(i.area for i in objs.by_id(list(sel.ids))))
    code = objs.map.code(sel.name)
    if code is None:
        return 0.0
    mask = (objs.map.classes == code) & region(objs.map.shape, place)
    return objs.map.area_of(mask)
