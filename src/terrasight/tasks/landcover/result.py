"""The result of a land-cover run: plain, JSON-ready data pointing at its files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.landcover.classes import class_table


@dataclass(frozen=True)
class LandCoverResult:
    """Land cover of one image.

    Attributes:
        source: the image read.
        width, height: size of the classified region in pixels.
        crs: the region's CRS as WKT or ``EPSG:n`` (None: pixel coordinates).
        pixels: pixel count per class name (``unknown`` included, nodata excluded).
        areas: area per class name in :attr:`unit`.
        unit: ``"m2"``, or ``"px"`` without a CRS.
        threshold: the probability under which a pixel is ``unknown``.
        spectral: whether the NDVI/NDWI rules were applied (red and NIR bands present).
        coarse: whether the coarse-cover rules were applied (RGB at 5 m or coarser, no NIR).
        files: output name -> path (empty without an output folder).
        notes: what the reader should know (no CRS, stretched input, ...).
        classes: the class raster, only when no output folder was given.
        clouds: whether clouds were checked (or why not), and the pixels and share of the
            image left out as cloud or cloud shadow (nodata, in no class).

    Example:
        >>> r = LandCoverResult("a.tif", 2, 1, None, {"bare": 2}, {"bare": 2.0}, "px", 0.4)
        >>> r.to_dict()["unit"], r.valid_area
        ('px', 2.0)
    """

    source: str
    width: int
    height: int
    crs: str | None
    pixels: dict[str, int]
    areas: dict[str, float]
    unit: str
    threshold: float
    spectral: bool = False
    coarse: bool = False
    files: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    classes: np.ndarray | None = field(default=None, repr=False, compare=False)
    clouds: dict[str, Any] = field(default_factory=dict)

    @property
    def valid_area(self) -> float:
        """Area of all classified pixels (every class, ``unknown`` included)."""
        return float(sum(self.areas.values()))

    @property
    def shares(self) -> dict[str, float]:
        """Share of the valid area per class (0-1)."""
        total = self.valid_area
        return {k: (v / total if total else 0.0) for k, v in self.areas.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``classes`` (code -> name), ``areas``, ``unit``, ``pixels``, ``shares``..."""
        return {
            "source": self.source,
            "classes": class_table(),
            "areas": {k: round(v, 2) for k, v in self.areas.items()},
            "unit": self.unit,
            "pixels": dict(self.pixels),
            "shares": {k: round(v, 4) for k, v in self.shares.items()},
            "width": self.width,
            "height": self.height,
            "crs": self.crs,
            "threshold": self.threshold,
            "spectral_rules": self.spectral,
            "coarse_rules": self.coarse,
            "nodata": 255,
            "files": {k: str(Path(v)) for k, v in self.files.items()},
            "clouds": dict(self.clouds),
            "notes": list(self.notes),
        }
