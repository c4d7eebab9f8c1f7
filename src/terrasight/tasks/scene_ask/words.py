"""The words a one-image question may use: class nouns, things the classes cannot see,
sizes, shapes, places, relations and units.

Example:
    >>> noun_class("large water areas"), unseen_reason("commercial buildings")[:24]
    ('water', 'the land-cover classes s')
"""

from __future__ import annotations

import re

CLASS_NOUNS: dict[str, tuple[str, ...]] = {
    "building": (
        "buildings", "building", "houses", "house", "homes", "home", "roofs", "roof",
        "built structures", "structures", "structure", "built-up areas", "built-up area",
    ),
    "road": ("roads", "road", "streets", "street", "highways", "highway", "motorways", "motorway"),
    "water": (
        "water areas", "water area", "water bodies", "water body", "waterbodies",
        "water surfaces", "open water", "water",
    ),
    "vegetation": (
        "vegetation areas", "vegetation", "vegetated areas", "vegetated area", "green areas",
        "green area", "greenery", "plants",
    ),
    "bare": (
        "bare land", "bare ground", "bare soil", "bare areas", "bare area", "bareland",
        "unpaved land", "bare",
    ),
}  # fmt: skip
"""The nouns of each land-cover class, longest first within a class."""

_USE = "the land-cover classes say building, not what a building is used for"
_GREEN = (
    "the land-cover classes have vegetation but do not tell grass, trees, forest, "
    "farmland or parks apart"
)
_WATER = "the land-cover classes have water but do not tell a river, lake, pond or sea apart"
UNSEEN: dict[str, str] = {
    "residential area": "a residential area is a land use, not a land-cover class",
    "commercial": _USE, "residential": _USE, "industrial": _USE, "religious": _USE,
    "school": _USE, "church": _USE, "hospital": _USE, "office": _USE, "shop": _USE,
    "parking": "parking is not a land-cover class here (a car park shows as road or bare land)",
    "car": "cars and other vehicles are far smaller than what the land-cover map separates",
    "vehicle": "cars and other vehicles are far smaller than what the land-cover map separates",
    "truck": "cars and other vehicles are far smaller than what the land-cover map separates",
    "ship": "ships and boats are not a land-cover class", "boat": "ships and boats are not a land-cover class",
    "plane": "aircraft are not a land-cover class", "aircraft": "aircraft are not a land-cover class",
    "airport": "an airport is a land use made of several classes, not one",
    "runway": "a runway is not told apart from roads and bare land",
    "pitch": "sports pitches are not a land-cover class", "stadium": "a stadium is not a land-cover class",
    "tennis court": "sports courts are not a land-cover class", "court": "sports courts are not a land-cover class",
    "swimming pool": "swimming pools are not told apart from other water",
    "pool": "swimming pools are not told apart from other water",
    "island": "islands are not a land-cover class (the map has water and land, not their topology)",
    "wetland": "wetlands are not a land-cover class here", "marsh": "wetlands are not a land-cover class here",
    "beach": "beaches are not told apart from other bare land",
    "bridge": "bridges are not told apart from roads", "railway": "railways are not a land-cover class",
    "rail": "railways are not a land-cover class", "harbour": "a harbour is a land use, not a class",
    "port": "a port is a land use, not a class", "roundabout": "roundabouts are not told apart from roads",
    "river": _WATER, "lake": _WATER, "pond": _WATER, "sea": _WATER, "ocean": _WATER, "reservoir": _WATER,
    "forest": _GREEN, "grass": _GREEN, "park": _GREEN, "farmland": _GREEN, "farm": _GREEN,
    "field": _GREEN, "crop": _GREEN, "tree": _GREEN, "meadow": _GREEN, "garden": _GREEN,
    "orchard": _GREEN, "golf": _GREEN, "cemetery": "a cemetery is a land use, not a class",
    "cloud": "clouds are not a land-cover class", "snow": "snow and ice are not land-cover classes here",
    "ice": "snow and ice are not land-cover classes here",
}  # fmt: skip
"""Words for things the land-cover classes cannot see, and why."""

WITHIN: dict[str, str] = {
    **dict.fromkeys(("commercial", "residential", "industrial", "religious", "school", "church",
                     "hospital", "office", "shop"), "building"),
    **dict.fromkeys(("forest", "grass", "park", "farmland", "farm", "field", "crop", "tree",
                     "meadow", "garden", "orchard", "golf"), "vegetation"),
    **dict.fromkeys(("river", "lake", "pond", "sea", "ocean", "reservoir"), "water"),
}  # fmt: skip
"""Unseen kinds that are part of one land-cover class: a commercial building is a building,
grass is vegetation, a lake is water (so no building at all means no commercial building)."""


NOTHING = "nothing"
"""The class an unseen kind is read as when the best guess is that there is none of it."""
NEAREST: dict[str, str] = {
    "parking": "road", "pitch": "vegetation", "residential area": "building",
    "farmyard": "building", "residential": "building",
    **dict.fromkeys(("commercial", "industrial", "religious", "school", "church", "hospital",
                     "office", "shop"), NOTHING),
}  # fmt: skip
"""How an unseen kind is read for a best guess: the class it looks most like without all
lying in it (a car park is paved like a road, a residential area is mostly buildings), or
:data:`NOTHING` for rare building uses in a small scene (most buildings are homes; a scene
of a square kilometre or more is read with every use, as buildings). Chosen on the tuning
half of the RSVQA images (``benchmarks/vqa_accuracy.py``); for best guesses only."""
LARGE_SCENE_M2 = 1e6
"""A scene at least this large (m2) is taken to hold buildings of every use."""


