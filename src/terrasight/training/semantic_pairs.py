"""Semantic change pairs with known truth, made from a labelled land-cover image.

Take a labelled aerial image as one date; make the other by covering some of
its building instances with ground texture copied from nearby unpaved land
(the nearest offset where the whole building's footprint lands on land), then
jitter each date's light and colour on its own. Pixels of the covered buildings
changed from ``bare`` to ``building`` (``"built"``: the covered image is the
before date) or from ``building`` to ``bare`` (``"removed"``); their number of
instances is the number of new (or removed) buildings.

A building instance is an 8-connected region of the label's building pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from terrasight.training.synthetic import Jitter, photometric

BUILDING, BARE = 0, 4
MILD = Jitter(
    brightness=0.04, contrast=0.08, colour=0.04, gamma=0.08, blur=0.0, noise=0.01, grey=0.0
)
"""Per-date jitter of the pairs: light and colour of two dates of one survey."""


@dataclass(frozen=True)
class SemanticPair:
    """``before`` and ``after`` uint8 ``(3, h, w)``, the truth ``changed`` mask, the classes
    before and after on changed pixels, and the number of buildings covered."""

    before: np.ndarray
    after: np.ndarray
    changed: np.ndarray
    from_class: int
    to_class: int
    buildings: int


def cover_buildings(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    share: float = 0.5,
    min_pixels: int = 150,
    max_shift: int = 200,
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(covered image (h, w, 3), covered pixels, instances covered)``.

    Each building instance of at least ``min_pixels`` px is chosen with probability
    ``share``; it is covered when some shift of at most ``max_shift`` px puts its
    dilated footprint wholly on unpaved land (``bare``), else left as it is.

    Example:
        >>> img = np.zeros((40, 40, 3), np.uint8); lab = np.full((40, 40), 4, np.uint8)
        >>> lab[5:15, 5:15] = 0
        >>> out, covered, n = cover_buildings(img, lab, np.random.default_rng(0), 1.0, 50)
        >>> n, int(covered.sum())
        (1, 100)
    """
    out = image.copy()
    land = labels == BARE
    comps, count = ndimage.label(labels == BUILDING, structure=np.ones((3, 3), bool))
    covered = np.zeros(labels.shape, bool)
    n = 0
    h, w = labels.shape
    for i, box in enumerate(ndimage.find_objects(comps), start=1):
        if box is None:
            continue
        own = comps[box] == i
        if own.sum() < min_pixels or rng.random() >= share:
            continue
        grown = ndimage.binary_dilation(own, iterations=2)
        shift = _land_shift(land, box, grown, rng, max_shift)
        if shift is None:
            continue
        dr, dc = shift
        rows, cols = np.nonzero(grown)
        rows, cols = rows + box[0].start, cols + box[1].start
        ok = (rows + dr >= 0) & (rows + dr < h) & (cols + dc >= 0) & (cols + dc < w)
        out[rows[ok], cols[ok]] = image[rows[ok] + dr, cols[ok] + dc]
        covered[box] |= own
        n += 1
    return out, covered, n


def _land_shift(
    land: np.ndarray, box: tuple[slice, slice], footprint: np.ndarray, rng, max_shift: int
) -> tuple[int, int] | None:
    """A (row, col) shift, nearest first, moving ``footprint`` wholly onto land; None if none."""
    h, w = land.shape
    r0, c0 = box[0].start, box[1].start
    fh, fw = footprint.shape
    steps = np.arange(8, max_shift + 1, 8)
    for radius in steps:
        angles = rng.permutation(16) * (2 * np.pi / 16)
        for a in angles:
            dr, dc = int(round(radius * np.sin(a))), int(round(radius * np.cos(a)))
            rr, cc = r0 + dr, c0 + dc
            if rr < 0 or cc < 0 or rr + fh > h or cc + fw > w:
                continue
            if land[rr : rr + fh, cc : cc + fw][footprint].all():
                return dr, dc
    return None


def semantic_pair(
    image: np.ndarray,
    labels: np.ndarray,
    direction: str,
    seed: int,
    share: float = 0.5,
) -> SemanticPair:
    """A jittered pair of ``image`` (``(h, w, 3)`` uint8) with buildings covered in one date.

    ``direction`` ``"built"``: the covered image is the before date (bare -> building);
    ``"removed"``: the after date (building -> bare).

    Example:
        >>> pair = semantic_pair(img, labels, "built", 0)  # doctest: +SKIP
        >>> pair.from_class, pair.to_class, pair.buildings  # doctest: +SKIP
        (4, 0, 23)
    """
    if direction not in ("built", "removed"):
        raise ValueError(f"direction must be 'built' or 'removed', not {direction!r}")
    rng = np.random.default_rng(seed)
    covered_image, changed, n = cover_buildings(image, labels, rng, share)
    dates = [covered_image, image] if direction == "built" else [image, covered_image]
    jittered = []
    for date in dates:
        x = photometric(date.transpose(2, 0, 1).astype(np.float32) / 255.0, rng, MILD)
        jittered.append(np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8))
    codes = (BARE, BUILDING) if direction == "built" else (BUILDING, BARE)
    return SemanticPair(jittered[0], jittered[1], changed, codes[0], codes[1], n)
