"""From digital numbers to reflectance: the scale and offset of an image, and a check of them.

Cloud masks need reflectance (``value * scale + offset``, 0-1). Products store
it as integers with their own factors:

============================  =========  =========  ==============================
product                       scale      offset     notes
============================  =========  =========  ==============================
Landsat C2 Level-1 (TOA)      2e-5       -0.1       divided by sin(sun elevation)
Landsat C2 Level-2 (surface)  2.75e-5    -0.2
Sentinel-2 L1C / L2A          1e-4       0          processing baseline < 04.00
Sentinel-2 L1C / L2A          1e-4       -0.1       baseline >= 04.00 (-1000 DN)
============================  =========  =========  ==============================

:func:`scaling_from_metadata` reads the factors a file carries: GDAL band
``scale``/``offset`` (or ``scale_factor``/``add_offset`` tags), Landsat MTL
tags (``REFLECTANCE_MULT_BAND_n``, ``REFLECTANCE_ADD_BAND_n``,
``SUN_ELEVATION``) or Sentinel-2 tags (``BOA_ADD_OFFSET``,
``RADIO_ADD_OFFSET``, ``*QUANTIFICATION_VALUE``, ``PROCESSING_BASELINE``).
:func:`check_scaling` tells whether sample pixels look like reflectance under a
scaling and, when they do not, which product their digital numbers resemble
(:func:`recognise_digital_numbers`), so the caller can skip cloud masks with a
precise hint instead of masking a whole scene of "bright" digital numbers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

DARK_FLOOR_MAX = 0.1
"""Largest reflectance of a scene's darkest pixels (1st percentile of the darkest band) for
data without known factors: water, shadow and vegetation put it near 0-0.05 in any scene that
is not all cloud, while digital numbers read with a wrong scale put it far above."""

_MULT = re.compile(r"REFLECTANCE_MULT_BAND_(\d+)$")
_ADD = re.compile(r"REFLECTANCE_ADD_BAND_(\d+)$")
_BAND_NUMBER = re.compile(r"^(?:[a-z]+_)?b0*(\d+)a?$")


@dataclass(frozen=True)
class Scaling:
    """How to turn one image's values into reflectance: ``value * scale + offset`` per band.

    Attributes:
        scale, offset: one value per selected band, in the window's band order.
        source: where the factors came from, for messages (``"file metadata (GDAL
            scale/offset)"``, ``"--reflectance-scale"``, ...).
        product_level: ``"l1c"`` (top of atmosphere), ``"l2a"`` (surface), or ``None``
            when the source does not say.
    """

    scale: tuple[float, ...]
    offset: tuple[float, ...]
    source: str
    product_level: str | None = None

    def pick(self, indexes: Sequence[int]) -> Scaling:
        """The factors of some bands only (e.g. those a cloud model reads)."""
        return Scaling(
            tuple(self.scale[i] for i in indexes),
            tuple(self.offset[i] for i in indexes),
            self.source,
            self.product_level,
        )

    def apply(self, data: np.ndarray) -> np.ndarray:
        """``data`` ``(bands, ...)`` as float32 reflectance (a new array)."""
        shape = (-1,) + (1,) * (data.ndim - 1)
        out = data.astype(np.float32, copy=True)
        out *= np.asarray(self.scale, np.float32).reshape(shape)
        out += np.asarray(self.offset, np.float32).reshape(shape)
        return out

    def describe(self) -> str:
        """``"scale 2e-05 and offset -0.1"`` (one value when all bands share it)."""

        def fmt(values: tuple[float, ...]) -> str:
            uniq = sorted(set(values))
            return f"{uniq[0]:g}" if len(uniq) == 1 else "/".join(f"{v:g}" for v in values)

        return f"scale {fmt(self.scale)} and offset {fmt(self.offset)}"


def uniform(scale: float, offset: float, bands: int, source: str) -> Scaling:
    """One scale and offset for all ``bands`` bands."""
    return Scaling((float(scale),) * bands, (float(offset),) * bands, source)


def scaling_from_metadata(path: str | Path, bands: Sequence[int]) -> Scaling | None:
    """The reflectance factors a file declares for its 1-based ``bands``, or ``None``.

    Looks, in this order, at Landsat MTL tags, Sentinel-2 tags, then GDAL band
    scale/offset (or ``scale_factor``/``add_offset`` band tags). Tags may be on
    the dataset or on the band, in any case.

    Example:
        >>> s = scaling_from_metadata("LC08_stack.tif", [1, 2, 3, 4])  # doctest: +SKIP
        >>> s.scale, s.offset, s.product_level  # doctest: +SKIP
        ((2e-05, 2e-05, 2e-05, 2e-05), (-0.1, -0.1, -0.1, -0.1), 'l1c')
    """
    with rasterio.open(path) as ds:
        tags = {k.upper(): v for k, v in ds.tags().items()}
        band_tags = [{k.upper(): v for k, v in ds.tags(b).items()} for b in bands]
        names = [(ds.descriptions[b - 1] or "").strip().lower() for b in bands]
        gdal = [(ds.scales[b - 1], ds.offsets[b - 1]) for b in bands]
    return (
        _landsat(tags, band_tags, names)
        or _sentinel2(tags, band_tags, names)
        or _gdal(gdal, band_tags)
    )


def _number(text: str | None) -> float | None:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _band_number(name: str) -> int | None:
    """``4`` for band names such as ``b4``, ``B04``, ``sr_b4``; ``None`` otherwise."""
    m = _BAND_NUMBER.match(name)
    return int(m.group(1)) if m else None


def _per_band(
    pattern: re.Pattern[str], tags: dict[str, str], band_tags: list[dict[str, str]], names
) -> list[float] | None:
    """Values of a ``..._BAND_n`` tag for each selected band, or ``None`` when they are absent.

    A band tag wins; then the dataset tag of the band's number (from its name);
    then, when every dataset value is the same, that value.
    """
    found = {int(m.group(1)): _number(v) for k, v in tags.items() if (m := pattern.search(k))}
    found = {k: v for k, v in found.items() if v is not None}
    common = next(iter(set(found.values()))) if len(set(found.values())) == 1 else None
    out = []
    for bt, name in zip(band_tags, names, strict=True):
        own = [_number(v) for k, v in bt.items() if pattern.search(k)]
        own = [v for v in own if v is not None]
        value = own[0] if own else found.get(_band_number(name) or -1, common)
        if value is None:
            return None
        out.append(value)
    return out


def _landsat(tags, band_tags, names) -> Scaling | None:
    mult = _per_band(_MULT, tags, band_tags, names)
    add = _per_band(_ADD, tags, band_tags, names)
    if mult is None or add is None:
        return None
    level_tag = tags.get("PROCESSING_LEVEL", "") + tags.get("DATA_TYPE", "")
    level = "l2a" if "L2" in level_tag.upper() or min(mult) > 2.5e-5 else "l1c"
    source = "Landsat tags REFLECTANCE_MULT_BAND_n / REFLECTANCE_ADD_BAND_n"
    elevation = _number(tags.get("SUN_ELEVATION"))
    if level == "l1c" and elevation is not None and 5 < elevation <= 90:
        sin = math.sin(math.radians(elevation))  # top-of-atmosphere reflectance: / sin(elevation)
        mult, add = [m / sin for m in mult], [a / sin for a in add]
        source += f" and SUN_ELEVATION {elevation:g}"
    return Scaling(tuple(mult), tuple(add), source, level)


def _sentinel2(tags, band_tags, names) -> Scaling | None:
    keys = ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET", "PROCESSING_BASELINE")
    every = [tags, *band_tags]
    if not any(k.startswith(keys) or "QUANTIFICATION_VALUE" in k for t in every for k in t):
        return None
    quant = next(
        (
            q
            for t in every
            for k, v in t.items()
            if "QUANTIFICATION_VALUE" in k and (q := _number(v))
        ),
        10000.0,
    )
    baseline = _number(tags.get("PROCESSING_BASELINE"))
    default_add = -1000.0 if baseline is not None and baseline >= 4.0 else 0.0
    adds = []
    for bt, name in zip(band_tags, names, strict=True):
        adds.append(_s2_offset(bt, tags, name, default_add))
    boa = any(k.startswith("BOA_") for t in every for k in t)
    level_tag = (tags.get("PRODUCT_TYPE", "") + tags.get("PROCESSING_LEVEL", "")).upper()
    level = "l2a" if boa or "2A" in level_tag else "l1c"
    source = "Sentinel-2 tags (quantification value, add offset, processing baseline)"
    return Scaling((1.0 / quant,) * len(adds), tuple(a / quant for a in adds), source, level)


def _s2_offset(band: dict[str, str], tags: dict[str, str], name: str, default: float) -> float:
    """A band's Sentinel-2 add offset (DN): its own tag, its band id's, the scene's, or default."""
    for prefix in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET"):
        if (v := _number(band.get(prefix))) is not None:
            return v
        number = _band_number(name)
        for k, text in tags.items():
            if k.startswith(prefix + "_") and number is not None:
                if _band_number(k[len(prefix) + 1 :].lower()) == number:
                    return _number(text) or 0.0
        if (v := _number(tags.get(prefix))) is not None:
            return v
    return default


