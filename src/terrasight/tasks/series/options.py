"""The options of a series job: a frozen dataclass, each value checked on construction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from terrasight.errors import InvalidOptionError
from terrasight.io.aoi import check_bbox, parse_bbox
from terrasight.tasks.change.methods.base import MethodOptions, did_you_mean
from terrasight.tasks.change.pipeline.checks import RULES


def _int(low: int) -> tuple[Any, str]:
    def ok(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= low

    return ok, f"an integer of at least {low}"


_RULES = {
    **{k: RULES[k] for k in ("method", "bands", "nodata", "min_pixels", "cloud_mask")},
    **{k: RULES[k] for k in ("tile_size", "workers", "scheduler", "resampling", "gdal_cache_mb")},
    **{k: RULES[k] for k in ("reflectance_scale", "reflectance_offset", "bbox")},
    "method_options": RULES["method_options"],
    "sample_tiles": _int(1),
    "sample_size": _int(64),
    "confirm": _int(1),
    "cloud_buffer": _int(0),
}


@dataclass(frozen=True)
class SeriesOptions:
    """How a series job runs; see :func:`terrasight.tasks.series.detect_series`.

    Raises:
        InvalidOptionError: a value out of range or of the wrong type.

    Example:
        >>> SeriesOptions(method="cva", confirm=2).confirm
        2
        >>> SeriesOptions.from_mapping({"confirms": 2})
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: unknown option 'confirms' of detect_series. Did you mean 'confirm'?
    """

    method: str = "cva"
    bands: tuple[int | str, ...] | None = None
    nodata: float | None = None
    min_pixels: int = 20
    cloud_mask: str = "auto"
    """``"auto"``, ``"on"`` or ``"off"``: per-date cloud masks (clouded pixels are no observation)."""
    cloud_buffer: int = 5
    """Pixels around each date's cloud and shadow mask also excluded (the hazy edge the cloud
    model leaves); 0 keeps the mask as the model drew it."""
    tile_size: int | None = None
    """Window size in pixels (a multiple of 256); the method's default when None."""
    workers: int = 2
    scheduler: str | None = None
    """Where windows run: None (this process's threads), ``"local"`` (a Dask ``LocalCluster``
    of ``workers`` processes) or a Dask scheduler's address ``"tcp://HOST:PORT"``."""
    sample_tiles: int = 8
    """Windows per pair the method is fitted on."""
    sample_size: int = 256
    resampling: str = "bilinear"
    gdal_cache_mb: int = 64
    reflectance_scale: float | None = None
    reflectance_offset: float = 0.0
    bbox: tuple[float, float, float, float] | None = None
    """An area of interest ``(west, south, east, north)`` in WGS84 degrees (or ``"W,S,E,N"``)."""
    confirm: int = 1
    """Clear dates from the change date on that must all show the change (1: the date itself)."""
    method_options: Mapping[str, Any] | MethodOptions = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.bands, list):
            object.__setattr__(self, "bands", tuple(self.bands))
        if isinstance(self.bbox, str):
            object.__setattr__(self, "bbox", parse_bbox(self.bbox))
        elif self.bbox is not None:
            object.__setattr__(self, "bbox", check_bbox(self.bbox))
        for f in fields(self):
            ok, allowed = _RULES[f.name]
            value = getattr(self, f.name)
            if not ok(value):
                raise InvalidOptionError(
                    f"option {f.name!r} of detect_series must be {allowed}, not {value!r}."
                )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SeriesOptions:
        """Options from ``{name: value}``, refusing unknown names (with the closest known one)."""
        check_names(values, ())
        return cls(**values)

    def signature(self) -> dict[str, Any]:
        """The options that change the result (the worker count and cache do not)."""
        skip = ("workers", "scheduler", "gdal_cache_mb", "method_options")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def check_names(given: Iterable[str], extra: Iterable[str]) -> None:
    """Refuse option names that are neither :class:`SeriesOptions` fields nor in ``extra``.

    Raises:
        InvalidOptionError: naming the unknown option and the closest known one.

    Example:
        >>> check_names(["confirm"], [])
    """
    known = [f.name for f in fields(SeriesOptions)] + list(extra)
    for name in given:
        if name not in known:
            raise InvalidOptionError(
                f"unknown option {name!r} of detect_series.{did_you_mean(name, known)}"
            )
