"""Words for change facts: land-cover classes, sizes, shapes and places on a 3 x 3 grid.

A leaf module: plain constants and small pure functions shared by facts,
captions and answers, so each word has one definition.
"""

from __future__ import annotations

LAND_COVER: dict[str, tuple[str, ...]] = {
    "built-up": ("buildings", "houses and streets", "a residential area"),
    "road": ("a road", "a highway"),
    "bare land": ("bare land", "bare soil"),
    "vegetation": ("trees", "grass and bushes", "a forest"),
    "water": ("water", "a river", "a lake"),
    "farmland": ("farmland", "crop fields"),
}
"""Land-cover classes and the phrases their prompts are made of (the mean embedding of
all phrases under all templates stands for the class)."""

LAND_COVER_TEMPLATES = ("an aerial image of {}.", "a satellite image of {}.")
"""Prompt templates for the land-cover phrases."""

SIZE_CLASSES_M2 = ((100.0, "tiny"), (1_000.0, "small"), (10_000.0, "medium"), (100_000.0, "large"))
"""Upper area bounds (m2, exclusive) of each size class; larger is ``"very large"``."""
SIZE_CLASSES_PX = ((10.0, "tiny"), (100.0, "small"), (1_000.0, "medium"), (10_000.0, "large"))
"""The same in pixels, for images without a CRS."""

ELONGATION = 3.0
"""Long / short side of the minimum rotated rectangle from which a shape is elongated."""
THINNESS = 10.0
"""Perimeter^2 / (4 area) from which a shape is elongated (a winding strip, a river bank)."""

ROWS = ("north", "", "south")
COLS = ("west", "", "east")
CELL_NAMES = tuple("-".join(w for w in (r, c) if w) or "centre" for r in ROWS for c in COLS)
"""The nine grid cells, row by row from the north-west: ``north-west``, ``north``..."""

DIRECTIONS = {
    "north": tuple(n for n in CELL_NAMES if n.startswith("north")),
    "south": tuple(n for n in CELL_NAMES if n.startswith("south")),
    "east": tuple(n for n in CELL_NAMES if n.endswith("east")),
    "west": tuple(n for n in CELL_NAMES if n.endswith("west")),
    "centre": ("centre",),
}
"""Which cells a direction word covers (``"north"``: the three northern cells)."""


def size_class(area: float, unit: str) -> str:
    """The size word of an area.

    Example:
        >>> size_class(450.0, "m2"), size_class(450.0, "px"), size_class(2e6, "m2")
        ('small', 'medium', 'very large')
    """
    bounds = SIZE_CLASSES_M2 if unit == "m2" else SIZE_CLASSES_PX
    for upper, word in bounds:
        if area < upper:
            return word
    return "very large"


def cell_of(col: float, row: float, width: int, height: int) -> tuple[int, int]:
    """The (row, column) of the 3 x 3 grid cell holding a pixel position (north up).

    Example:
        >>> cell_of(5, 5, 90, 90), cell_of(89, 50, 90, 90)
        ((0, 0), (1, 2))
    """

    def third(value: float, size: int) -> int:
        return min(2, max(0, int(3 * value / size))) if size > 0 else 1

    return third(row, height), third(col, width)


def cell_name(cell: tuple[int, int]) -> str:
    """The compass name of a grid cell.

    Example:
        >>> cell_name((0, 0)), cell_name((1, 1)), cell_name((2, 1))
        ('north-west', 'centre', 'south')
    """
    return CELL_NAMES[3 * cell[0] + cell[1]]
