"""``method="auto"``: the change method best for the kind of input, chosen before any fitting.

The input's kind comes from the before image as opened (its selected bands):
an explicit ``sensor`` first; then SAR band names (VV, VH, HH, HV in the band
descriptions); band wavelengths or Landsat-like names and the pixel size
(multispectral at 20 m or coarser is Landsat-like); the band count (3: an
RGB image, 4 to 13: multispectral); for one or two bands not named as SAR,
values in dB (float, below -3). A band's speckle was measured and does not
tell 8-bit SAR from optical bands (docs/change-sensors.md), so one unnamed
band gets the method that was safest on both. No one-band candidate (filtered
CVA, ``sar`` with Otsu's cut, minimum-error cuts) beat it on both radar pairs
without losing on optical bands (benchmarks/results/change_one_band.json).

Each kind maps to a method in :data:`CHOICES`, with the measurement that
chose it; change that table when a better method is measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from rasterio.windows import Window

from terrasight.errors import InvalidOptionError
from terrasight.io.bands import common_name
from terrasight.io.pair import RasterPair
from terrasight.io.raster import RasterSource
from terrasight.io.rgb import grey_inputs
from terrasight.tasks.change.methods.base import MethodChoice, MethodOptions, MethodSpec
from terrasight.tasks.change.methods.learned_ms import REQUIRED
from terrasight.tasks.change.pipeline.checks import SENSORS
from terrasight.tasks.change.pipeline.plan import method_options_for

AUTO = "auto"
"""The method name that asks for this choice."""

CHOICES: dict[str, tuple[str, dict[str, Any], str]] = {
    "rgb": (
        "learned",
        {},
        "the learned network was trained on aerial RGB pairs and scores best on them "
        "(AirChange test crops, benchmarks/results/change_accuracy.json)",
    ),
    "multispectral": (
        "cva",
        {"tolerance": 0},
        "on the 9 OSCD Sentinel-2 cities (4 bands at 10 m) cva pixel by pixel scored 0.341 "
        "pooled F1 (irmad 0.241, cva with a 1 px tolerance 0.209: at 10 m a tolerance erodes "
        "small changes away; benchmarks/results/change_multispectral.json and "
        "change_robust_stats.json); ms-unet, better there, needs blue, green, red and nir "
        "named and was trained on 10 m pixels only: without those names, or at other pixel "
        "sizes, cva is the safer answer",
    ),
    "sentinel2": (
        "ms-unet",
        {},
        "on the 9 OSCD Sentinel-2 cities, each scored by a network trained without it, "
        "ms-unet scored the best pooled F1: 0.356 against 0.341 for cva pixel by pixel "
        "(4 bands), 0.355 against 0.281 with B11 and B12 (three folds of three cities; "
        "these folds also chose its setting among four; "
        "benchmarks/results/change_multispectral.json, _6band.json); with both methods "
        "looking for a global offset of the dates (now the default) 0.345 against 0.330 "
        "(4 bands; benchmarks/results/change_coregister.json), and it kept the changed "
        "share nearest the truth (6 of 9 cities within 2x). On the planted floods, clearings "
        "and roofs of the demo pair it scored 0.91 (cva pixel by pixel 0.90 with 6 bands, "
        "0.32 with 4; benchmarks/results/change_ms_demo.json)",
    ),
    "landsat": (
        "irmad",
        {"tolerance": 0},
        "IR-MAD scored best on the Nanjing Landsat TM pair "
        "(benchmarks/results/change_accuracy_sensors.json); pixel by pixel (tolerance 0): "
        "Landsat products are co-registered to well under a 30 m pixel, and a one-pixel "
        "tolerance erodes 30 m off every change",
    ),
    "sar": (
        "sar",
        {},
        "the sar method (speckle filter, log-ratio, minimum-error threshold) is made for "
        "radar speckle; it scored best on the Bern and Sulzberger pairs "
        "(benchmarks/results/change_accuracy_sensors.json)",
    ),
    "panchromatic": (
        "cva",
        {},
        "on one band whose sensor the file does not name, cva was the safest of cva, irmad "
        "and sar measured on one-band optical and SAR pairs (docs/change-sensors.md): sar "
        "fails on some optical bands (AirChange band 1: kappa 0.00 against 0.26; the demo "
        "pair's NIR band alone: F1 0.59 against 0.81, though 0.97 against 0.34 on its red "
        "band; cva with its earlier mean statistics), cva is fair on both (Bern and "
        "Sulzberger SAR: 0.64 and 0.86, sar 0.87 and 0.93; "
        "benchmarks/results/change_robust_stats.json)",
    ),
    "other": (
        "cva",
        {},
        "cva works on any bands and tests changes against the pair's own noise",
    ),
}
"""Input kind -> (method, its options, why). Edit here to change what ``auto`` picks."""

SAR_NAME = re.compile(r"(?<![a-z])(vv|vh|hh|hv)(?![a-z])")
"""A polarisation in a band description (``VV``, ``Sigma0_VH_db``, ``hh``)."""
LANDSAT_NAME = re.compile(r"landsat|\btm\b|\betm\+?|\boli\b|sr_b\d|^b\d$|band ?\d")
COARSE_M = 20.0
"""Multispectral with pixels this size or larger (metres) is Landsat-like."""
S2_MIN_M = 5.0
"""Multispectral with named blue, green, red and nir and pixels from this size up to
:data:`COARSE_M` (or of unknown size) is Sentinel-2-like."""
SWIR_UM = 1.5
"""A band at or above this wavelength (micrometres) is short-wave infrared."""
DB_BELOW = -3.0
"""A float band whose 1st percentile is below this holds SAR backscatter in dB (reflectance,
radiance and indices such as NDVI never go below -1)."""
PROBE = 512
"""Side of the window read to look for dB values."""


@dataclass(frozen=True)
class InputFacts:
    """What the before image says about its sensor (selected bands only)."""

    bands: int
    names: tuple[str, ...]
    wavelengths: tuple[float | None, ...]
    dtype: str
    pixel_m: float | None


def input_facts(source: RasterSource) -> InputFacts:
    """Band count, names, wavelengths (micrometres), data type and pixel size of ``source``.

    Example:
        >>> input_facts(open_raster("s2.tif")).names  # doctest: +SKIP
        ('b02', 'b03', 'b04', 'b08')
    """
    with source.open() as ds:
        waves = tuple(_wavelength(ds.tags(b), ds.descriptions[b - 1]) for b in source.bands)
    names = tuple(source.band_names[b - 1] for b in source.bands)
    return InputFacts(len(source.bands), names, waves, source.dtype, _pixel_metres(source))


def _wavelength(tags: dict[str, str], description: str | None) -> float | None:
    """A band's centre wavelength in micrometres from its tags or description, if any."""
    text = tags.get("wavelength") or tags.get("WAVELENGTH")
    if text is None and description:
        found = re.search(r"([0-9.]+)\s*(micrometers|um|µm|nanometers|nm)", description.lower())
        text = f"{found.group(1)} {found.group(2)}" if found else None
    if text is None:
        return None
    try:
        value = float(text.split()[0])
    except ValueError:
        return None
    return value / 1000 if value > 100 else value  # nanometres


