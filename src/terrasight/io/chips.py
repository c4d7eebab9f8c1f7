"""A scene cut into square chips: windows, 8-bit RGB pictures of them, and their footprints.

A *scene* is any image: a GeoTIFF (or other GDAL raster) with a CRS, or a
plain image (JPEG, PNG...) in pixel space; a local file, an ``http(s)``/``s3``/``gs``
URL or ``/vsi...`` path, or a STAC Item (opened as its VRT by
:func:`terrasight.io.raster.open_raster`). :func:`open_scene` reads its header
and, for data that are not 8-bit, one display stretch for the whole scene (the
2nd to 98th percentile of each band over a decimated read, as
:func:`terrasight.io.rgb.read_rgb` does), so every chip of a scene is stretched
alike and a chip looks the same whichever worker reads it. Photos are decoded
with Pillow as :func:`~terrasight.io.rgb.read_rgb` decodes them: a photo that
fits in one chip gives the very pixels ``read_rgb`` gives.

Example:
    >>> windows = chip_windows(500, 300, size=224, overlap=32)
    >>> len(windows), windows[-1]
    (6, Window(col_off=276, row_off=76, width=224, height=224))
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import transform as transform_points
from rasterio.windows import Window

from terrasight.errors import RasterReadError
from terrasight.io.raster import common_name, open_raster, read_window
from terrasight.io.remote import gdal_options, repair, source_name
from terrasight.io.remote import gdal_path as to_gdal_path
from terrasight.io.rgb import PHOTO_SUFFIXES, display_bands

LEVELS_SIDE = 1024
"""Longest side of the decimated read that sets a scene's display stretch."""
DATE_TAGS: tuple[str, ...] = ("ACQUISITION_DATE", "ACQUISITIONDATETIME", "DATE_ACQUIRED")
DATE_TAGS += ("SENSING_TIME", "DATETIME", "ACQUISITION_START_TIME", "TIFFTAG_DATETIME")
"""Raster tags read for the acquisition date, most specific first (case-insensitive)."""
_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_:]?(0[1-9]|1[0-2])[-_:]?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass(frozen=True)
class Scene:
    """What reading chips of one image needs; holds no open file handle and pickles whole.

    Attributes:
        path: the image as given: a local file, a URL or ``/vsi...`` path, or a STAC Item.
        width, height: size in pixels.
        crs: its CRS, or None in pixel space (plain images).
        transform: pixel to CRS (identity in pixel space).
        photo: decoded with Pillow (JPEG, PNG...), else read by windows with rasterio.
        bands: rasterio band numbers shown as red, green, blue (or one grey band).
        levels: per shown band ``(low, high)`` of the display stretch; None for 8-bit data.
        nodata: the nodata value, or None.
        date: acquisition date (ISO ``YYYY-MM-DD``): a STAC Item's datetime, else from
            tags or the file name, or None.
        gdal_path: what GDAL opens (``/vsicurl/...``, an Item's cached VRT); None: ``path``.
        gdal_env: GDAL settings its reads need (network timeouts, unsigned buckets).
    """

    path: Path | str
    width: int
    height: int
    crs: CRS | None
    transform: Affine
    photo: bool
    bands: tuple[int, ...] = ()
    levels: tuple[tuple[float, float], ...] | None = None
    nodata: float | None = None
    date: str | None = None
    gdal_path: str | Path | None = None
    gdal_env: tuple[tuple[str, str], ...] = ()

    @contextlib.contextmanager
    def open(self) -> Iterator[rasterio.io.DatasetReader]:
        """A read handle on the (non-photo) image, its GDAL settings applied, for the block.

        Example:
            >>> with open_scene("https://host/a.tif").open() as ds:  # doctest: +SKIP
            ...     ds.read(1, window=Window(0, 0, 224, 224))
        """
        target = self.gdal_path if self.gdal_path is not None else to_gdal_path(self.path)
        with rasterio.Env(**dict(self.gdal_env)), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(target) as ds:
                yield ds


