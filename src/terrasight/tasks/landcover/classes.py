"""The land-cover classes: codes, names, colours (no dependencies beyond the standard library).

Codes 0-4 are the five classes the model predicts, 5 (``unknown``) marks pixels
where the model is unsure, 255 is nodata (outside the image's valid pixels).

>>> CLASSES[0], CLASSES[UNKNOWN]
('building', 'unknown')
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("building", "road", "water", "vegetation", "bare", "unknown")
"""Class name by code; the first :data:`N_CLASSES` are predicted, the last means unsure."""
N_CLASSES = 5
"""How many classes the model predicts (``building`` .. ``bare``)."""
UNKNOWN = 5
"""Code of the pixels whose largest class probability is below the model's threshold."""
NODATA = 255
"""Code of pixels outside the image's valid data."""
COLOURS: tuple[tuple[int, int, int], ...] = (
    (220, 60, 50),  # building
    (120, 120, 120),  # road
    (40, 110, 220),  # water
    (40, 160, 60),  # vegetation
    (215, 190, 130),  # bare
    (250, 250, 250),  # unknown
)
"""Display colour by code (the GeoTIFF colour table, the report's overlay and legend)."""


def class_table() -> dict[str, str]:
    """``{"0": "building", ...}``: codes as strings (JSON keys) to names, ``unknown`` included.

    Example:
        >>> class_table()["2"]
        'water'
    """
    return {str(i): name for i, name in enumerate(CLASSES)}