def _gdal(gdal: list[tuple[float, float]], band_tags: list[dict[str, str]]) -> Scaling | None:
    scales, offsets = [], []
    for (gdal_scale, gdal_offset), bt in zip(gdal, band_tags, strict=True):
        scale = _number(bt.get("SCALE_FACTOR")) or gdal_scale or 1.0
        offset = _number(bt.get("ADD_OFFSET")) if "ADD_OFFSET" in bt else gdal_offset
        scales.append(float(scale))
        offsets.append(float(offset or 0.0))
    if all(s == 1.0 for s in scales) and all(o == 0.0 for o in offsets):
        return None
    return Scaling(tuple(scales), tuple(offsets), "file metadata (GDAL band scale/offset)")


@dataclass(frozen=True)
class ScalingCheck:
    """Whether sample pixels look like reflectance under a scaling, and why not."""

    ok: bool
    median: tuple[float, ...] = ()
    floor: float = 0.0
    reason: str = ""


def check_scaling(pixels: np.ndarray, scaling: Scaling, strict: bool) -> ScalingCheck:
    """Do ``pixels`` (``(bands, n)`` values, the bands ``scaling`` describes) look like reflectance?

    Always: every band's median within -0.05..1.5. With ``strict`` (factors that
    were guessed, not read or given) also: the darkest band's 1st percentile at
    most :data:`DARK_FLOOR_MAX`.

    Example:
        >>> dn = np.full((4, 100), 9000.0); dn[:, :5] = 6000  # Landsat-like digital numbers
        >>> check_scaling(dn, uniform(1e-4, 0, 4, "default"), strict=True).ok
        False
        >>> check_scaling(dn, uniform(2e-5, -0.1, 4, "Landsat"), strict=True).ok
        True
    """
    if pixels.shape[1] == 0:
        return ScalingCheck(True)
    refl = scaling.apply(pixels)
    median = np.median(refl, axis=1)
    floor = float(np.min(np.percentile(refl, 1, axis=1)))
    meds = tuple(round(float(m), 4) for m in median)
    if not np.all((median > -0.05) & (median < 1.5)):
        return ScalingCheck(False, meds, floor, f"band medians {_fmt(median)} are not 0-1")
    if strict and floor > DARK_FLOOR_MAX:
        return ScalingCheck(
            False, meds, floor, f"even the darkest pixels are at reflectance {floor:.2f}"
        )
    return ScalingCheck(True, meds, floor)