def open_scene(path: str | Path) -> Scene:
    """Read a scene's header (and, for data not 8-bit, its display stretch).

    ``path`` is a local file, a URL or ``/vsi...`` path (read with range requests), or
    a STAC Item (a ``.json`` file or URL); local photos are decoded with Pillow, remote
    ones by GDAL.

    Raises:
        RasterReadError: missing, not an image, or a photo that cannot be decoded.
        InvalidRasterError: smaller than 8 x 8 pixels.

    Example:
        >>> scene = open_scene("S2_20230615.tif")  # doctest: +SKIP
        >>> scene.crs, scene.date  # doctest: +SKIP
        (CRS.from_epsg(32633), '2023-06-15')
    """
    source = repair(path)
    if isinstance(source, Path) and source.suffix.lower() in PHOTO_SUFFIXES:
        width, height = _photo_size(source)
        return Scene(
            source, width, height, None, Affine.identity(), True, date=date_in_name(source)
        )
    src = open_raster(source)
    names = [common_name(src.band_names[b - 1]) for b in src.bands]
    bands = tuple(src.bands[i] for i in display_bands(names)[0])
    with src.open() as ds:
        tags = {k.upper(): v for k, v in ds.tags().items()}
        levels = None if src.dtype == "uint8" else _levels(ds, bands, src.nodata)
    if src.scene is not None and src.scene.datetime is not None:
        found: str | None = src.scene.datetime.date().isoformat()
    else:
        found = next(
            (d for t in DATE_TAGS if (d := date_in_text(tags.get(t, ""))) is not None), None
        )
    crs = src.crs
    transform = src.transform if crs is not None else Affine.identity()
    return Scene(
        source,
        src.width,
        src.height,
        crs,
        transform,
        False,
        bands,
        levels,
        src.nodata,
        found or date_in_name(source),
        gdal_path=to_gdal_path(src.path),
        gdal_env=src.gdal_env or tuple(sorted(gdal_options(src.path).items())),
    )


def _photo_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise RasterReadError(f"image {path}: file not found. Check the path and try again.")
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, UnidentifiedImageError) as exc:
        raise RasterReadError(
            f"image {path}: cannot be decoded ({exc}). Check that the file is a complete image."
        ) from None


def _levels(
    ds: rasterio.io.DatasetReader, bands: Sequence[int], nodata: float | None
) -> tuple[tuple[float, float], ...]:
    """The 2nd and 98th percentile of each band over a decimated read of valid pixels."""
    scale = min(1.0, LEVELS_SIDE / max(ds.width, ds.height))
    shape = (max(1, round(ds.height * scale)), max(1, round(ds.width * scale)))
    data = ds.read(list(bands), out_shape=(len(bands), *shape), resampling=Resampling.average)
    valid = (ds.read_masks(list(bands), out_shape=(len(bands), *shape)) > 0).all(axis=0)
    data = data.astype(np.float32)
    if nodata is not None and not np.isnan(nodata):
        valid &= ~(data == np.float32(nodata)).all(axis=0)
    valid &= np.isfinite(data).all(axis=0)
    out = []
    for band in data:
        values = band[valid]
        lo, hi = np.percentile(values, [2, 98]) if values.size else (0.0, 1.0)
        out.append((float(lo), float(hi) if hi > lo else float(lo) + 1.0))
    return tuple(out)


def date_in_text(text: str) -> str | None:
    """The first date ``YYYY-MM-DD``, ``YYYYMMDD`` or ``YYYY:MM:DD`` in ``text``, as ISO.

    Example:
        >>> date_in_text("S2A_MSIL2A_20230615T101031"), date_in_text("2021:03:04 10:00:00")
        ('2023-06-15', '2021-03-04')
        >>> date_in_text("tile_12345678") is None
        True
    """
    for match in _DATE.finditer(text or ""):
        try:
            return date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            continue
    return None


def date_in_name(path: str | Path) -> str | None:
    """The acquisition date in a file's (or URL's) name (see :func:`date_in_text`), or None.

    Example:
        >>> date_in_name("https://host/2023/S2_20230615.tif?sig=1")
        '2023-06-15'
    """
    return date_in_text(PurePosixPath(source_name(path)).stem)


def chip_windows(width: int, height: int, size: int, overlap: int = 0) -> list[Window]:
    """Square windows of ``size`` px that cover the image, ``overlap`` px shared by neighbours.

    The last window of a row or column is moved back to end at the image's edge,
    so every window is whole; a side shorter than ``size`` gets one window of its length.

    Raises:
        ValueError: ``size`` < 1 or ``overlap`` not in ``[0, size)``.

    Example:
        >>> chip_windows(150, 150, 224)
        [Window(col_off=0, row_off=0, width=150, height=150)]
        >>> [int(w.col_off) for w in chip_windows(400, 224, 224, 32)]
        [0, 176]
    """
    return list(iter_chip_windows(width, height, size, overlap))


