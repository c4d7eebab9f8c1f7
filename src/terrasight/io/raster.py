"""Open single rasters and read windows of them as float32 with a validity mask."""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning as _RioNotGeoreferenced
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from terrasight.errors import (
    BandSelectionError,
    InvalidRasterError,
    RasterReadError,
    RemoteReadError,
)
from terrasight.io.bands import BAND_ALIASES, common_name
from terrasight.io.download import accepts_ranges, whole_file
from terrasight.io.remote import gdal_path, is_remote, remote_env, repair, source_name
from terrasight.io.stac import StacScene, sniff_item
from terrasight.io.stac_vrt import stac_image

log = logging.getLogger(__name__)

MIN_SIZE = 8
"""Smallest width or height, in pixels, that change detection accepts."""

_COLOR_NAMES = {"red": "red", "green": "green", "blue": "blue", "gray": "gray", "alpha": "alpha"}

DECIMATED_READ_CACHE_MB = 64
"""GDAL block cache (MB) for decimated reads across a whole scene (pictures, crops): GDAL's
default, 5% of memory, fills with full-resolution blocks on a large scene."""


@dataclass(frozen=True)
class RasterSource:
    """An opened-and-checked raster file: its grid, its bands and how to read them.

    It holds no open file handle, so it can be shared between threads; each
    reader opens its own handle with :meth:`open`.
    """

    path: Path | str
    """A local file, or a URL / ``/vsi...`` path kept as a string."""
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: Affine
    nodata: float | None
    bands: tuple[int, ...]
    band_names: tuple[str, ...]
    has_mask: bool = False
    warnings: tuple[str, ...] = field(default=())
    gdal_env: tuple[tuple[str, str], ...] = ()
    """GDAL settings for reading it, when its path does not say (a STAC Item's VRT)."""
    scene: StacScene | None = None
    """The STAC Item it was made from (id, datetime, cloud cover), if any."""
    origin: str | None = None
    """The file or URL given, when :attr:`path` is a local file made from it: the whole
    download of a URL whose server answers no range requests, or a STAC Item's VRT.
    Results name the origin and read :attr:`path`."""

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def res(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the raster's CRS (or pixels when it has none)."""
        west, north = self.transform @ (0, 0)
        east, south = self.transform @ (self.width, self.height)
        return (min(west, east), min(south, north), max(west, east), max(south, north))

    @property
    def name(self) -> str:
        """The file name, of a local path or of a URL."""
        return source_name(self.path)

    @property
    def given(self) -> Path | str:
        """The file or URL as the user gave it: :attr:`origin` if any, else :attr:`path`.

        Example:
            >>> open_raster("https://host/S2A_20230615.json").given  # doctest: +SKIP
            'https://host/S2A_20230615.json'
        """
        return self.origin if self.origin is not None else self.path

    @property
    def given_name(self) -> str:
        """The file name of :attr:`given` (what messages call the image)."""
        return source_name(self.given)

    @property
    def remote(self) -> bool:
        """Whether the file is read over the network."""
        return is_remote(self.path)

    @contextlib.contextmanager
    def open(self) -> Iterator[rasterio.io.DatasetReader]:
        """Open a read handle on the file for the ``with`` block (network settings included).

        Example:
            >>> with open_raster("https://host/a.tif").open() as ds:  # doctest: +SKIP
            ...     ds.read(1, window=Window(0, 0, 256, 256))
        """
        env = rasterio.Env(**dict(self.gdal_env)) if self.gdal_env else remote_env(self.path)
        with env, warnings.catch_warnings():
            warnings.simplefilter("ignore", _RioNotGeoreferenced)
            with rasterio.open(gdal_path(self.path)) as ds:
                yield ds


def _describe_bands(ds: rasterio.io.DatasetReader, path: Path | str) -> list[str]:
    """Return one lower-case name per band: its description, colour interpretation or index."""
    names = []
    for i in range(1, ds.count + 1):
        desc = (ds.descriptions[i - 1] or "").strip().lower()
        if not desc:
            ci = ds.colorinterp[i - 1].name.lower()
            desc = _COLOR_NAMES.get(ci, "")
        names.append(desc or f"band{i}")
    # A single band file named like "s2_B04.jp2" names its band.
    if ds.count == 1 and names[0] in ("band1", "gray"):
        stem = Path(source_name(path)).stem.lower().split("_")[-1]
        if any(stem in aliases for aliases in BAND_ALIASES.values()):
            names[0] = stem
    return names


def resolve_bands(
    requested: Sequence[int | str] | None, names: Sequence[str], path: Path | str
) -> tuple[int, ...]:
    """Turn band indexes (1-based) or names into 1-based band indexes of a file.

    Names match a band's description or its common name (``red``, ``nir``,
    ``swir16``...). ``None`` selects every band except an alpha band.
    """
    if requested is None:
        return tuple(i + 1 for i, n in enumerate(names) if n != "alpha") or (1,)
    commons = [common_name(n) for n in names]
    out = []
    for item in requested:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, int):
            if not 1 <= item <= len(names):
                raise BandSelectionError(
                    f"{path}: band {item} does not exist; the file has bands 1..{len(names)}."
                )
            out.append(item)
            continue
        key = item.strip().lower()
        matches = [i + 1 for i, n in enumerate(names) if n == key]
        matches = matches or [i + 1 for i, c in enumerate(commons) if c == common_name(key)]
        if not matches:
            raise BandSelectionError(
                f"{path}: no band named {item!r}; its bands are {list(names)}. "
                "Give band numbers (1-based) or one of those names."
            )
        out.append(matches[0])
    return tuple(out)


