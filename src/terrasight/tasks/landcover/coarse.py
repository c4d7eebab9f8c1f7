"""Water and vegetation at ~10 m from RGB alone: the coarse-cover rules.

The land-cover network was trained on sub-metre aerial tiles; on a 10 m
Sentinel-2 true-colour scene it calls dark fields and woods water. Where the
image has no near-infrared band (which :func:`~terrasight.tasks.landcover.model.spectral_rules`
would use) and its content is coarser than :data:`COARSE_METRES` a pixel, the
coarse-cover network (:mod:`terrasight.models.onnx_coarse_cover`, taught by
Sentinel-2's own infrared bands) decides water, vegetation and neither; the
land-cover network keeps the say between building, road and bare land.

Example:
    >>> classes = np.array([[2, 2, 3]], np.uint8)  # the network: water, water, vegetation
    >>> prob = np.zeros((5, 1, 3), np.float32); prob[4] = 0.2; prob[0, 0, 2] = 0.3
    >>> coarse = np.array([[[0.9, 0.1, 0.9]], [[0.05, 0.8, 0.05]], [[0.05, 0.1, 0.05]]])
    >>> coarse_rules(classes, prob, coarse, 0.6).tolist()  # bare, water, building
    [[4, 2, 0]]
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from terrasight.models.onnx_coarse_cover import CoarseCoverNetwork, network_inputs
from terrasight.tasks.landcover.classes import NODATA

COARSE_METRES = 5.0
"""Images whose content is at least this coarse (m a pixel) and has no NIR get the rules."""
COARSE_THRESHOLD = 0.5
"""The coarse-cover probability a water, vegetation or neither decision needs."""
SMOOTH = 3
"""Side (content pixels) of the mean filter on the coarse probabilities: single-pixel
specks of water in fields become no water body."""
BUILDING, ROAD, WATER, VEGETATION, BARE = 0, 1, 2, 3, 4
_OTHER, _WATER, _GREEN = 0, 1, 2


def coarse_probabilities(
    display: np.ndarray, stats: tuple[np.ndarray, ...], net: CoarseCoverNetwork, factor: int = 1
) -> np.ndarray:
    """``(3, h, w)`` other / water / vegetation probabilities of an RGB window.

    ``display`` is the window in display units (0-255, as the land-cover network
    sees it), ``stats`` the scene's per-band 2nd, 50th and 98th percentiles in the
    same units; ``factor`` > 1 averages blocks of ``factor`` x ``factor`` px first
    (an image resampled finer than its content) and spreads the answer back.

    Example:
        >>> coarse_probabilities(np.zeros((3, 8, 8)), (np.zeros(3),) * 3, net, 2)  # doctest: +SKIP
    """
    x = network_inputs(display, stats)
    c, h, w = x.shape
    if factor > 1:
        hp, wp = -h % factor, -w % factor
        x = np.pad(x, ((0, 0), (0, hp), (0, wp)), mode="edge")
        x = x.reshape(c, x.shape[1] // factor, factor, x.shape[2] // factor, factor).mean((2, 4))
    prob = ndimage.uniform_filter(net.probabilities(x), size=(1, SMOOTH, SMOOTH), mode="nearest")
    if factor > 1:
        prob = prob.repeat(factor, 1).repeat(factor, 2)[:, :h, :w]
    return prob


def applies(has_nir: bool, metres: float | None) -> bool:
    """Whether the coarse-cover rules apply: no near-infrared band, and content at least
    :data:`COARSE_METRES` a pixel (``metres`` None: no ground units, no rules).

    Example:
        >>> applies(False, 10.0), applies(True, 10.0), applies(False, 0.5), applies(False, None)
        (True, False, False, False)
    """
    return not has_nir and metres is not None and metres >= COARSE_METRES


def coarse_rules(
    classes: np.ndarray, prob: np.ndarray, coarse: np.ndarray, threshold: float
) -> np.ndarray:
    """Set water, vegetation and neither where the coarse network is sure (in place).

    Where it says neither but the land-cover network said water or vegetation, the
    pixel takes the land-cover network's likeliest of building, road and bare land; a
    pixel the land-cover network left ``unknown`` stays unknown there (neither water nor
    vegetation does not say which of building, road and bare land it is).
    The land-cover network's own water is not kept against it: on the held-out OSCD
    cities keeping it where the coarse network gave water at least 0.3 or 0.1 lowered
    the three-class accuracy (0.894 and 0.839 against 0.925; the aerial network alone
    0.668).

    Args:
        classes: uint8 classes of the window (nodata left alone).
        prob: the land-cover network's ``(5, h, w)`` probabilities.
        coarse: :func:`coarse_probabilities`.
        threshold: the coarse probability a decision needs.
    """
    best = coarse.argmax(0)
    sure = (classes != NODATA) & (coarse.max(0) >= threshold)
    classes[sure & (best == _GREEN)] = VEGETATION
    other = sure & (best == _OTHER) & np.isin(classes, (WATER, VEGETATION))
    classes[sure & (best == _WATER)] = WATER
    if other.any():
        land = np.array([BUILDING, ROAD, BARE], np.uint8)
        pick = land[prob[[BUILDING, ROAD, BARE]].argmax(0)]
        classes[other] = pick[other]
    return classes


def scene_percentiles(data: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-band 2nd, 50th and 98th percentiles of the valid pixels of ``(3, h, w)``.

    Example:
        >>> d = np.arange(300, dtype=np.float32).reshape(3, 10, 10)
        >>> [round(float(v), 1) for v in scene_percentiles(d, np.ones((10, 10), bool))[1]]
        [49.5, 149.5, 249.5]
    """
    if not valid.any():
        return np.zeros(3), np.zeros(3), np.ones(3)
    low, mid, high = np.percentile(data[:, valid].astype(np.float64), [2, 50, 98], axis=1)
    return low, mid, high


def content_factor(grid_metres: float | None, content_metres: float | None) -> int:
    """How many grid pixels a side one pixel of content spans (1 when not resampled finer).

    Example:
        >>> content_factor(2.0, 10.0), content_factor(10.0, None), content_factor(None, 10.0)
        (5, 1, 1)
    """
    if not grid_metres or not content_metres:
        return 1
    return max(1, round(content_metres / grid_metres))


DISPUTED_SHARE = 0.2
"""Share of an image where the aerial network saw water and the coarse rules did not, above
which the land cover says that its water is uncertain."""


def water_caveat(disputed: int, valid: int) -> str | None:
    """A caveat when the two networks disagree about water on much of the image, else None.

    Example:
        >>> water_caveat(30, 100)[:39]
        'the aerial network saw water on 30% of '
        >>> water_caveat(3, 100) is None
        True
    """
    share = disputed / max(valid, 1)
    if share < DISPUTED_SHARE:
        return None
    return (
        f"the aerial network saw water on {share:.0%} of the image where the coarse-cover "
        "network (RGB at ~10 m) sees land; that area is mapped as land, but water there is "
        "uncertain (a near-infrared band would settle it)"
    )