def iter_chip_windows(width: int, height: int, size: int, overlap: int = 0) -> Iterator[Window]:
    """The windows of :func:`chip_windows`, one at a time (rows of windows, north first).

    Example:
        >>> next(iter_chip_windows(10**6, 10**6, 224, 32))
        Window(col_off=0, row_off=0, width=224, height=224)
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"chip size must be >= 1 and 0 <= overlap < size, got {size}, {overlap}")
    cols = _starts(width, size, overlap)
    for r in _starts(height, size, overlap):
        for c in cols:
            yield Window(c, r, min(size, width), min(size, height))


def _starts(length: int, size: int, overlap: int) -> list[int]:
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, size - overlap))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def read_chips(scene: Scene, windows: Sequence[Window]) -> list[np.ndarray]:
    """The chips of ``windows`` as uint8 ``(h, w, 3)`` pictures (invalid pixels black).

    The image is opened once for all the windows (with the scene's GDAL settings).

    Raises:
        RasterReadError: the file cannot be decoded (a damaged or truncated file).

    Example:
        >>> scene = open_scene("scene.tif")  # doctest: +SKIP
        >>> chips = read_chips(scene, chip_windows(scene.width, scene.height, 224))  # doctest: +SKIP
    """
    if scene.photo:
        rgb = _read_photo(scene.path)
        return [rgb[_slices(w)] for w in windows]
    out = []
    with scene.open() as ds:
        for window in windows:
            data, valid = read_window(ds, scene.bands, window, scene.nodata, use_mask=True)
            out.append(to_uint8(data, valid, scene.levels))
    return out


def _slices(window: Window) -> tuple[slice, slice]:
    r, c = int(window.row_off), int(window.col_off)
    return slice(r, r + int(window.height)), slice(c, c + int(window.width))


def _read_photo(path: Path | str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise RasterReadError(
            f"image {path}: cannot be decoded ({exc}). Check that the file is a complete image."
        ) from None


def to_uint8(
    data: np.ndarray, valid: np.ndarray, levels: Sequence[tuple[float, float]] | None
) -> np.ndarray:
    """``(bands, h, w)`` data as uint8 ``(h, w, 3)``: stretched between ``levels``, or as is.

    Example:
        >>> a = np.array([[[0.0, 50.0], [100.0, 200.0]]], np.float32)
        >>> to_uint8(a, np.ones((2, 2), bool), [(0.0, 100.0)])[..., 0].tolist()
        [[0, 127], [255, 255]]
    """
    if levels is None:
        out = np.clip(data, 0, 255).astype(np.uint8)
    else:
        lo = np.array([lv[0] for lv in levels], np.float32)[:, None, None]
        hi = np.array([lv[1] for lv in levels], np.float32)[:, None, None]
        out = (np.clip((data - lo) / (hi - lo), 0, 1) * 255.0).astype(np.uint8)
    out = np.where(valid, out, 0).transpose(1, 2, 0)
    return np.ascontiguousarray(np.repeat(out, 3, axis=2) if out.shape[2] == 1 else out[..., :3])


def window_boxes(scene: Scene, windows: Sequence[Window]) -> np.ndarray:
    """``(n, 4)`` boxes ``(minx, miny, maxx, maxy)`` of the windows in the scene's CRS (or pixels).

    Example:
        >>> s = Scene(Path("a.tif"), 10, 10, None, Affine.identity(), False)
        >>> window_boxes(s, [Window(2, 3, 4, 5)]).tolist()
        [[2.0, 3.0, 6.0, 8.0]]
    """
    if not windows:
        return np.zeros((0, 4))
    w = np.array([[x.col_off, x.row_off, x.width, x.height] for x in windows], dtype=np.float64)
    t = scene.transform
    cols = np.stack([w[:, 0], w[:, 0] + w[:, 2], w[:, 0], w[:, 0] + w[:, 2]], axis=1)
    rows = np.stack([w[:, 1], w[:, 1], w[:, 1] + w[:, 3], w[:, 1] + w[:, 3]], axis=1)
    xs, ys = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
    return np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)


def footprints(scene: Scene, windows: Sequence[Window], per_side: int = 5) -> list[shapely.Polygon]:
    """Each window's outline as a WGS84 polygon (sides sampled at ``per_side`` points).

    Empty without a CRS (pixel space has no place on the map).

    Example:
        >>> s = Scene(Path("a.jpg"), 10, 10, None, Affine.identity(), True)
        >>> footprints(s, [Window(0, 0, 5, 5)])
        []
    """
    if scene.crs is None or not windows:
        return []
    steps = np.linspace(0.0, 1.0, per_side)[:-1]
    ring = np.concatenate(
        [
            np.stack([steps, np.zeros_like(steps)], 1),
            np.stack([np.ones_like(steps), steps], 1),
            np.stack([1 - steps, np.ones_like(steps)], 1),
            np.stack([np.zeros_like(steps), 1 - steps], 1),
        ]
    )  # unit square, clockwise in pixel space
    w = np.array([[x.col_off, x.row_off, x.width, x.height] for x in windows], dtype=np.float64)
    cols = w[:, None, 0] + ring[None, :, 0] * w[:, None, 2]
    rows = w[:, None, 1] + ring[None, :, 1] * w[:, None, 3]
    t = scene.transform
    xs, ys = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
    lons, lats = transform_points(scene.crs, "EPSG:4326", xs.ravel().tolist(), ys.ravel().tolist())
    coords = np.stack([lons, lats], axis=1).reshape(len(windows), len(ring), 2)
    polys = shapely.polygons(np.concatenate([coords, coords[:, :1]], axis=1))
    return list(shapely.orient_polygons(polys, exterior_cw=False))
