"""The Onera Satellite Change Detection (OSCD) cities as arrays for training.

Each city folder holds ``imgs_1/`` and ``imgs_2/`` (one GeoTIFF per
Sentinel-2 band, ``*_B02.tif`` ... ``*_B12.tif``, uint16 top-of-atmosphere
reflectance x 10000; B02, B03, B04 and B08 at 10 m, the others at 20 m or 60 m)
and ``cm/<city>-cm.tif`` with **1 = no change, 2 = change**. :func:`load_city`
stacks the requested bands of both dates on the 10 m grid (coarser bands
resampled bilinearly to the 10 m band's shape) and returns the change as a
boolean array.

Example:
    >>> city = load_city("../shared/data/change/oscd/paris", ("B02", "B03", "B04", "B08"))  # doctest: +SKIP
    >>> city.before.shape, city.truth.mean()  # doctest: +SKIP
    ((4, 408, 390), 0.0029)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling

from terrasight.errors import DatasetLayoutError, InvalidRasterError

TEN_M = ("B02", "B03", "B04", "B08")
"""The four 10 m Sentinel-2 bands, which every OSCD city has."""

SWIR = ("B11", "B12")
"""The two 20 m short-wave infrared bands."""

REFLECTANCE_SCALE = 1e-4
"""OSCD's uint16 values times this are top-of-atmosphere reflectance."""


@dataclass(frozen=True)
class OscdCity:
    """One OSCD city: both dates' bands (float32 reflectance, ``(bands, h, w)``) and the truth.

    Attributes:
        name: the city's folder name.
        bands: the band names, in the order of the arrays.
        before, after: reflectance (DN x 1e-4) on the 10 m grid.
        truth: bool ``(h, w)``, True where the label says change.
    """

    name: str
    bands: tuple[str, ...]
    before: np.ndarray
    after: np.ndarray
    truth: np.ndarray


def city_names(root: str | Path) -> list[str]:
    """The city folders under ``root`` (those with ``imgs_1``, ``imgs_2`` and ``cm``), sorted.

    Raises:
        DatasetLayoutError: ``root`` is not a folder or holds no city.

    Example:
        >>> city_names("../shared/data/change/oscd")[:2]  # doctest: +SKIP
        ['aguasclaras', 'beirut']
    """
    root = Path(root)
    names = sorted(
        p.name
        for p in root.glob("*")
        if (p / "imgs_1").is_dir() and (p / "imgs_2").is_dir() and (p / "cm").is_dir()
    )
    if not names:
        raise DatasetLayoutError(
            f"no OSCD city under {root}: expected folders <city>/imgs_1, imgs_2 and cm "
            "(e.g. ../shared/data/change/oscd)."
        )
    return names


def find_root(data: str | Path) -> Path:
    """The OSCD folder: ``data`` itself or ``data/change/oscd`` (the shared data layout).

    Example:
        >>> find_root("../shared/data")  # doctest: +SKIP
        PosixPath('../shared/data/change/oscd')
    """
    data = Path(data)
    for candidate in (data, data / "change" / "oscd", data / "oscd"):
        if candidate.is_dir() and any((p / "imgs_1").is_dir() for p in candidate.glob("*")):
            return candidate
    raise DatasetLayoutError(
        f"no OSCD cities in {data} or {data / 'change' / 'oscd'}: expected <city>/imgs_1, "
        "imgs_2 and cm/<city>-cm.tif (point --data at the shared data folder)."
    )


def _band_file(folder: Path, band: str) -> Path:
    found = sorted(folder.glob(f"*_{band}.tif"))
    if not found:
        raise DatasetLayoutError(
            f"band {band} not found in {folder} (no *_{band}.tif); bands there: "
            f"{sorted(p.stem.rsplit('_', 1)[-1] for p in folder.glob('*.tif'))}."
        )
    return found[0]


def read_date(
    folder: str | Path, bands: Sequence[str], shape: tuple[int, int] | None = None
) -> np.ndarray:
    """One date's ``bands`` as float32 reflectance ``(bands, h, w)`` on the B02 (10 m) grid.

    With ``shape``, every band is resampled to it (bilinear) instead: the two dates of
    a city can differ by a few pixels over the same bounds (saclay_e).

    Example:
        >>> read_date("../shared/data/change/oscd/paris/imgs_1", ["B04", "B11"]).shape  # doctest: +SKIP
        (2, 408, 390)
    """
    folder = Path(folder)
    if shape is None:
        with rasterio.open(_band_file(folder, "B02")) as ref:
            shape = ref.shape
    out = np.empty((len(bands), *shape), np.float32)
    for i, band in enumerate(bands):
        with rasterio.open(_band_file(folder, band)) as src:
            resampling = Resampling.nearest if src.shape == shape else Resampling.bilinear
            data = src.read(1, out_shape=shape, resampling=resampling, out_dtype="float32")
        out[i] = data * np.float32(REFLECTANCE_SCALE)
    return out


def load_city(folder: str | Path, bands: Sequence[str] = TEN_M) -> OscdCity:
    """Both dates of one OSCD city and its change truth.

    Raises:
        DatasetLayoutError: a band file or the label file is missing.
        InvalidRasterError: the label's shape differs from the 10 m bands'.
    """
    folder = Path(folder)
    before = read_date(folder / "imgs_1", bands)
    after = read_date(folder / "imgs_2", bands, before.shape[1:])
    labels = sorted((folder / "cm").glob("*-cm.tif"))
    if not labels:
        raise DatasetLayoutError(f"no change label {folder / 'cm'}/<city>-cm.tif.")
    with rasterio.open(labels[0]) as src:
        label = src.read(1)
    if label.shape != before.shape[1:]:
        raise InvalidRasterError(
            f"label {labels[0]} is {label.shape}, the bands are {before.shape[1:]}: "
            "they must be on the same grid."
        )
    return OscdCity(folder.name, tuple(bands), before, after, label == 2)


def load_cities(
    root: str | Path, bands: Sequence[str] = TEN_M, names: Sequence[str] | None = None
) -> Iterator[OscdCity]:
    """Each city under ``root`` (or only ``names``), loaded one after the other.

    Example:
        >>> sum(c.truth.sum() for c in load_cities("../shared/data/change/oscd"))  # doctest: +SKIP
    """
    root = Path(root)
    for name in names if names is not None else city_names(root):
        yield load_city(root / name, bands)
