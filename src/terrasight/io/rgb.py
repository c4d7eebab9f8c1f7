"""Any image file as a small 8-bit RGB picture: for viewing and for image-text models.

Photos (JPEG, PNG, BMP, GIF, WebP) are decoded with Pillow exactly as they
are. Everything else GDAL reads (GeoTIFF/COG with any number of bands, 16-bit
or float, JPEG 2000, ...) goes through rasterio: red/green/blue are chosen by
band name when the file names them (Sentinel-2 ``B04``/``B03``/``B02`` too),
large scenes are read decimated (overviews are used when the file has them),
and data that are not already 8-bit are stretched band by band between their
2nd and 98th percentiles over valid pixels: the usual display stretch (it also
takes off the blue haze of top-of-atmosphere reflectances), and the one the
change report's pictures use, so a model sees what the user is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.errors import RasterReadError
from terrasight.io.box_copy import box_windows
from terrasight.io.pair import RasterPair
from terrasight.io.raster import RasterSource, common_name, open_raster
from terrasight.io.remote import repair

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
MAX_SIDE = 1024
"""Longest side, in pixels, of the picture :func:`read_rgb` returns by default."""


def display_bands(band_names: Sequence[str]) -> tuple[list[int], str]:
    """Positions (0-based, among the selected bands) to show as RGB, and their description.

    red/green/blue when all present, else the first three bands, else the first as grey.

    Example:
        >>> display_bands(["blue", "green", "red", "nir"])
        ([2, 1, 0], 'red, green, blue')
        >>> display_bands(["band1"])
        ([0], 'band1 (grey)')
    """
    names = list(band_names)
    if all(c in names for c in ("red", "green", "blue")):
        return [names.index(c) for c in ("red", "green", "blue")], "red, green, blue"
    if len(names) >= 3:
        return [0, 1, 2], ", ".join(names[:3]) + " as RGB"
    return [0], f"{names[0] if names else 'band 1'} (grey)"


GREY_PROBE = 256
"""Side of the window read to tell a grey image from a colour one."""


def grey_bands(
    source: RasterSource, bands: Sequence[int] | None = None, region: Window | None = None
) -> bool:
    """Whether three bands of ``source`` (its selected ones by default) hold the same values:
    a grey image (a radar or panchromatic scene exported as an RGB BMP or PNG).

    One window at the centre of ``region`` (the whole image by default) is read, so a
    remote file costs a few blocks; a window of one value is not taken for grey.

    Example:
        >>> grey_bands(open_raster("bern_1.bmp"))  # doctest: +SKIP
        True
    """
    picked = list(bands if bands is not None else source.bands)
    if len(picked) != 3:
        return False
    area = region or Window(0, 0, source.width, source.height)
    w, h = min(GREY_PROBE, int(area.width)), min(GREY_PROBE, int(area.height))
    col = int(area.col_off) + (int(area.width) - w) // 2
    row = int(area.row_off) + (int(area.height) - h) // 2
    with source.open() as ds:
        data = ds.read(picked, window=Window(col, row, w, h))
    if data.size == 0 or data.min() == data.max():
        return False  # a flat window tells nothing (a flat test image, a nodata corner)
    return bool(np.array_equal(data[0], data[1]) and np.array_equal(data[1], data[2]))


def grey_inputs(pair: RasterPair, picks: Sequence[int] = (0, 1, 2)) -> bool:
    """Whether both images of ``pair`` are grey: the bands at ``picks`` (positions among the
    selected bands) identical in each, read inside the pair's region (so a local copy of
    a remote image's box reads the same pixels). See :func:`grey_bands`.

    Example:
        >>> grey_inputs(open_pair("bern_1.bmp", "bern_2.bmp"))  # doctest: +SKIP
        True
    """
    regions = box_windows(pair, margin=0)  # the after image's own window of the region
    return all(
        len(src.bands) > max(picks) and grey_bands(src, [src.bands[i] for i in picks], region)
        for src, region in zip((pair.before, pair.after), regions, strict=True)
    )


def stretch(data: np.ndarray, valid: np.ndarray, low: float = 2, high: float = 98) -> np.ndarray:
    """Percentile stretch of ``(bands, h, w)`` to uint8 ``(h, w, 3)``, per band, over valid pixels.

    One band gives grey. Invalid pixels are black.

    Example:
        >>> a = np.arange(100, dtype=np.float32).reshape(1, 10, 10)
        >>> rgb = stretch(a, np.ones((10, 10), bool))
        >>> rgb.shape, rgb[0, 0, 0], rgb[-1, -1, 0]
        ((10, 10, 3), np.uint8(0), np.uint8(255))
    """
    out = np.zeros((*data.shape[1:], len(data)), dtype=np.uint8)
    for i, band in enumerate(data):
        values = band[valid]
        if values.size == 0:
            continue
        lo, hi = np.percentile(values, [low, high])
        del values
        span = hi - lo if hi > lo else 1.0
        scaled = band - lo  # one float64 copy, scaled in place
        scaled /= span
        scaled *= 255.0
        np.clip(scaled, 0, 255, out=scaled)
        scaled[~valid] = 0
        out[..., i] = scaled
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return out


def _read_photo(path: Path, max_side: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise RasterReadError(
            f"image {path}: cannot be decoded ({exc}). Check that the file is a complete "
            "JPEG/PNG image, or pass a GeoTIFF."
        ) from None
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(rgb)


def _read_raster(path: Path | str, bands: Sequence[int | str] | None, max_side: int) -> np.ndarray:
    src = open_raster(path, bands=bands)
    names = [common_name(src.band_names[b - 1]) for b in src.bands]
    picks, _ = display_bands(names)
    indexes = [src.bands[i] for i in picks]
    scale = min(1.0, max_side / max(src.width, src.height))
    shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
    with src.open() as ds:
        data = ds.read(indexes, out_shape=(len(indexes), *shape), resampling=Resampling.average)
        masks = ds.read_masks(indexes, out_shape=(len(indexes), *shape))
    valid = (masks > 0).all(axis=0)
    if src.nodata is not None and not np.isnan(src.nodata):
        valid &= ~(data == src.nodata).all(axis=0)
    if data.dtype == np.uint8:
        rgb = np.where(valid, data, 0).transpose(1, 2, 0)
        return np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else np.ascontiguousarray(rgb)
    data = data.astype(np.float32)
    valid &= np.isfinite(data).all(axis=0)
    return stretch(data, valid)


def read_rgb(
    path: str | Path, bands: Sequence[int | str] | None = None, max_side: int = MAX_SIDE
) -> np.ndarray:
    """An image file as uint8 ``(h, w, 3)``, its longest side at most ``max_side`` pixels.

    Args:
        path: a photo (JPEG, PNG...) or any raster GDAL reads (GeoTIFF with any bands, 16-bit...),
            a local file or a URL.
        bands: for rasters, the bands to show (numbers or names); default: red, green, blue
            by name, else the first three bands, else the first band as grey.
        max_side: longest side of the result; larger images are read decimated.

    Raises:
        RasterReadError: the file is missing or cannot be decoded.
        BandSelectionError: a requested band does not exist.

    Example:
        >>> rgb = read_rgb("S2_scene.tif")  # doctest: +SKIP
        >>> rgb.dtype, rgb.shape[2]  # doctest: +SKIP
        (dtype('uint8'), 3)
    """
    path = repair(path)
    if isinstance(path, str):  # a URL or /vsi path: GDAL reads it, photos included
        return _read_raster(path, bands, max_side)
    if not path.is_file():
        raise RasterReadError(f"image {path}: file not found. Check the path and try again.")
    if path.suffix.lower() in PHOTO_SUFFIXES and bands is None:
        return _read_photo(path, max_side)
    return _read_raster(path, bands, max_side)
