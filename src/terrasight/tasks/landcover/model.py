"""Per-window land cover: class probabilities, classes, and the spectral rules.

:func:`classify_window` is the one call a later step needs (semantic change,
facts): RGB window in, class probabilities out, on a network the caller opened
once with :func:`~terrasight.models.onnx_landcover.load_landcover_network`.

Where an image has red and near-infrared bands, :func:`spectral_rules`
overrides the RGB model where the indices are unambiguous: NDVI
(nir - red) / (nir + red) at least :data:`VEGETATION_NDVI` is vegetation;
NDWI (green - nir) / (green + nir) at least :data:`WATER_NDWI` is water.
Those thresholds are stricter than the usual 0.4 and 0 (McFeeters 1996) so
that only confident pixels are overridden; they were not tuned on any scene
here (the labelled tiles are RGB only).

The rules also veto: open water absorbs near-infrared, so a pixel the network
calls water whose NDWI is below :data:`NOT_WATER_NDWI` (clearly brighter in
near-infrared than in green) is not water. On 10 m Sentinel-2 scenes the
aerial network takes dark woods and shaded fields for water (Saclay: the
median NDWI of its water pixels was -0.24, their NDVI 0.32; the river of
Rennes and the sea of a coastal scene sit at +0.30 and +0.51); such pixels
take the network's next class, or unknown where that is unsure.
"""

from __future__ import annotations

import numpy as np

from terrasight.models.onnx_landcover import LandCoverNetwork
from terrasight.tasks.landcover.classes import N_CLASSES, NODATA, UNKNOWN

VEGETATION_NDVI = 0.5
WATER_NDWI = 0.2
NOT_WATER_NDWI = -0.1
"""A pixel called water with NDWI below this is not water (near-infrared clearly above green)."""
WATER, VEGETATION = 2, 3


def classify_window(rgb: np.ndarray, network: LandCoverNetwork) -> np.ndarray:
    """Class probabilities ``(5, h, w)`` float32 (building, road, water, vegetation, bare).

    Args:
        rgb: ``(3, h, w)`` red, green, blue in 0-255 (uint8 or float; see
            :func:`to_display_units` for other ranges). A window overlapping its
            neighbours by some 32-64 px classifies their shared edge better.
        network: the opened network (open it once, use it for every window).

    Example:
        >>> from terrasight.models.onnx_landcover import load_landcover_network
        >>> net = load_landcover_network()  # doctest: +SKIP
        >>> classify_window(np.zeros((3, 64, 80), np.uint8), net).shape  # doctest: +SKIP
        (5, 64, 80)
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"an RGB window must be (3, h, w), not {rgb.shape}")
    return network.probabilities(rgb)


def classes_of(prob: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 classes of probabilities ``(5, h, w)``: the most probable, :data:`UNKNOWN` below
    ``threshold``.

    Example:
        >>> p = np.array([[[0.9, 0.3]], [[0.1, 0.3]], [[0, 0.2]], [[0, 0.1]], [[0, 0.1]]])
        >>> classes_of(p, 0.4).tolist()
        [[0, 5]]
    """
    out = prob.argmax(0).astype(np.uint8)
    out[prob.max(0) < threshold] = UNKNOWN
    return out


def spectral_rules(
    classes: np.ndarray,
    red: np.ndarray,
    green: np.ndarray,
    nir: np.ndarray,
    prob: np.ndarray | None = None,
    threshold: float = 0.5,
) -> np.ndarray:
    """Set confident vegetation (NDVI) and water (NDWI) pixels of ``classes`` in place, and
    take water away where near-infrared says it is not; returns the mask of those pixels.

    Bands in any units with zero at no signal (reflectance or raw counts). A vetoed water
    pixel takes the most probable other class of ``prob`` (the network's ``(5, h, w)``
    probabilities) where that reaches ``threshold``, else :data:`UNKNOWN`.

    Example:
        >>> c = np.array([[0, 0, 0, 2]], np.uint8)
        >>> spectral_rules(c, np.array([[0.05, 0.2, 0.3, 0.1]]), np.array([[0.08, 0.2, 0.3, 0.1]]),
        ...                np.array([[0.4, 0.05, 0.3, 0.3]])).tolist()
        [[False, False, False, True]]
        >>> c.tolist()  # vegetation, water, as it was, not water (unknown)
        [[3, 2, 0, 5]]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
        ndwi = (green - nir) / (green + nir)
    keep = classes != NODATA
    classes[keep & (ndvi >= VEGETATION_NDVI)] = VEGETATION
    veto = keep & (classes == WATER) & (ndwi < NOT_WATER_NDWI)
    if veto.any():
        if prob is None:
            classes[veto] = UNKNOWN
        else:
            others = prob.copy()
            others[WATER] = -1.0
            best = others.argmax(0).astype(np.uint8)
            best[others.max(0) < threshold] = UNKNOWN
            classes[veto] = best[veto]
    classes[keep & (ndwi >= WATER_NDWI)] = WATER
    return veto


def water_veto_note(vetoed: int, valid: int) -> str | None:
    """A note when near-infrared took water away from at least 0.1% of the image, else None.

    Example:
        >>> water_veto_note(50, 1000)[:40]
        'near-infrared took water away from 5.0% '
        >>> water_veto_note(0, 1000) is None
        True
    """
    share = vetoed / max(valid, 1)
    if share < 0.001:
        return None
    return (
        f"near-infrared took water away from {share:.1%} of the image: the aerial network "
        "called it water, but it is brighter in near-infrared than in green (dark woods, "
        "shade or wet fields), so it is mapped as the network's next class or unknown"
    )


def to_display_units(
    bands: np.ndarray, low: np.ndarray | None = None, high: np.ndarray | None = None
) -> np.ndarray:
    """``(3, h, w)`` in 0-255 float32: as they are without ``low``/``high``, else stretched
    so that each band's ``low`` becomes 0 and ``high`` 255 (clipped).

    Example:
        >>> to_display_units(np.array([[[100.0, 300.0]]] * 3), np.full(3, 100.0),
        ...                  np.full(3, 300.0))[0].tolist()
        [[0.0, 255.0]]
    """
    x = np.asarray(bands, np.float32)
    if low is None or high is None:
        return x
    lo = np.asarray(low, np.float32).reshape(-1, 1, 1)
    hi = np.asarray(high, np.float32).reshape(-1, 1, 1)
    return np.clip((x - lo) / np.maximum(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.float32)


__all__ = [
    "N_CLASSES",
    "classes_of",
    "classify_window",
    "spectral_rules",
    "to_display_units",
    "water_veto_note",
]
