"""Spectral evidence for land cover: water, green or dry ground from standard indices.

Where an image has red and near-infrared bands (Sentinel-2, Landsat, most
multispectral aerial cameras), the mean spectrum of an object's own pixels
says which broad group its ground belongs to far more surely than a picture
does at 10-30 m: open water (MNDWI, or NDWI without a SWIR band, above 0),
green vegetation (NDVI at least 0.4) or dry ground (NDVI below 0.2: buildings,
roads, bare soil). The image-text model then chooses the class within that
group; between the thresholds every land class stays possible. The thresholds
are the usual ones of the literature (McFeeters 1996, Xu 2006, and NDVI 0.2 /
0.4 for sparse / dense vegetation), not tuned on any scene here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

WATER_INDEX = 0.0
"""MNDWI (green - swir16) / (green + swir16), or NDWI (green - nir) / (green + nir), above
which the ground is open water."""
GREEN_NDVI = 0.4
DRY_NDVI = 0.2
GROUPS: dict[str, tuple[str, ...]] = {
    "water": ("water",),
    "green": ("vegetation", "farmland"),
    "dry": ("built-up", "road", "bare land"),
    "mixed": ("built-up", "road", "bare land", "vegetation", "farmland"),
}
"""Which land-cover classes each spectral group allows."""
NEEDED = ("red", "nir")


def has_spectral_bands(band_names: Sequence[str]) -> bool:
    """Whether the bands allow spectral evidence (red and near-infrared).

    Example:
        >>> has_spectral_bands(["blue", "green", "red", "nir"]), has_spectral_bands(["red"])
        (True, False)
    """
    return all(b in band_names for b in NEEDED)


def spectral_group(reflectance: Mapping[str, float]) -> str | None:
    """The spectral group (``water``, ``green``, ``dry``, ``mixed``) of one spectrum by band
    common name (the rule of :func:`pixel_groups`), or None without red and near-infrared.

    Example:
        >>> spectral_group({"green": 0.06, "red": 0.04, "nir": 0.02, "swir16": 0.01})
        'water'
        >>> spectral_group({"green": 0.08, "red": 0.05, "nir": 0.35})
        'green'
        >>> spectral_group({"green": 0.25, "red": 0.26, "nir": 0.28, "swir16": 0.3})
        'dry'
    """
    names = list(reflectance)
    data = np.array([[[reflectance[n]]] for n in names], dtype=np.float64)
    group = pixel_groups(data, names, (1.0,) * len(names), (0.0,) * len(names))[0, 0]
    return str(group) or None


def restrict(probs: np.ndarray, names: Sequence[str], group: str | None) -> np.ndarray:
    """Class probabilities with the classes the group rules out set to 0 and the rest
    renormalised; unchanged without a group or when the group allows none of ``names``.

    Example:
        >>> restrict(np.array([0.5, 0.3, 0.2]), ["vegetation", "water", "road"], "dry")
        array([0., 0., 1.])
    """
    if group is None:
        return probs
    allowed = np.array([n in GROUPS[group] for n in names])
    kept = np.where(allowed, probs, 0.0)
    total = kept.sum()
    return kept / total if total > 0 else probs


def pixel_groups(data: np.ndarray, band_names: Sequence[str], scale, offset) -> np.ndarray:
    """The spectral group of every pixel of ``(bands, h, w)`` data: an array of group names
    (``""`` without red and near-infrared).

    Example:
        >>> d = np.array([[[0.05]], [[0.04]], [[0.35]]])  # green, red, nir
        >>> pixel_groups(d, ["green", "red", "nir"], (1, 1, 1), (0, 0, 0)).tolist()
        [['green']]
    """
    bands = {
        n: data[i] * s + o
        for i, (n, s, o) in enumerate(zip(band_names, scale, offset, strict=True))
    }
    out = np.full(data.shape[1:], "", dtype=object)
    if not all(b in bands for b in NEEDED):
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = np.nan_to_num((bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"]))
        out[:] = "mixed"
        out[ndvi >= GREEN_NDVI] = "green"
        out[ndvi < DRY_NDVI] = "dry"
        if "green" in bands:
            other = bands["swir16"] if "swir16" in bands else bands["nir"]
            wet = np.nan_to_num((bands["green"] - other) / (bands["green"] + other)) > WATER_INDEX
            out[wet] = "water"
    return out


def dominant_group(
    data: np.ndarray, valid: np.ndarray, band_names: Sequence[str], scale, offset
) -> str | None:
    """The spectral group most of the ``valid`` pixels belong to (a pixel vote, so an
    object outlined a little wider than it is still reads as itself), or None.

    Example:
        >>> d = np.zeros((3, 1, 3)); d[1], d[2] = 0.2, [[0.21, 0.21, 0.6]]  # red, nir
        >>> dominant_group(d, np.ones((1, 3), bool), ["green", "red", "nir"], (1,) * 3, (0,) * 3)
        'dry'
    """
    groups = pixel_groups(data, band_names, scale, offset)[valid]
    groups = groups[groups != ""]
    if groups.size == 0:
        return None
    names, counts = np.unique(groups.astype(str), return_counts=True)
    return str(names[int(np.argmax(counts))])
