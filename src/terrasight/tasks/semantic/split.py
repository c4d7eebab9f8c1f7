"""One change object into pieces of one land-cover change each, and buildings one by one.

Inside an object's own pixels (its polygon burnt into its bounding box):

1. each date's classes are smoothed by a majority filter (``smooth`` px wide) and
   pixels the network was unsure of (``unknown``) or that have no class take the
   class of the nearest classified pixel of the object;
2. pixels that are building after, and those that were building before but are
   not after, are each cut into building instances (whatever the other date says,
   so noise in one date does not cut a roof apart): 8-connected regions, split further
   by a watershed of their distance transform (:func:`building_instances`), so
   roofs that touch only along a narrow neck become separate objects while one
   compact roof stays one;
3. the other pixels are grouped by their (before, after) class pair, each group's
   8-connected regions a piece;
4. building pieces smaller than ``min_pixels``, and other pieces smaller than
   :data:`OTHER_SHARE` of the object, join the nearest piece that is kept, so
   every pixel of the object stays in exactly one piece.

Each piece's classes are the majority of its own pixels, with their shares.
Everything is plain numpy and :mod:`scipy.ndimage`; memory is bounded by the
largest object's bounding box.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from terrasight.tasks.change.names import CLASSES_NODATA
from terrasight.tasks.landcover.classes import CLASSES, UNKNOWN

BUILDING = CLASSES.index("building")
NO_CLASS = len(CLASSES)
"""Code used here for pixels without a class in a date (nodata)."""
EIGHT = np.ones((3, 3), bool)
OTHER_SHARE = 0.1
"""A piece that is not a building appearing or going must hold this share of its object's
pixels (or ``min_pixels``, whichever is more) to stand on its own: class noise along
edges does not cut an object into slivers."""
NECK = 3.0
"""Two parts of a building region stay one building when the edge they share is at least
this many times the thinner part's width. Chosen on the land-cover validation tile (1)
among 0.6, 1.5 and 3 (``benchmarks/semantic_change.py --validation neck=...``): the
land-cover network's building masks join neighbouring houses, so splitting at almost
every distance maximum counts them best; the price is that a roof with wings counts as
several buildings."""
MIN_CORE = 2.0
"""Smallest distance to the edge (px) a building's marker must reach: thinner parts never
seed an instance of their own."""


def split_pieces(
    before: np.ndarray,
    after: np.ndarray,
    inside: np.ndarray,
    min_pixels: int,
    spacing: int,
    smooth: int = 5,
) -> tuple[np.ndarray, int]:
    """Piece labels ``1..n`` of an object's pixels (0 outside), and ``n``.

    Args:
        before, after: land-cover codes of the object's bounding box (255: no class).
        inside: the object's pixels.
        min_pixels: pieces smaller than this join the nearest larger piece.
        spacing: smallest distance (px) between the centres of two buildings split apart.
        smooth: side of the majority filter applied to each date's classes (1: none).

    Example:
        >>> b = np.full((4, 8), 4, np.uint8)
        >>> a = np.array([[0] * 3 + [4] * 2 + [0] * 3] * 4, np.uint8)
        >>> labels, n = split_pieces(b, a, np.ones((4, 8), bool), 4, 3, smooth=1)
        >>> n, labels[0].tolist()
        (3, [1, 1, 1, 3, 3, 2, 2, 2])
    """
    b = settled(before, inside, smooth)
    a = settled(after, inside, smooth)
    appeared, went = (
        inside & (a == BUILDING),
        inside & (b == BUILDING) & (a != BUILDING),
    )
    labels = np.zeros(inside.shape, np.int32)
    n = 0
    for region in (appeared, went):
        comp, count = ndimage.label(region, structure=EIGHT)
        comp, count = _instances_of(comp, count, spacing)
        labels[comp > 0] = comp[comp > 0] + n
        n += count
    buildings = n
    rest = inside & ~appeared & ~went
    key = np.where(rest, b * (NO_CLASS + 1) + a, -1)
    for k in np.unique(key[rest]):
        comp, count = ndimage.label(key == k, structure=EIGHT)
        labels[comp > 0] = comp[comp > 0] + n
        n += count
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    floor = np.full(n + 1, max(1, min_pixels))
    floor[buildings + 1 :] = max(min_pixels, int(OTHER_SHARE * inside.sum()))
    return _absorb_small(labels, n, inside, sizes >= floor)


def settled(codes: np.ndarray, inside: np.ndarray, smooth: int) -> np.ndarray:
    """Classes of one date inside an object, majority-filtered, unsure pixels filled from
    the nearest sure one (:data:`NO_CLASS` where the object has no sure pixel).

    Example:
        >>> c = np.array([[0, 0, 5, 4, 4]], np.uint8)
        >>> settled(c, np.ones((1, 5), bool), 1).tolist()
        [[0, 0, 0, 4, 4]]
    """
    c = np.where(inside, codes, CLASSES_NODATA).astype(np.int32)
    if smooth > 1:
        votes = np.stack(
            [ndimage.uniform_filter((c == k).astype(np.float32), smooth) for k in range(UNKNOWN)]
        )
        best = votes.argmax(0).astype(np.int32)
        sure = votes.max(0) > 0
        c = np.where(inside & sure, best, c)
    known = inside & (c < UNKNOWN)
    if not known.any():
        return np.where(inside, NO_CLASS, NO_CLASS).astype(np.int32)
    if not known[inside].all():
        _, (rows, cols) = ndimage.distance_transform_edt(~known, return_indices=True)
        c = np.where(inside, c[rows, cols], NO_CLASS)
    return np.where(inside, c, NO_CLASS).astype(np.int32)


def _instances_of(comp: np.ndarray, count: int, spacing: int) -> tuple[np.ndarray, int]:
    """Each region of ``comp`` split into building instances, relabelled ``1..n``."""
    out = np.zeros(comp.shape, np.int32)
    n = 0
    for i, box in enumerate(ndimage.find_objects(comp), start=1):
        if box is None:
            continue
        parts = building_instances(comp[box] == i, spacing)
        out[box][parts > 0] = parts[parts > 0] + n
        n += int(parts.max())
    return out, n


def building_instances(region: np.ndarray, spacing: int) -> np.ndarray:
    """Labels ``1..n`` of the buildings in a boolean region.

    One seed per local maximum of the distance to the region's edge (maxima at least
    ``spacing`` px apart and :data:`MIN_CORE` px deep), grown by a watershed on that
    distance; then two neighbouring parts are merged again only where the edge they
    share is at least :data:`NECK` times the width of the thinner one (twice its
    deepest distance): a long roof stays one building, two roofs joined by a wall or a
    strip of changed ground become two, and so do the wings of an L-shaped roof.

    Example:
        >>> two = np.zeros((9, 19), bool)
        >>> two[1:8, 1:8] = two[1:8, 11:18] = True
        >>> two[4, 8:11] = True  # a one-pixel neck joins them
        >>> building_instances(two, 3)[4, [3, 15]].tolist()
        [1, 2]
        >>> int(building_instances(np.ones((8, 30), bool), 3).max())  # one long roof
        1
    """
    dist = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    peaks = (dist == ndimage.maximum_filter(dist, size=2 * spacing + 1)) & (dist >= MIN_CORE)
    markers, n = ndimage.label(peaks, structure=EIGHT)
    if n <= 1:
        return region.astype(np.int32)
    return _merge_wide_necks(_flood(markers.astype(np.int32), dist, region), dist, n)


def _flood(labels: np.ndarray, dist: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Seeds grown over ``region`` one distance level at a time, deepest first (a watershed
    by flooding); pixels no seed reaches take the nearest label."""
    labels = labels.copy()
    for level in np.unique(np.floor(dist[region]))[::-1]:
        allowed = region & (dist >= level)
        while True:
            grown = ndimage.grey_dilation(labels, footprint=EIGHT)
            add = allowed & (labels == 0) & (grown > 0)
            if not add.any():
                break
            labels[add] = grown[add]
    missing = region & (labels == 0)
    if missing.any() and labels.any():
        _, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        labels[missing] = labels[rows, cols][missing]
    return labels


