"""Change objects handled a window at a time: one burn and one read per group of objects.

Cutting objects one at a time spent most of its time on per-object calls to GDAL
(burning the polygon, reading three windows). :func:`object_groups` gathers the
objects whose pixel boxes start in the same ``tile`` x ``tile`` cell (an object with a
box larger than ``4 * tile * tile`` pixels stays alone) and :func:`burn_group` burns
all polygons of a group into one raster with one
:func:`rasterio.features.rasterize` call, each object its own value.

The objects of a change job are distinct connected regions of the mask and their
polygons follow pixel edges, so no pixel centre lies in two polygons: each
object's pixels in the group raster are exactly those its polygon burns alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from rasterio.features import rasterize
from rasterio.windows import Window

Box = tuple[int, int, int, int]
"""A pixel box ``(col0, row0, col1, row1)``."""


@dataclass(frozen=True)
class Group:
    """Objects (their places in store order) burnt and read together, and their window."""

    members: tuple[int, ...]
    window: Window

    def local(self, box: Box) -> tuple[slice, slice]:
        """The slices of ``box`` in the group's window (rows, columns)."""
        c0, r0, c1, r1 = box
        row0, col0 = int(self.window.row_off), int(self.window.col_off)
        return slice(r0 - row0, r1 - row0), slice(c0 - col0, c1 - col0)


def object_groups(boxes: Sequence[Box], tile: int = 512) -> list[Group]:
    """Groups of the objects whose boxes start in the same ``tile`` cell, each with the
    window that holds all their boxes; objects with big boxes alone.

    Example:
        >>> [g.members for g in object_groups([(0, 0, 5, 5), (600, 0, 610, 4), (3, 9, 8, 12)])]
        [(0, 2), (1,)]
    """
    cells: dict[tuple[int, int] | int, list[int]] = {}
    for i, (c0, r0, c1, r1) in enumerate(boxes):
        alone = (c1 - c0) * (r1 - r0) > 4 * tile * tile
        key: tuple[int, int] | int = -1 - i if alone else (r0 // tile, c0 // tile)
        cells.setdefault(key, []).append(i)
    groups = []
    for members in cells.values():
        mine = np.array([boxes[i] for i in members], dtype=np.int64).reshape(-1, 4)
        c0, r0 = int(mine[:, 0].min()), int(mine[:, 1].min())
        c1, r1 = int(mine[:, 2].max()), int(mine[:, 3].max())
        groups.append(Group(tuple(members), Window(c0, r0, c1 - c0, r1 - r0)))
    return groups


def burn_group(geometries: Sequence[Any], transform: Affine, window: Window) -> np.ndarray:
    """int32 raster of ``window``: ``k + 1`` on the pixels whose centres lie in
    ``geometries[k]`` (image CRS), 0 elsewhere.

    Example:
        >>> import shapely
        >>> burnt = burn_group([shapely.box(0, 0, 2, 1)], Affine.identity(), Window(0, 0, 3, 2))
        >>> burnt.tolist()
        [[1, 1, 0], [0, 0, 0]]
    """
    local = transform * Affine.translation(window.col_off, window.row_off)
    shape = (int(window.height), int(window.width))
    pairs = [(g, k + 1) for k, g in enumerate(geometries) if g is not None and not g.is_empty]
    if not pairs:
        return np.zeros(shape, np.int32)
    return rasterize(pairs, out_shape=shape, transform=local, fill=0, dtype="int32")
