"""One change object into pieces of one land-cover change each, and buildings one by one.

Inside an object's own pixels (its polygon burnt into its bounding box):

1. each pixel's (before, after) classes are decided from both dates together
   (:func:`~terrasight.tasks.semantic.decide.decide_classes`: a majority filter
   ``smooth`` px wide, then unsure or same-class pixels take the classes of the
   nearest pixel whose two dates are sure and differ);
2. pixels that are building after and not before, and those that were building
   before and are not after, are each cut into building instances: 8-connected
   regions, split further by a watershed of their distance transform
   (:func:`building_instances`) only where two parts meet along a neck narrower than
   ``neck`` times the thinner part's width;
3. the other pixels are grouped by their (before, after) class pair, each group's
   8-connected regions a piece;
4. building pieces smaller than ``min_pixels``, and other pieces smaller than
   :data:`OTHER_SHARE` of the object, join the nearest piece that is kept, so
   every pixel of the object stays in exactly one piece.

Each piece's classes are the majority of its decided pixels, with their shares.
Everything is plain numpy and :mod:`scipy.ndimage`; memory is bounded by the
largest object's bounding box.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from terrasight.tasks.change.names import CLASSES_NODATA
from terrasight.tasks.landcover.classes import CLASSES, UNKNOWN
from terrasight.tasks.semantic.decide import NO_CLASS, decide_classes, seen_building, settled

__all__ = ["building_instances", "majority", "pieces_of", "settled", "split_pieces"]

BUILDING = CLASSES.index("building")
EIGHT = np.ones((3, 3), bool)
OTHER_SHARE = 0.1
"""A piece that is not a building appearing or going must hold this share of its object's
pixels (or ``min_pixels``, whichever is more) to stand on its own: class noise along
edges does not cut an object into slivers."""
NECK = 2.0
"""Default of ``neck``: two parts of a building region stay one building when the edge
they share is at least this many times the thinner part's width. Chosen on the
land-cover validation tile (1) among 0, 1, 2, 3 and 5
(``benchmarks/semantic_change.py --tile 1 --options neck=...``), where the change mask
joins close-standing new houses into one region (0 counted 35 of 88 buildings, 1 42,
2 84); the price is that the wings of a detached villa count as several buildings
(the test tile's count is about twice the truth; ``neck=0`` counts one building per
region)."""
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
    neck: float = NECK,
    together: bool = True,
    cut_seen: bool = False,
) -> tuple[np.ndarray, int]:
    """Piece labels ``1..n`` of an object's pixels (0 outside), and ``n``.

    Args:
        before, after: land-cover codes of the object's bounding box (255: no class).
        inside: the object's pixels.
        min_pixels: pieces smaller than this join the nearest larger piece.
        spacing: smallest distance (px) between the centres of two buildings split apart.
        smooth: side of the majority filter applied to each date's classes (1: none).
        neck: parts of a building region meeting along an edge shorter than this many
            times the thinner part's width are separate buildings (0: never split).
        together: decide unsure and same-class pixels from both dates
            (:func:`~terrasight.tasks.semantic.decide.decide_classes`).
        cut_seen: cut buildings from the pixels the network called building in the date
            that holds them (see :func:`pieces_of`).

    Example:
        >>> b = np.full((4, 8), 4, np.uint8)  # bare before
        >>> a = np.array([[0] * 3 + [3] * 2 + [0] * 3] * 4, np.uint8)  # two roofs, a lawn
        >>> labels, n = split_pieces(b, a, np.ones((4, 8), bool), 4, 3, smooth=1)
        >>> n, labels[0].tolist()
        (3, [1, 1, 1, 3, 3, 2, 2, 2])
    """
    b, a = decide_classes(before, after, inside, smooth, together)
    seen = None
    if cut_seen:
        seen = (seen_building(before, inside, smooth), seen_building(after, inside, smooth))
    return pieces_of(b, a, inside, min_pixels, spacing, neck, seen)


def pieces_of(
    b: np.ndarray,
    a: np.ndarray,
    inside: np.ndarray,
    min_pixels: int,
    spacing: int,
    neck: float,
    seen: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Piece labels ``1..n`` (and ``n``) of an object whose classes are decided (int32,
    :data:`~terrasight.tasks.semantic.decide.NO_CLASS` for none): see :func:`split_pieces`.

    ``seen``: where the network itself called each date building (before any pixel
    took its classes from a neighbour). Buildings are then cut from those pixels of the
    date that holds them, and the other pixels of a new (or removed) building region
    join the nearest one: a strip of ground between two roofs that the change mask
    took in keeps them apart.

    Example:
        >>> b = np.full((3, 9), 4); a = np.full((3, 9), 0); a[:, 4] = 3
        >>> labels, n = pieces_of(b, a, np.ones((3, 9), bool), 3, 2, 1.0)
        >>> n, labels[0].tolist()  # two new roofs, the lawn between them
        (3, [1, 1, 1, 1, 3, 2, 2, 2, 2])
    """
    appeared = inside & (a == BUILDING) & (b != BUILDING)
    went = inside & (b == BUILDING) & (a != BUILDING)
    labels = np.zeros(inside.shape, np.int32)
    n = 0
    cores = (inside, inside) if seen is None else (seen[1], seen[0])
    for region, core in zip((appeared, went), cores, strict=True):
        comp = _instances_in(region, region & core, spacing, neck)
        labels[comp > 0] = comp[comp > 0] + n
        n += int(comp.max())
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