def open_raster(
    path: str | Path,
    bands: Sequence[int | str] | None = None,
    nodata: float | None = None,
    role: str = "image",
) -> RasterSource:
    """Open and check a raster file (GeoTIFF/COG, JPEG 2000, PNG, JPEG, BMP...) or STAC Item.

    A STAC Item (a ``.json`` file or URL) is opened as a VRT of its assets, one band
    per asset, named by common name (:func:`terrasight.io.stac_vrt.stac_image`).

    Args:
        path: the file, an ``http(s)://``, ``s3://`` or ``gs://`` URL, or a ``/vsi...`` path.
        bands: band numbers (1-based) or names to use; all bands when ``None``.
        nodata: a nodata value that overrides the one in the file.
        role: how to call the file in messages ("before image", ...).

    Raises:
        RasterReadError: the file is missing or is not a raster GDAL can read.
        RemoteReadError: a URL that cannot be reached or read (404, no connection...).
        InvalidRasterError: the raster is too small to work on.
        BandSelectionError: a requested band does not exist.
        StacError: a ``.json`` input that is not a usable STAC Item.

    Example:
        >>> src = open_raster("before.tif", bands=["red", "green", "blue"])  # doctest: +SKIP
        >>> open_raster("S2A_20230615.json", bands=["red", "nir"]).scene.cloud_cover  # doctest: +SKIP
        3.2
        >>> src.width, src.crs  # doctest: +SKIP
        >>> open_raster("https://example.com/cog.tif").remote  # doctest: +SKIP
        True
    """
    path = repair(path)
    item = sniff_item(path)
    if item is not None:
        image = stac_image(item, bands)
        src = _opened(image.path, _read_header(image.path, role), bands, nodata, role)
        notes = (*src.warnings, *image.notes)
        return replace(
            src, gdal_env=image.gdal_env, scene=image.scene, origin=str(path), warnings=notes
        )
    if isinstance(path, str):
        return _open_remote(path, bands, nodata, role)
    if not path.exists():
        raise RasterReadError(f"{role} {path}: file not found. Check the path and try again.")
    if path.is_dir():
        raise RasterReadError(f"{role} {path}: is a folder, not a raster file.")
    return _opened(path, _read_header(path, role), bands, nodata, role)


def _open_remote(
    url: str, bands: Sequence[int | str] | None, nodata: float | None, role: str
) -> RasterSource:
    """A remote raster read in parts; downloaded whole first when its server sends no parts."""
    try:
        return _opened(url, _read_header(url, role), bands, nodata, role)
    except RemoteReadError:
        if accepts_ranges(url) is not False:
            raise
    local = whole_file(url, role)
    src = _opened(local, _read_header(local, role), bands, nodata, role)
    note = (
        f"{role} {source_name(url)}: its server does not answer range requests, so the whole "
        f"file was downloaded to {local}."
    )
    return replace(src, origin=url, warnings=(*src.warnings, note))