def _pixel_metres(source: RasterSource) -> float | None:
    crs = source.crs
    if crs is None:
        return None
    res = max(source.res)
    if crs.is_geographic:
        west, south, east, north = source.bounds
        lat = math.radians(max(-89.0, min(89.0, (south + north) / 2)))
        rx, ry = source.res
        return math.sqrt(rx * 111_320.0 * math.cos(lat) * ry * 110_574.0)
    factor = crs.linear_units_factor[1] if crs.is_projected else 1.0
    return res * factor


def input_kind(pair: RasterPair, sensor: str = "auto") -> tuple[str, str]:
    """The kind of input (a key of :data:`CHOICES`) and the evidence, in words.

    Three identical bands are one band: a grey image (a radar or panchromatic scene
    exported as an RGB BMP or PNG) is not an RGB image.

    Example:
        >>> input_kind(pair)  # doctest: +SKIP
        ('sar', 'the bands are named vv, vh (SAR polarisations)')
    """
    facts = input_facts(pair.before)
    if facts.bands == 3 and grey_inputs(pair):
        one = replace(facts, bands=1, names=facts.names[:1], wavelengths=facts.wavelengths[:1])
        kind, evidence = _kind_of(pair, one, sensor)
        return kind, f"three identical bands (a grey image stored as RGB), read as one: {evidence}"
    return _kind_of(pair, facts, sensor)


def _kind_of(pair: RasterPair, facts: InputFacts, sensor: str) -> tuple[str, str]:
    n, names = facts.bands, facts.names
    listed = _listing(facts)
    if sensor == "sar":
        return "sar", f"sensor='sar' was given ({n} band{'s' if n > 1 else ''})"
    if sensor not in SENSORS:
        raise InvalidOptionError(
            f"sensor must be one of {', '.join(map(repr, SENSORS))}, not {sensor!r}."
        )
    if sensor in ("optical", "multispectral"):
        return _optical_kind(facts, f"sensor={sensor!r} was given")
    polar = [m.group(1) for name in names if (m := SAR_NAME.search(name.lower()))]
    if polar and n <= 4:
        return "sar", f"the bands are named {listed} (SAR polarisations)"
    if n <= 2 and facts.dtype.startswith("float") and _in_db(pair.before, pair.region):
        return "sar", f"{n} float band(s) with values below {DB_BELOW:g}: SAR backscatter in dB"
    if n == 1:
        return "panchromatic", (
            f"one band ({listed}) with no SAR polarisation name: an optical band as far as "
            "the file tells (if it is radar, give sensor='sar', --sensor sar)"
        )
    if n == 2:
        return "other", f"two bands ({listed}), not named as SAR polarisations"
    return _optical_kind(facts, f"{n} bands ({listed})")