BASELINE_04 = dt.date(2022, 1, 25)
"""The day Sentinel-2 processing baseline 04.00 (digital numbers offset by +1000) began."""
_S2_NAME = re.compile(
    r"S2[ABCD]_MSI(?:L1C|L2A)_(?P<date>\d{8})T\d{6}_N(?P<major>\d\d)(?P<minor>\d\d)"
)
_S2_TILE = re.compile(r"(?:^|[_/])T\d\d[A-Z]{3}_(?P<date>\d{8})T\d{6}")
_LANDSAT_NAME = re.compile(r"\bL[COTEM]0\d_L\w{3}_\d{6}_(?P<date>\d{8})_\d{8}_(?P<coll>\d\d)_")
_ANY_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_]?([01]\d)[-_]?([0-3]\d)(?!\d)")
_DATE_TAGS = (
    "PRODUCT_START_TIME",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "SENSING_TIME",
    "DATE_ACQUIRED",
    "ACQUISITIONDATETIME",
    "TIFFTAG_DATETIME",
)


@dataclass(frozen=True)
class Product:
    """What a file's tags and name say of the product: mission, date, processing baseline
    (None: they do not say)."""

    mission: str | None = None
    acquired: dt.date | None = None
    baseline: float | None = None


def product_of(name: str, tags: dict[str, str]) -> Product:
    """The :class:`Product` a file's ``name`` and (upper-case) ``tags`` declare.

    Example:
        >>> product_of("S2A_MSIL1C_20160812T101032_N0204_R022_T32TQM.tif", {})
        Product(mission='sentinel-2', acquired=datetime.date(2016, 8, 12), baseline=2.04)
        >>> product_of("scene.tif", {})
        Product(mission=None, acquired=None, baseline=None)
    """
    mission, acquired, baseline = None, None, _number(tags.get("PROCESSING_BASELINE"))
    spacecraft = (tags.get("SPACECRAFT_NAME", "") + tags.get("SPACECRAFT_ID", "")).lower()
    if "sentinel-2" in spacecraft or baseline is not None:
        mission = "sentinel-2"
    elif "landsat" in spacecraft:
        mission = "landsat"
    for key in _DATE_TAGS:
        if (found := re.match(r"(\d{4})[-:](\d\d)[-:](\d\d)", tags.get(key, ""))) is not None:
            acquired = _date(*found.groups())
            break
    base = Path(str(name)).name
    if m := _S2_NAME.search(base):
        mission, baseline = "sentinel-2", baseline or int(m["major"]) + int(m["minor"]) / 100
        acquired = acquired or _date(m["date"][:4], m["date"][4:6], m["date"][6:])
    elif m := (_S2_TILE.search(base) or _LANDSAT_NAME.search(base)):
        landsat = "coll" in m.groupdict()
        mission = mission or ("landsat" if landsat else "sentinel-2")
        acquired = acquired or _date(m["date"][:4], m["date"][4:6], m["date"][6:])
    if acquired is None and (m := _ANY_DATE.search(base)):
        acquired = _date(*m.groups())
    return Product(mission, acquired, baseline)


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def recognise_digital_numbers(
    pixels: np.ndarray, dtype: str, product: Product | None = None
) -> str:
    """A hint naming the product that integer ``pixels`` ``(bands, n)`` resemble, or ``""``.

    Advice that depends on the product's date is given only where the file's tags or name
    (``product``) say it applies: the Sentinel-2 offset of processing baseline 04.00 only
    for a baseline of 04.00 or later, or a date from 25 January 2022 on; never as a guess.

    Example:
        >>> dn = np.full((4, 100), 9000.0); dn[:, :5] = 6000
        >>> recognise_digital_numbers(dn, "uint16").startswith("they look like Landsat")
        True
        >>> s2 = np.full((4, 100), 2500.0); s2[:, :5] = 1500
        >>> recognise_digital_numbers(s2, "uint16", Product("sentinel-2", dt.date(2016, 8, 12)))
        ''
    """
    product = product or Product()
    if pixels.shape[1] == 0 or not str(dtype).startswith(("uint", "int")):
        return ""
    floor = float(np.min(np.percentile(pixels, 1, axis=1)))
    top = float(np.max(np.percentile(pixels, 99, axis=1)))
    if 4000 <= floor <= 12000 and top <= 65535 and product.mission != "sentinel-2":
        return (
            "they look like Landsat Collection 2 digital numbers: give "
            "--reflectance-scale 2e-5 --reflectance-offset -0.1 for Level-1 "
            "(top of atmosphere), or 2.75e-5 and -0.2 for Level-2 (surface reflectance)"
        )
    late = (product.baseline is not None and product.baseline >= 4.0) or (
        product.baseline is None
        and product.acquired is not None
        and product.acquired >= BASELINE_04
    )
    if 1000 <= floor < 2000 and late and product.mission != "landsat":
        return (
            "they look like Sentinel-2 from processing baseline 04.00 on (reflectance x 10000 "
            "+ 1000): give --reflectance-scale 1e-4 --reflectance-offset -0.1"
        )
    return ""


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"