def _read_header(path: Path | str, role: str) -> dict[str, Any]:
    """The grid, bands and masks of a raster (for a URL: its header's few range requests)."""
    try:
        with remote_env(path), warnings.catch_warnings():
            warnings.simplefilter("ignore", _RioNotGeoreferenced)
            with rasterio.open(gdal_path(path)) as ds:
                return dict(
                    names=_describe_bands(ds, path),
                    width=ds.width,
                    height=ds.height,
                    count=ds.count,
                    dtype=ds.dtypes[0],
                    crs=ds.crs if ds.crs else None,
                    transform=ds.transform,
                    nodata=ds.nodata,
                    flags=ds.mask_flag_enums,
                )
    except RasterioIOError as exc:
        if is_remote(path):
            raise RemoteReadError(
                f"{role} {path}: cannot be read over the network ({_reason(exc)}). Check the "
                "URL, that the server is reachable and that the file is a raster."
            ) from None
        raise RasterReadError(
            f"{role} {path}: not a raster that can be read ({_short(exc)}). "
            "Check that the file is complete and in a raster format such as GeoTIFF, "
            "JPEG 2000, PNG or JPEG."
        ) from None


def _opened(
    path: Path | str,
    info: dict[str, Any],
    bands: Sequence[int | str] | None,
    nodata: float | None,
    role: str,
) -> RasterSource:
    """The checked :class:`RasterSource` of a raster's header ``info``."""
    names = info["names"]
    if info["width"] < MIN_SIZE or info["height"] < MIN_SIZE:
        raise InvalidRasterError(
            f"{role} {path}: is {info['width']}x{info['height']} pixels; change detection "
            f"needs at least {MIN_SIZE}x{MIN_SIZE} pixels."
        )
    notes = []
    if info["crs"] is None:
        notes.append(f"{role} {source_name(path)} has no CRS: results are in pixel coordinates.")
    has_mask = any(
        any(f.name in ("per_dataset", "alpha") for f in band_flags) for band_flags in info["flags"]
    )
    nod = nodata if nodata is not None else info["nodata"]
    if nod is not None and isinstance(nod, float) and math.isnan(nod):
        nod = float("nan")
    return RasterSource(
        path=path,
        width=info["width"],
        height=info["height"],
        count=info["count"],
        dtype=info["dtype"],
        crs=info["crs"],
        transform=info["transform"],
        nodata=nod,
        bands=resolve_bands(bands, names, path),
        band_names=tuple(names),
        has_mask=has_mask,
        warnings=tuple(notes),
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def read_window(
    ds: rasterio.io.DatasetReader | rasterio.vrt.WarpedVRT,
    bands: Sequence[int],
    window: Window,
    nodata: float | None,
    use_mask: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``bands`` of ``window`` as float32 ``(bands, h, w)`` and a boolean valid mask ``(h, w)``.

    Raises:
        RasterReadError: the file's data cannot be decoded there (a damaged or truncated
            file): the message names the file and the window.
    """
    try:
        raw = ds.read(list(bands), window=window)
        masks = ds.read_masks(list(bands), window=window) if use_mask else None
    except RasterioError as exc:
        name = str(
            getattr(ds, "name", None) or getattr(getattr(ds, "src_dataset", None), "name", "?")
        )
        if is_remote(name):
            raise RemoteReadError(
                f"{name}: the network read of columns {int(window.col_off)}.."
                f"{int(window.col_off + window.width)}, rows {int(window.row_off)}.."
                f"{int(window.row_off + window.height)} failed ({_reason(exc)}). Run the job "
                "again with the same output folder: it resumes where it stopped."
            ) from None
        raise RasterReadError(
            f"{name}: cannot read the window of columns {int(window.col_off)}.."
            f"{int(window.col_off + window.width)}, rows {int(window.row_off)}.."
            f"{int(window.row_off + window.height)} ({_reason(exc)}). The file is damaged or "
            "incomplete; copy or download it again."
        ) from None
    data = raw.astype(np.float32, copy=False)
    valid = np.ones(data.shape[1:], dtype=bool)
    if nodata is not None:
        if isinstance(nodata, float) and math.isnan(nodata):
            valid &= ~np.isnan(data).any(axis=0)
        else:
            valid &= ~(data == np.float32(nodata)).all(axis=0)
    if np.issubdtype(raw.dtype, np.floating):  # integer data cannot hold NaN or infinity
        valid &= np.isfinite(data).all(axis=0)
    if masks is not None:
        valid &= (masks > 0).all(axis=0)
    return data, valid


def _reason(exc: BaseException) -> str:
    """GDAL's own words for a failed read (rasterio puts them in the exception's cause)."""
    text = str(exc.__cause__ or exc).strip().rstrip(".")
    return " ".join(text.split())[:300] or type(exc).__name__
