"""The options of a change job (:func:`~terrasight.tasks.change.pipeline.detect.detect_changes`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from terrasight.io.aoi import check_bbox, parse_bbox
from terrasight.tasks.change.methods.base import MethodOptions
from terrasight.tasks.change.pipeline.checks import check_change_options


@dataclass(frozen=True)
class ChangeOptions:
    """How a change job runs. All fields have defaults; each is checked on construction.

    Raises:
        InvalidOptionError: a value out of range or of the wrong type (see
            :data:`terrasight.tasks.change.pipeline.checks.RULES` for the allowed values).
    """

    method: str = "auto"
    """A method name, or ``"auto"``: the best for the input's kind (:mod:`.choose`)."""
    sensor: str = "auto"
    """For ``method="auto"``: ``"auto"`` (read from the file), ``"optical"``,
    ``"multispectral"`` or ``"sar"``."""
    bands: tuple[int | str, ...] | None = None
    after_bands: tuple[int | str, ...] | None = None
    nodata: float | None = None
    min_pixels: int = 20
    cloud_mask: str = "auto"
    """``"auto"``, ``"on"`` or ``"off"``."""
    tile_size: int | None = None
    """Window size in pixels, a multiple of 256; the method's default when None."""
    workers: int = 2
    scheduler: str | None = None
    """Run the windows on Dask: ``"local"`` (a ``LocalCluster`` of ``workers`` processes) or
    a scheduler's address ``"tcp://host:8786"`` (its workers must see the images)."""
    sample_tiles: int = 16
    sample_size: int = 512
    resampling: str = "bilinear"
    gdal_cache_mb: int = 64
    reflectance_scale: float | None = None
    """Multiply DNs by this to get reflectance for cloud masks; read from the file's metadata
    when it has them (Sentinel-2: 1e-4; Landsat Collection 2 Level-1 TOA: 2e-5, Level-2:
    2.75e-5)."""
    reflectance_offset: float = 0.0
    """Add this after scaling (Sentinel-2 from baseline 04.00: -0.1; Landsat C2 Level-1: -0.1,
    Level-2: -0.2)."""
    bbox: tuple[float, float, float, float] | None = None
    """An area of interest ``(west, south, east, north)`` in WGS84 degrees (or ``"W,S,E,N"``):
    the job covers only the before pixels inside it, and reads only the windows covering it."""
    method_options: Mapping[str, Any] | MethodOptions = field(default_factory=dict)
    """The method's options by name (e.g. ``{"tolerance": 1}`` for CVA; strings are
    converted), or an instance of the method's options class (e.g. ``CVAOptions``)."""

    def __post_init__(self) -> None:
        for name in ("bands", "after_bands"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.bbox, str):
            object.__setattr__(self, "bbox", parse_bbox(self.bbox))
        elif self.bbox is not None:
            object.__setattr__(self, "bbox", check_bbox(self.bbox))
        check_change_options(self)
