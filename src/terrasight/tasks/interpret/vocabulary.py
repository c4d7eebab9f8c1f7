"""Words for change facts: land-cover classes, sizes, shapes and places on a 3 x 3 grid.

Plain constants and small pure functions shared by facts, captions and
answers, so each word has one definition; the 3 x 3 grid is the one change
objects are located on (:mod:`terrasight.io.vectors`).
"""

from __future__ import annotations

from terrasight.io.vectors import cell_words

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

CELL_NAMES = tuple(cell_words((r, c)) for r in range(3) for c in range(3))
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