def nearest_class(text: str, large: bool = False) -> str | None:
    """The class an unseen kind is read as for a best guess (:data:`NEAREST`), else
    :func:`within_class`; in a ``large`` scene a rare building use is read as buildings.

    Example:
        >>> nearest_class("small parkings"), nearest_class("grass"), nearest_class("shops")
        ('road', 'vegetation', 'nothing')
        >>> nearest_class("shops", large=True)
        'building'
    """
    for word in sorted(NEAREST, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}(?:s|es)?\b", text):
            found = NEAREST[word]
            return within_class(text) if found == NOTHING and large else found
    return within_class(text)


def within_class(text: str) -> str | None:
    """The land-cover class that holds every object of an unseen kind the phrase names.

    Example:
        >>> within_class("small commercial buildings"), within_class("grass areas")
        ('building', 'vegetation')
        >>> within_class("cars"), within_class("a residential area") is None
        (None, True)
    """
    if re.search(r"\bresidential areas?\b", text):
        return None
    for word in sorted(WITHIN, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}(?:s|es|land|lands)?\b", text):
            return WITHIN[word]
    return None


SIZES = {"small": "small", "little": "small", "tiny": "small", "medium": "medium",
         "medium-sized": "medium", "large": "large", "big": "large", "huge": "large"}  # fmt: skip
SHAPES = {"square": "square", "circular": "circular", "round": "circular",
          "rectangular": "rectangular", "irregular": "irregular"}  # fmt: skip
RELATIONS: tuple[tuple[str, str], ...] = (
    (r"next to|near|beside|close to|adjacent to|alongside", "next"),
    (r"(?:on|to) the left of|left of|west of", "left"),
    (r"(?:on|to) the right of|right of|east of", "right"),
    (r"at the top of|above|north of", "top"),
    (r"at the bottom of|below|under|south of", "bottom"),
)
"""Relation phrases between two kinds of object, and the relation each names."""
_DIRS = {
    "north": "north", "top": "north", "upper": "north", "south": "south", "bottom": "south",
    "lower": "south", "west": "west", "left": "west", "east": "east", "right": "east",
    "centre": "centre", "center": "centre", "middle": "centre", "central": "centre",
}  # fmt: skip
_DIR = "|".join(_DIRS)
PLACE_RE = re.compile(
    rf"\b(?:in|at|on|to|towards)\s+the\s+({_DIR})(?:[\s-]*({_DIR}))?"
    r"(?:\s+(?:part|side|half|corner|edge|third|area))?(?:\s+of\s+the\s+(?:image|scene|picture|map))?\b"
)
"""A place in the scene: ``in the north-east``, ``at the top left``, ``in the centre``."""
UNITS: tuple[tuple[str, str], ...] = (
    (r"\bkm2\b|\bkm²|square\s+kilomet", "km2"),
    (r"\bhectares?\b|\bha\b", "ha"),
    (r"\bacres?\b", "acre"),
    (r"\bm2\b|m²|square\s+met|\bsq\.?\s?m\b", "m2"),
    (r"%|\bper\s?cent|\bpercentage\b|\bshare\b|\bproportion\b|\bfraction\b", "%"),
)
"""Area units as asked, in the order they are looked for."""
M2_PER = {"m2": 1.0, "ha": 1e4, "km2": 1e6, "acre": 4046.8564224}
"""Square metres in one of each area unit."""


def place_of(text: str) -> tuple[str | None, str]:
    """The place a phrase names (a 3 x 3 grid cell name, or a compass side) and the rest.

    Example:
        >>> place_of("buildings in the top right corner")
        ('north-east', 'buildings')
        >>> place_of("water in the north"), place_of("roads")
        (('north', 'water'), (None, 'roads'))
    """
    m = PLACE_RE.search(text)
    if m is None:
        return None, text
    words = [_DIRS[w] for w in m.groups() if w]
    ns = [w for w in words if w in ("north", "south")]
    ew = [w for w in words if w in ("west", "east")]
    place = "-".join(ns[:1] + ew[:1]) or "centre"
    return place, (text[: m.start()] + text[m.end() :]).strip()


def in_place(cell: str, place: str) -> bool:
    """Whether a grid cell's name lies in a place (``north`` holds ``north-west`` too).

    Example:
        >>> in_place("north-east", "north"), in_place("east", "north"), in_place("centre", "centre")
        (True, False, True)
    """
    if place == "centre":
        return cell == "centre"
    return all(part in cell.split("-") for part in place.split("-"))


def noun_class(text: str) -> str | None:
    """The land-cover class a phrase names, None when it names none.

    Example:
        >>> noun_class("the big houses"), noun_class("cars")
        ('building', None)
    """
    for name, nouns in CLASS_NOUNS.items():
        for noun in nouns:
            if re.search(rf"\b{re.escape(noun)}\b", text):
                return name
    return None


def unseen_reason(text: str) -> str | None:
    """Why the classes cannot see what a phrase names, None when nothing in it is unseen.

    Example:
        >>> unseen_reason("a tennis court"), unseen_reason("buildings") is None
        ('sports courts are not a land-cover class', True)
    """
    for word in sorted(UNSEEN, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}(?:s|es)?\b", text):
            return UNSEEN[word]
    return None


def unit_of(text: str) -> str | None:
    """The area unit a question asks for, None when it names none.

    Example:
        >>> unit_of("how many hectares of water?"), unit_of("what share is bare?")
        ('ha', '%')
    """
    for pattern, unit in UNITS:
        if re.search(pattern, text):
            return unit
    return None