def _instances_in(region: np.ndarray, core: np.ndarray, spacing: int, neck: float) -> np.ndarray:
    """Building labels ``1..n`` of ``region``: the instances of its ``core`` pixels, the
    rest of each region joining the nearest instance (a region without core pixels is
    one building)."""
    comp, count = ndimage.label(core, structure=EIGHT)
    labels, n = _instances_of(comp, count, spacing, neck)
    whole, parts = ndimage.label(region, structure=EIGHT)
    if n and (region & (labels == 0)).any():
        _, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        near = labels[rows, cols]
        ok = region & (labels == 0) & (whole[rows, cols] == whole)
        labels = np.where(ok, near, labels)
    for k in np.unique(whole[region & (labels == 0)]):
        n += 1
        labels[(whole == k) & (labels == 0)] = n
    return labels


def _instances_of(
    comp: np.ndarray, count: int, spacing: int, neck: float
) -> tuple[np.ndarray, int]:
    """Each region of ``comp`` split into building instances, relabelled ``1..n``."""
    out = np.zeros(comp.shape, np.int32)
    n = 0
    for i, box in enumerate(ndimage.find_objects(comp), start=1):
        if box is None:
            continue
        parts = building_instances(comp[box] == i, spacing, neck)
        out[box][parts > 0] = parts[parts > 0] + n
        n += int(parts.max())
    return out, n


def building_instances(region: np.ndarray, spacing: int, neck: float = NECK) -> np.ndarray:
    """Labels ``1..n`` of the buildings in a boolean region.

    One seed per local maximum of the distance to the region's edge (maxima at least
    ``spacing`` px apart and :data:`MIN_CORE` px deep), grown by a watershed on that
    distance; then two neighbouring parts are merged again only where the edge they
    share is at least ``neck`` times the width of the thinner one (twice its
    deepest distance): a long roof stays one building, two roofs joined by a wall or a
    strip of changed ground become two. ``neck`` 0 never splits a region.

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
    if n <= 1 or neck <= 0:
        return region.astype(np.int32)
    return _merge_wide_necks(_flood(markers.astype(np.int32), dist, region), dist, n, neck)


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


def _merge_wide_necks(labels: np.ndarray, dist: np.ndarray, n: int, neck: float) -> np.ndarray:
    """Merge neighbouring parts whose shared edge is at least ``neck`` times the width
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
        if count >= neck * 2 * min(deep[i], deep[j]):
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