def _merge_wide_necks(labels: np.ndarray, dist: np.ndarray, n: int) -> np.ndarray:
    """Merge neighbouring parts whose shared edge is at least :data:`NECK` times the width
    of the thinner part; labels made ``1..m`` in order of first appearance."""
    deep = ndimage.maximum(dist, labels, index=np.arange(n + 1))
    contacts: dict[tuple[int, int], int] = {}
    for x, y in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        touch = (x != y) & (x > 0) & (y > 0)
        pairs = np.stack([np.minimum(x[touch], y[touch]), np.maximum(x[touch], y[touch])], 1)
        for (i, j), count in zip(*np.unique(pairs, axis=0, return_counts=True), strict=True):
            contacts[(int(i), int(j))] = contacts.get((int(i), int(j)), 0) + int(count)
    parent = list(range(n + 1))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for (i, j), count in sorted(contacts.items(), key=lambda kv: -kv[1]):
        if count >= NECK * 2 * min(deep[i], deep[j]):
            parent[root(j)] = root(i)
    roots = np.array([root(k) for k in range(n + 1)])
    merged = roots[labels]
    _, first = np.unique(merged, return_inverse=True)
    return first.reshape(labels.shape).astype(np.int32)


def _absorb_small(
    labels: np.ndarray, n: int, inside: np.ndarray, big: np.ndarray
) -> tuple[np.ndarray, int]:
    """Pieces not ``big`` given to the nearest big piece; labels made ``1..m``."""
    big = big.copy()
    big[0] = False
    if not big.any():
        return inside.astype(np.int32), 1
    keep = big[labels]
    if not keep[inside].all():
        _, (rows, cols) = ndimage.distance_transform_edt(~keep, return_indices=True)
        labels = np.where(inside, labels[rows, cols], 0)
    new = np.zeros(n + 1, np.int32)
    new[np.flatnonzero(big)] = np.arange(1, int(big.sum()) + 1)
    return new[labels], int(big.sum())


def majority(codes: np.ndarray) -> tuple[str, float]:
    """The most common land-cover class of ``codes`` and its share (``unknown`` for pixels
    without a class).

    Example:
        >>> majority(np.array([0, 0, 4, 255], np.uint8))
        ('building', 0.5)
    """
    if codes.size == 0:
        return CLASSES[UNKNOWN], 0.0
    c = np.where(codes == CLASSES_NODATA, UNKNOWN, codes)
    counts = np.bincount(c.ravel(), minlength=len(CLASSES))
    best = int(np.argmax(counts))
    return CLASSES[best], round(float(counts[best]) / c.size, 4)
