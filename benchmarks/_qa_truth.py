"""Ground truth of the QA benchmark, computed from truth masks with numpy/scipy.

Nothing here uses terrasight's question or facts code: objects are the 8-connected
components of the truth mask of at least :data:`MIN_PIXELS` pixels (the
detection default), each placed in the 3 x 3 grid cell holding its centroid
(north-west = row 0, column 0), areas are pixel counts times the pixel area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

MIN_PIXELS = 20
ROW_WORDS = ("north", "", "south")
COL_WORDS = ("west", "", "east")
AFTER_CLASS = {"flood": "water", "cleared_vegetation": "bare land", "built_up": "built-up"}
BEFORE_CLASS = {"flood": None, "cleared_vegetation": "vegetation", "built_up": "vegetation"}
"""Land cover of the demo pair's simulated changes (the flood's land before is not known)."""


def cell_name(row: int, col: int) -> str:
    return "-".join(w for w in (ROW_WORDS[row], COL_WORDS[col]) if w) or "centre"


REGIONS: dict[str, set[tuple[int, int]]] = {
    **{cell_name(r, c): {(r, c)} for r in range(3) for c in range(3)},
    "north": {(0, c) for c in range(3)},
    "south": {(2, c) for c in range(3)},
    "west": {(r, 0) for r in range(3)},
    "east": {(r, 2) for r in range(3)},
}
"""Place words -> grid cells: one word a row or column of cells, two words one cell."""


SAID = {
    "north": ["north", "northern part", "top half"],
    "south": ["south", "southern part", "bottom half"],
    "east": ["east", "eastern part", "right side"],
    "west": ["west", "western part", "left side"],
    "centre": ["centre", "center", "middle"],
    "north-west": ["north-west", "northwest", "upper left", "top-left corner"],
    "north-east": ["north-east", "northeast", "upper right", "top-right corner"],
    "south-west": ["south-west", "southwest", "lower left", "bottom-left corner"],
    "south-east": ["south-east", "southeast", "lower right", "bottom-right corner"],
}
"""Ways of naming each place in a question."""


@dataclass
class Component:
    pixels: int
    area: float
    cell: tuple[int, int]
    kind: str | None = None

    @property
    def location(self) -> str:
        return cell_name(*self.cell)


@dataclass
class Truth:
    """A scene's truth: its components (largest first), size and pixel area."""

    name: str
    width: int
    height: int
    pixel_area: float
    unit: str
    comps: list[Component] = field(default_factory=list)

    @property
    def scene_area(self) -> float:
        return self.width * self.height * self.pixel_area

    def in_region(self, region: str) -> list[Component]:
        return [c for c in self.comps if c.cell in REGIONS[region]]

    def region_area(self, region: str) -> float:
        rows = np.bincount(
            np.minimum(2, (3 * (np.arange(self.height) + 0.5) / self.height).astype(int)),
            minlength=3,
        )
        cols = np.bincount(
            np.minimum(2, (3 * (np.arange(self.width) + 0.5) / self.width).astype(int)), minlength=3
        )
        return float(sum(rows[r] * cols[c] for r, c in REGIONS[region])) * self.pixel_area


def truth_of(
    name: str, mask: np.ndarray, pixel_area: float, unit: str, kinds: list[dict] | None = None
) -> Truth:
    """Components of a boolean truth mask; ``kinds``: the demo's simulated changes."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = [i for i in range(1, n + 1) if sizes[i] >= MIN_PIXELS]
    centres = ndimage.center_of_mass(mask, labels, keep) if keep else []
    boxes = ndimage.find_objects(labels)
    h, w = mask.shape
    comps = []
    for i, (cy, cx) in zip(keep, centres, strict=True):
        cell = (min(2, int(3 * (cy + 0.5) / h)), min(2, int(3 * (cx + 0.5) / w)))
        rows, cols = boxes[i - 1]
        box = (cols.start, rows.start, cols.stop, rows.stop)
        kind = box_kind(box, kinds) if kinds else None
        comps.append(Component(int(sizes[i]), float(sizes[i] * pixel_area), cell, kind))
    comps.sort(key=lambda c: -c.pixels)
    return Truth(name, w, h, pixel_area, unit, comps)


def box_kind(box: tuple[int, int, int, int], kinds: list[dict]) -> str:
    """The simulated change whose box (widened by the one-pixel shift to the east) best
    overlaps ``box`` = (col0, row0, col1, row1), end exclusive (intersection over union)."""

    def area(b: tuple[int, int, int, int]) -> int:
        return max(0, b[2] - b[0]) * max(0, b[3] - b[1])

    def iou(change: dict) -> float:
        c0, r0, c1, r1 = change["pixel_bbox"]
        other = (c0, r0, c1 + 1, r1)
        inter = area(
            (
                max(box[0], other[0]),
                max(box[1], other[1]),
                min(box[2], other[2]),
                min(box[3], other[3]),
            )
        )
        return inter / max(1, area(box) + area(other) - inter)

    return max(kinds, key=iou)["kind"]