def _optical_kind(facts: InputFacts, evidence: str) -> tuple[str, str]:
    n = facts.bands
    if n == 1:
        return "panchromatic", f"{evidence}; one optical band"
    if n == 3:
        return "rgb", f"{evidence}; three bands: an RGB image"
    if n > 13:
        return "other", f"{evidence}; more than 13 bands (hyperspectral)"
    if n < 3:
        return "other", f"{evidence}; {n} optical bands"
    if _landsat_like(facts):
        where = f"{facts.pixel_m:.0f} m pixels" if facts.pixel_m else "Landsat band names"
        return "landsat", f"{evidence}; multispectral, Landsat-like ({where})"
    size = f", {facts.pixel_m:.0f} m pixels" if facts.pixel_m else ""
    if _sentinel2_like(facts):
        return "sentinel2", (
            f"{evidence}; multispectral{size}, blue, green, red and nir named (Sentinel-2-like)"
        )
    return "multispectral", f"{evidence}; multispectral{size}"


def _sentinel2_like(facts: InputFacts) -> bool:
    """Blue, green, red and nir named (B02 ... B08 or common names), pixels of 5-20 m if known."""
    names = {common_name(n) for n in facts.names}
    size_fits = facts.pixel_m is None or S2_MIN_M <= facts.pixel_m < COARSE_M
    return size_fits and all(c in names for c in REQUIRED)


def _landsat_like(facts: InputFacts) -> bool:
    """30 m-class pixels; without a pixel size, Landsat band names, or 6-7 bands reaching SWIR."""
    if facts.pixel_m is not None:
        return facts.pixel_m >= COARSE_M
    swir = any(w is not None and w >= SWIR_UM for w in facts.wavelengths)
    named = any(LANDSAT_NAME.search(name) for name in facts.names)
    return named or (facts.bands in (6, 7) and swir)


def _in_db(source: RasterSource, region: Window) -> bool:
    """Whether the first band's values (the corner window of ``region``, the part of the
    image the job reads) go below :data:`DB_BELOW`."""
    w, h = min(PROBE, int(region.width)), min(PROBE, int(region.height))
    window = Window(int(region.col_off), int(region.row_off), w, h)
    with source.open() as ds:
        data = ds.read(source.bands[0], window=window, masked=True)
    values = data.compressed()
    values = values[np.isfinite(values)]
    return bool(values.size and np.percentile(values, 1) < DB_BELOW)


def _listing(facts: InputFacts) -> str:
    """The bands in a few words: their wavelengths when known, else their names (shortened)."""
    waves = [w for w in facts.wavelengths if w is not None]
    if len(waves) == facts.bands:
        return f"wavelengths {min(waves):.2f} to {max(waves):.2f} um"
    names = [n if len(n) <= 16 else n[:13] + "..." for n in facts.names]
    return ", ".join(names) if len(names) <= 6 else ", ".join(names[:5]) + ", ..."


def choose_method(pair: RasterPair, sensor: str = "auto") -> MethodChoice:
    """The method ``auto`` runs on ``pair``, and why.

    The choice does not depend on what is installed: a chosen method that cannot
    run here raises its own :class:`~terrasight.errors.MissingDependencyError`
    when the job checks it (with the way to install it or to name another method).

    Example:
        >>> choose_method(pair).chosen  # doctest: +SKIP
        'irmad'
    """
    kind, evidence = input_kind(pair, sensor)
    method, options, why = CHOICES[kind]
    reason = f"{evidence}: {method}, because {why}"
    return MethodChoice("auto", method, kind, reason, dict(options))


def options_for_choice(
    spec: MethodSpec, given: Mapping[str, Any] | MethodOptions, choice: MethodChoice
) -> MethodOptions:
    """The chosen method's options; options it does not take name the choice and the way out.

    Example:
        >>> from terrasight.tasks.change.methods.registry import get_method
        >>> choice = MethodChoice("auto", "cva", "other", "x")
        >>> opts = options_for_choice(get_method("cva"), {}, choice)
        >>> type(opts).__name__, opts.tolerance
        ('CVAOptions', 1)
    """
    if not isinstance(given, MethodOptions):
        given = {**choice.options, **given}
    try:
        return method_options_for(spec, given)
    except InvalidOptionError as exc:
        raise InvalidOptionError(
            f"{exc} (method 'auto' chose {choice.chosen!r}: {choice.reason}.) Name the "
            "method the options are for (--method NAME)."
        ) from None
