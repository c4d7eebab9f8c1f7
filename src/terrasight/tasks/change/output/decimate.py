"""Small pictures of a large raster window, several sizes from one pass over its pixels.

GDAL's decimated read (``out_shape`` with average resampling) costs about five
times a plain read of the same pixels, and every picture size reads the
window again. When each picture's side divides the window's side (an 8192 px
scene shown at 1024 and 2048 px), :func:`read_averages` instead reads the
window once, in strips of full-resolution rows, and averages blocks with
numpy: the same numbers as GDAL's average (valid pixels only, rounded for
integer data) and the same validity as a nearest-neighbour read of the masks
(the block's centre pixel). Other sizes return None, and the caller reads
with GDAL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from rasterio.enums import MaskFlags
from rasterio.windows import Window

STRIP_BYTES = 16 * 2**20
"""Full-resolution pixels read at a time, about (whole rows of blocks: strips that cut
through blocks decode them twice)."""

Picture = tuple[np.ndarray, np.ndarray]
"""``(bands, h, w)`` averages (float32 for float data; integer data, rounded, keep their
type) and a bool ``(h, w)`` valid mask."""


def reduction_factors(
    window: Window, shapes: Sequence[tuple[int, int]]
) -> list[tuple[int, int]] | None:
    """``(rows, cols)`` block sizes that reduce ``window`` to each shape, or None if one is not whole.

    Example:
        >>> reduction_factors(Window(0, 0, 8192, 4096), [(512, 1024), (1024, 2048)])
        [(8, 8), (4, 4)]
        >>> reduction_factors(Window(0, 0, 2000, 2000), [(256, 256)]) is None
        True
    """
    if any(float(v) != int(v) for v in (window.col_off, window.row_off)):
        return None
    height, width = int(window.height), int(window.width)
    factors = []
    for h, w in shapes:
        if h <= 0 or w <= 0 or height % h or width % w:
            return None
        factors.append((height // h, width // w))
    return factors


def read_averages(
    ds: Any, indexes: list[int], window: Window, shapes: Sequence[tuple[int, int]]
) -> list[Picture] | None:
    """Block averages of bands ``indexes`` of ``window`` at each of ``shapes``, in one read.

    Returns one ``(data, valid)`` per shape, or None when a shape is not a whole
    reduction of the window (see :func:`reduction_factors`). Memory: one strip
    of about :data:`STRIP_BYTES` plus the pictures.

    Example:
        >>> (small, ok), (large, _) = read_averages(ds, [1, 2, 3], Window(0, 0, 8192, 8192),
        ...                                         [(1024, 1024), (2048, 2048)])  # doctest: +SKIP
    """
    factors = reduction_factors(window, shapes)
    if factors is None:
        return None
    n, width, height = len(indexes), int(window.width), int(window.height)
    step = math.lcm(*(fy for fy, _ in factors), int(ds.block_shapes[indexes[0] - 1][0]))
    # the sums take 4 or 8 bytes a value: the budget counts those, not the source's
    row_bytes = max(1, width * n * max(4, np.dtype(ds.dtypes[indexes[0] - 1]).itemsize))
    rows = max(step, STRIP_BYTES // row_bytes // step * step)
    plain = _all_valid(ds, indexes)
    dtype = np.dtype(ds.dtypes[indexes[0] - 1])
    kind = np.float32 if dtype.kind == "f" else dtype
    pictures = [(np.empty((n, h, w), kind), np.empty((h, w), bool)) for h, w in shapes]
    for r0 in range(0, height, rows):
        strip = Window(window.col_off, window.row_off + r0, width, min(rows, height - r0))
        data = ds.read(indexes, window=strip)
        valid: np.ndarray | None = None
        if not plain or data.dtype.kind == "f":
            valid = ds.read_masks(indexes, window=strip) > 0  # per band, as GDAL averages
            if data.dtype.kind == "f":
                valid &= np.isfinite(data)
            if valid.all():
                valid = None
        for (fy, fx), (image, ok) in zip(factors, pictures, strict=True):
            out = slice(r0 // fy, (r0 + data.shape[1]) // fy)
            image[:, out], ok[out] = block_average(data, valid, fy, fx)
    return pictures


def _all_valid(ds: Any, indexes: list[int]) -> bool:
    """True when the bands have neither nodata nor a mask: every pixel is valid."""
    flags = ds.mask_flag_enums
    return all(flags[i - 1] == [MaskFlags.all_valid] for i in indexes)


def block_average(
    data: np.ndarray, valid: np.ndarray | None, fy: int, fx: int
) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``fy`` x ``fx`` blocks of ``(bands, h, w)`` over the valid pixels, and validity.

    ``valid`` is ``(bands, h, w)`` (each band's own valid pixels), or None when
    all are. Integer data are rounded half up, as GDAL's average resampling
    does, and keep their type; float data become float32. A block is valid
    where its centre pixel is valid in every band (GDAL's nearest pixel for masks).

    Example:
        >>> data = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
        >>> block_average(data, None, 2, 2)[0].tolist()
        [[[3, 5], [11, 13]]]
    """
    h, w = data.shape[1:]
    if fy == fx == 1:  # full resolution: the pixels themselves
        ok = np.ones((h, w), bool) if valid is None else np.asarray(valid.all(axis=0))
        return (data.astype(np.float32) if data.dtype.kind == "f" else data.copy()), ok
    if valid is None:
        mean = _block_sum(data, fy, fx) / (fy * fx)
        ok = np.ones((h // fy, w // fx), bool)
    else:
        count = _block_sum(valid, fy, fx)
        mean = _block_sum(np.where(valid, data, 0), fy, fx) / np.maximum(count, 1)
        ok = np.asarray(valid[:, fy // 2 :: fy, fx // 2 :: fx].all(axis=0))
    if data.dtype.kind in "iu":
        return np.floor(mean + 0.5).astype(data.dtype), ok
    return mean.astype(np.float32), ok


def _block_sum(data: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """Sums of ``fy`` x ``fx`` blocks of ``(bands, h, w)``: rows first (contiguous), then columns.

    Integers add up exactly (in 32 bits up to 16-bit data, else 64), floats in float64.
    """
    n, h, w = data.shape
    acc: type = np.float64
    if data.dtype.kind != "f":
        small = data.dtype.itemsize <= 2 and fy * fx <= 2**15
        acc = (np.uint32 if data.dtype.kind in "ub" else np.int32) if small else np.int64
    rows = data.reshape(n, h // fy, fy, w).sum(axis=2, dtype=acc)
    return rows.reshape(n, h // fy, w // fx, fx).sum(axis=3)
