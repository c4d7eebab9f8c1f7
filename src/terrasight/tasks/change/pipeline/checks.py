"""Checks of a change job's own options (:class:`~terrasight.tasks.change.pipeline.options.ChangeOptions`).

Each bad value, and each keyword that :func:`~terrasight.tasks.change.pipeline.detect.detect_changes`
does not know, is one :class:`~terrasight.errors.InvalidOptionError` naming the
option and the values it accepts, raised before any file is read or written.
The options of the method itself are checked by its options class
(:mod:`terrasight.tasks.change.methods.base`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

from terrasight.errors import InvalidOptionError, UnknownMethodError
from terrasight.tasks.change.methods.base import MethodOptions, did_you_mean
from terrasight.tasks.change.methods.registry import get_method

SENSORS = ("auto", "optical", "multispectral", "sar")
"""Values of ``sensor``, the kind of input ``method="auto"`` chooses for (``auto``: from the file)."""

CLOUD_MODES = ("auto", "on", "off")
"""Values of ``cloud_mask``."""
RESAMPLINGS = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode")
"""Values of ``resampling`` (rasterio's names) for putting the after image on the before grid."""
TILE_STEP = 256
"""Window sizes are multiples of this (the output GeoTIFFs' block size)."""


def _int(low: int) -> tuple[Callable[[Any], bool], str]:
    ok = lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low  # noqa: E731
    return ok, f"an integer of at least {low}"


def _real(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return _real(v) and math.isfinite(v)


def _bands(v: Any) -> bool:
    if v is None:
        return True
    if not isinstance(v, tuple) or not v:
        return False
    return all(isinstance(b, str) and b or isinstance(b, int) and b >= 1 for b in v)


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "method": (
        lambda v: isinstance(v, str) and bool(v),
        "the name of a change method, or 'auto'",
    ),
    "sensor": (lambda v: v in SENSORS, "one of " + ", ".join(map(repr, SENSORS))),
    "bands": (_bands, "band numbers from 1 or band names, e.g. (3, 2, 1) or ('red', 'nir')"),
    "after_bands": (_bands, "band numbers from 1 or band names, e.g. (3, 2, 1) or ('red', 'nir')"),
    "nodata": (lambda v: v is None or _real(v), "a number or None"),
    "min_pixels": _int(0),
    "cloud_mask": (lambda v: v in CLOUD_MODES, "one of 'auto', 'on', 'off'"),
    "tile_size": (
        lambda v: v is None or _int(TILE_STEP)[0](v) and v % TILE_STEP == 0,
        f"None or a multiple of {TILE_STEP} pixels (256, 512, 1024, ...)",
    ),
    "workers": _int(1),
    "scheduler": (
        lambda v: v is None or isinstance(v, str) and (v == "local" or "://" in v),
        "None, 'local' or a Dask scheduler address such as 'tcp://host:8786'",
    ),
    "sample_tiles": _int(1),
    "sample_size": _int(64),
    "resampling": (lambda v: v in RESAMPLINGS, "one of " + ", ".join(map(repr, RESAMPLINGS))),
    "gdal_cache_mb": _int(1),
    "reflectance_scale": (lambda v: v is None or _number(v) and v > 0, "a positive number or None"),
    "reflectance_offset": (_number, "a number"),
    "bbox": (
        lambda v: v is None or isinstance(v, tuple) and len(v) == 4,
        "None or (west, south, east, north) in WGS84 degrees",
    ),
    "method_options": (
        lambda v: isinstance(v, Mapping | MethodOptions),
        "a mapping of option names to values, e.g. {'tolerance': 0}, or a method's options",
    ),
}
"""Each option of a change job: a test of its value and the allowed values in words."""


def check_change_options(options: Any) -> None:
    """Refuse a :class:`ChangeOptions` with a value out of range or of the wrong type.

    Raises:
        InvalidOptionError: naming the first bad option and its allowed values.

    Example:
        >>> from terrasight.tasks.change.pipeline.options import ChangeOptions
        >>> ChangeOptions(workers=0)
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: option 'workers' of detect_changes must be an integer of at least 1, not 0 (--workers on the command line).
    """
    for f in fields(options):
        if f.name not in RULES:
            continue
        value = getattr(options, f.name)
        ok, allowed = RULES[f.name]
        if not ok(value):
            flag = CLI_FLAGS.get(f.name)
            where = f" ({flag} on the command line)" if flag else ""
            raise InvalidOptionError(
                f"option {f.name!r} of detect_changes must be {allowed}, not {value!r}{where}."
            )


CLI_FLAGS = {
    name: "--" + name.replace("_", "-")
    for name in (
        "method",
        "sensor",
        "bands",
        "after_bands",
        "nodata",
        "min_pixels",
        "cloud_mask",
        "tile_size",
        "workers",
        "scheduler",
        "reflectance_scale",
        "reflectance_offset",
        "bbox",
    )
}
"""The options that ``terrasight change`` sets, and its flag for each."""


def check_keywords(given: Iterable[str], known: Iterable[str], method: str) -> None:
    """Refuse keyword arguments of ``detect_changes`` that are not job options.

    A method's option passed as a keyword is pointed to ``method_options``.

    Example:
        >>> check_keywords(["nodata"], ["nodata", "after_bands"], "cva")
        >>> check_keywords(["nodaat"], ["nodata", "after_bands"], "cva")
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: unknown option 'nodaat' of detect_changes. Did you mean 'nodata'? Known: after_bands, nodata.
    """
    known = sorted(known)
    for key in given:
        if key in known:
            continue
        hint = _method_option_hint(key, method)
        raise InvalidOptionError(
            f"unknown option {key!r} of detect_changes.{hint or did_you_mean(key, known)} "
            f"Known: {', '.join(known)}."
        )


def _method_option_hint(key: str, method: str) -> str:
    try:
        spec = get_method(method)
    except UnknownMethodError:
        return ""
    if key not in {f.name for f in fields(spec.options)}:
        return ""
    return (
        f" {key!r} is an option of change method {method!r}: pass "
        f"method_options={{{key!r}: ...}} (-O {key}=VALUE on the command line)."
    )
