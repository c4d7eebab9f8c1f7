"""Band names: the common names of spectral bands (``red``, ``nir``...) and their aliases."""

from __future__ import annotations

# Common band names -> the names sensors write into band descriptions or file names.
BAND_ALIASES: dict[str, tuple[str, ...]] = {
    "coastal": ("b01", "b1", "coastal_aerosol"),
    "blue": ("b02", "b2", "b"),
    "green": ("b03", "b3", "g"),
    "red": ("b04", "b4", "r"),
    "rededge1": ("b05",),
    "rededge2": ("b06",),
    "rededge3": ("b07",),
    "nir": ("b08", "b8", "nir08", "b5_landsat"),
    "nir08": ("b8a",),
    "swir16": ("b11", "swir1", "b6_landsat"),
    "swir22": ("b12", "swir2", "b7_landsat"),
}


def common_name(name: str) -> str:
    """Map a band description (``"B04"``, ``"red"``) to its common name (``"red"``).

    Example:
        >>> common_name("B04"), common_name("nir08"), common_name("B8A"), common_name("qa")
        ('red', 'nir08', 'nir08', 'qa')
    """
    low = name.lower()
    if low in BAND_ALIASES:
        return low
    for common, aliases in BAND_ALIASES.items():
        if low in aliases:
            return common
    return low
