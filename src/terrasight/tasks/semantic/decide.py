"""The from -> to classes of one change object's pixels, decided from both dates together.

The land-cover network classifies each date alone. On a pixel the change mask calls
changed, three answers contradict that change or say nothing: ``unknown`` (the
network was unsure) in one date or both, and the same class in both dates (bare
land pasted over a roof called ``building`` in both). Inside one change object:

1. each date's classes are smoothed by a majority filter (``smooth`` px wide; unsure
   pixels do not vote, and a pixel with a sure neighbour takes the majority);
2. *consistent* pixels are those sure in both dates with two different classes;
   where they make up at least :data:`CONSISTENT_SHARE` of the object, every other
   pixel takes the classes of the nearest consistent pixel, except that a sure class
   of its own is kept where it differs from the other date's class (a road pixel
   beside bare -> building stays road -> building);
3. what is still unsure takes the nearest sure class of the same date in the object
   (:data:`NO_CLASS` where a date has no sure pixel in the object).

So a change is read as one event: where the network is sure of a change on most of
an object, the rest of it is taken to be the same change, and an object whose two
dates the network calls the same everywhere stays ``X -> X`` (a change of something
the classes cannot name).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from terrasight.tasks.change.names import CLASSES_NODATA
from terrasight.tasks.landcover.classes import CLASSES, UNKNOWN

BUILDING = CLASSES.index("building")
NO_CLASS = len(CLASSES)
"""Code used here for pixels without a class in a date (nodata)."""
CONSISTENT_SHARE = 0.1
"""Share of an object's pixels that must be consistent (sure in both dates, two classes)
before the others take their classes; below it each date is settled on its own."""


def decide_classes(
    before: np.ndarray, after: np.ndarray, inside: np.ndarray, smooth: int, together: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(before, after)`` int32 codes of an object's pixels (:data:`NO_CLASS` outside or
    where a date has no sure pixel), decided as the module says.

    Args:
        before, after: land-cover codes of the object's bounding box (5 unknown, 255 none).
        inside: the object's pixels.
        smooth: side of the majority filter (1: none).
        together: take unsure and same-class pixels from the nearest consistent pixel
            (False: each date settled on its own, as :func:`settled`).

    Example:
        >>> b = np.array([[4, 4, 0, 5, 5]], np.uint8)  # bare bare building unsure unsure
        >>> a = np.array([[0, 0, 0, 0, 5]], np.uint8)
        >>> [x.tolist() for x in decide_classes(b, a, np.ones((1, 5), bool), 1)]
        [[[4, 4, 4, 4, 4]], [[0, 0, 0, 0, 0]]]
    """
    b = smoothed(before, inside, smooth)
    a = smoothed(after, inside, smooth)
    if together:
        b, a = _from_consistent(b, a, inside)
    return settled(b, inside, 1), settled(a, inside, 1)


def seen_building(codes: np.ndarray, inside: np.ndarray, smooth: int) -> np.ndarray:
    """Where the network called one date building (majority-filtered), inside an object.

    Example:
        >>> seen_building(np.array([[0, 0, 5, 4]], np.uint8), np.ones((1, 4), bool), 1).tolist()
        [[True, True, False, False]]
    """
    return inside & (smoothed(codes, inside, smooth) == BUILDING)


def _from_consistent(
    b: np.ndarray, a: np.ndarray, inside: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels that are not consistent take the classes of the nearest consistent one."""
    sure_b, sure_a = b < UNKNOWN, a < UNKNOWN
    consistent = inside & sure_b & sure_a & (b != a)
    todo = inside & ~consistent
    if not todo.any() or consistent.sum() < max(1.0, CONSISTENT_SHARE * inside.sum()):
        return b, a
    _, (rows, cols) = ndimage.distance_transform_edt(~consistent, return_indices=True)
    near_b, near_a = b[rows, cols], a[rows, cols]
    keep_b = sure_b & ~sure_a & (b != near_a)
    keep_a = sure_a & ~sure_b & (a != near_b)
    new_b = np.where(todo, np.where(keep_b, b, near_b), b)
    new_a = np.where(todo, np.where(keep_a, a, near_a), a)
    return new_b, new_a


def smoothed(codes: np.ndarray, inside: np.ndarray, smooth: int) -> np.ndarray:
    """int32 classes of one date inside an object after a ``smooth`` px majority filter of
    its sure classes (:data:`UNKNOWN` kept where no sure pixel is near; 255 outside).

    Example:
        >>> smoothed(np.array([[0, 0, 5, 5, 5, 5]], np.uint8), np.ones((1, 6), bool), 3).tolist()
        [[0, 0, 0, 5, 5, 5]]
    """
    c = np.where(inside, codes, CLASSES_NODATA).astype(np.int32)
    if smooth > 1:
        votes = np.stack(
            [ndimage.uniform_filter((c == k).astype(np.float32), smooth) for k in range(UNKNOWN)]
        )
        best = votes.argmax(0).astype(np.int32)
        sure = votes.max(0) > 0
        c = np.where(inside & sure, best, c)
    return c


def settled(codes: np.ndarray, inside: np.ndarray, smooth: int) -> np.ndarray:
    """Classes of one date inside an object, majority-filtered, unsure pixels filled from
    the nearest sure one (:data:`NO_CLASS` where the object has no sure pixel).

    Example:
        >>> c = np.array([[0, 0, 5, 4, 4]], np.uint8)
        >>> settled(c, np.ones((1, 5), bool), 1).tolist()
        [[0, 0, 0, 4, 4]]
    """
    c = smoothed(codes, inside, smooth)
    known = inside & (c < UNKNOWN)
    if not known.any():
        return np.full(inside.shape, NO_CLASS, np.int32)
    if not known[inside].all():
        _, (rows, cols) = ndimage.distance_transform_edt(~known, return_indices=True)
        c = np.where(inside, c[rows, cols], NO_CLASS)
    return np.where(inside, c, NO_CLASS).astype(np.int32)


def as_codes(decided: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """uint8 codes to write: the decided class, the raw code (unknown or none) where no
    class was decided.

    Example:
        >>> as_codes(np.array([4, NO_CLASS]), np.array([5, 255], np.uint8)).tolist()
        [4, 255]
    """
    return np.where(decided < UNKNOWN, decided, raw).astype(np.uint8)
