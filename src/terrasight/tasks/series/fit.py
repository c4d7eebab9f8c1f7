"""Per-date cloud masks and per-pair fitted change methods of a series.

Cloud masks reuse the change job's (:mod:`terrasight.tasks.change.pipeline.clouds`):
date ``k`` is classified in a pair with the first date (the first date in a
pair with the second), on the first date's grid, and the pair's cloud rule
keeps only flags that cannot be a change on the ground. Each date's codes go
into its own file under :data:`CLOUD_DIR` in the job folder, built once. The
mask of a date is grown by :attr:`SeriesOptions.cloud_buffer` pixels when read:
a cloud's thin edge and its shadow's faint edge, which the model leaves, are no
observation either (they otherwise read as a change at that date).

Every pair of dates ``r < j`` gets the change method fitted on the same sample
windows, reading only pixels clear in both dates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

from terrasight.io.cloud import (
    CloudConfig,
)
from terrasight.io.tiling import TileGrid
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.methods import nochange
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec
from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline import clouds as cloud_layer
from terrasight.tasks.series.options import SeriesOptions
from terrasight.tasks.series.stack import SeriesStack, StackReader

log = logging.getLogger(__name__)

CLOUD_DIR = ".series-clouds"
"""Folder of the per-date cloud codes inside a series job folder."""
MIN_SAMPLE = 64
"""Fewest pixels clear in both dates of a pair for the method to be fitted on it."""


@dataclass(frozen=True)
class DateClouds:
    """Each date's cloud layer (None: not masked), the bit of its codes meaning "masked",
    and the pixels the mask is grown by (:attr:`SeriesOptions.cloud_buffer`)."""

    layers: tuple[cloud_layer.CloudLayer | None, ...]
    bits: tuple[int, ...]
    buffer: int = 0

    def masked(self, k: int, window: Window) -> np.ndarray | None:
        """bool: date ``k``'s pixels of ``window`` excluded as cloud or shadow (None: no mask).

        With a buffer, pixels up to ``buffer`` px from a masked one (in this window or
        next to it) are excluded too.
        """
        layer = self.layers[k]
        if layer is None:
            return None
        if self.buffer <= 0:
            return (layer.codes(window) & self.bits[k]) > 0
        padded, inner = _padded(window, layer.region, self.buffer)
        masked = (layer.codes(padded) & self.bits[k]) > 0
        return grow(masked, self.buffer)[inner]


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` and every pixel within ``pixels`` (Euclidean distance) of it.

    Example:
        >>> m = np.zeros((1, 7), bool)
        >>> m[0, 3] = True
        >>> grow(m, 2).astype(int).tolist()
        [[0, 1, 1, 1, 1, 1, 0]]
    """
    if pixels <= 0 or not mask.any():
        return mask
    return np.asarray(ndimage.distance_transform_edt(~mask) <= pixels)


def _padded(window: Window, region: Window, pad: int) -> tuple[Window, tuple[slice, slice]]:
    """``window`` grown by ``pad`` px within ``region``, and where ``window`` lies in it."""
    col0 = max(int(window.col_off) - pad, int(region.col_off))
    row0 = max(int(window.row_off) - pad, int(region.row_off))
    col1 = min(int(window.col_off + window.width) + pad, int(region.col_off + region.width))
    row1 = min(int(window.row_off + window.height) + pad, int(region.row_off + region.height))
    dr, dc = int(window.row_off) - row0, int(window.col_off) - col0
    inner = (slice(dr, dr + int(window.height)), slice(dc, dc + int(window.width)))
    return Window(col0, row0, col1 - col0, row1 - row0), inner


def no_clouds(n: int) -> DateClouds:
    """No date masked.

    Example:
        >>> no_clouds(3).masked(0, Window(0, 0, 8, 8)) is None
        True
    """
    return DateClouds((None,) * n, (0,) * n)


def read_clear(
    reader: StackReader, clouds: DateClouds, k: int, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Date ``k`` in ``window``: data, clear (valid and cloud-free) and cloud masks.

    Example:
        >>> with stack.readers() as reader:  # doctest: +SKIP
        ...     data, clear, cloud = read_clear(reader, no_clouds(len(stack)), 0, Window(0, 0, 256, 256))
    """
    data, valid = reader.read_date(k, window)
    masked = clouds.masked(k, window)
    cloud = valid & masked if masked is not None else np.zeros_like(valid)
    return data, valid & ~cloud, cloud


def build_clouds(
    stack: SeriesStack,
    opts: SeriesOptions,
    folder: Path,
    skip: Sequence[int],
    fresh: bool,
    cache: ModelCache | None,
    notes: list[str],
) -> DateClouds:
    """Each date's cloud layer, built in ``folder`` (reused unless ``fresh``).

    Raises:
        BandSelectionError, CloudMaskUnavailableError: with ``cloud_mask="on"`` when
            masks cannot be made.

    Example:
        >>> clouds = build_clouds(stack, SeriesOptions(), Path("job"), [], True, None, [])  # doctest: +SKIP
    """
    n = len(stack)
    base = _cloud_base(stack, opts)
    usable = [k for k in range(n) if k not in skip]
    if base is None or len(usable) < 2:
        return no_clouds(n)
    cache = cache if cache is not None else ModelCache()
    layers: list[cloud_layer.CloudLayer | None] = [None] * n
    bits = [cloud_rule.AFTER_MASKED] * n
    for k in usable:
        pair = stack.pairs[k] if k > 0 else stack.pairs[usable[1]]
        if k == 0:
            bits[k] = cloud_rule.BEFORE_MASKED
        plan = cloud_layer.plan_clouds(
            pair, base, opts.cloud_mask, opts.reflectance_scale, opts.reflectance_offset, notes
        )
        if plan is None:
            continue
        where = folder / CLOUD_DIR / str(k)
        where.mkdir(parents=True, exist_ok=True)
        layers[k] = cloud_layer.build_cloud_layer(pair, plan, where, opts.workers, fresh, cache)
    return DateClouds(tuple(layers), tuple(bits), opts.cloud_buffer)


def _cloud_base(stack: SeriesStack, opts: SeriesOptions) -> CloudConfig | None:
    """The cloud model configuration for the series' bands, or None when masks are off."""
    return cloud_layer.cloud_config(stack.first, stack.band_names, opts.cloud_mask)


def pair_key(r: int, j: int) -> str:
    """The journal's key of pair ``r < j``.

    Example:
        >>> pair_key(0, 3)
        '0-3'
    """
    return f"{r}-{j}"


def fit_pairs(
    stack: SeriesStack,
    spec: MethodSpec,
    method_options: MethodOptions,
    clouds: DateClouds,
    opts: SeriesOptions,
    skip: Sequence[int],
) -> dict[str, dict[str, Any] | None]:
    """The method's fitted parameters for every pair of dates ``r < j`` (None: not comparable).

    Each pair is fitted on the same :attr:`SeriesOptions.sample_tiles` windows,
    on the pixels clear in both dates; a pair with fewer than :data:`MIN_SAMPLE`
    of them is not compared.

    Example:
        >>> fit_pairs(stack, get_method("cva"), CVAOptions(), no_clouds(3), SeriesOptions(), [])  # doctest: +SKIP
        {'0-1': {...}, '0-2': {...}, '1-2': {...}}
    """
    n = len(stack)
    tiles = TileGrid(stack.region, opts.sample_size).sample(opts.sample_tiles)
    fitted: dict[str, dict[str, Any] | None] = {}
    with stack.readers() as reader:
        for r in range(n - 1):
            fitted.update({pair_key(r, j): None for j in range(r + 1, n) if r in skip or j in skip})
            if r in skip:
                continue
            ref = [read_clear(reader, clouds, r, t.read)[:2] for t in tiles]
            for j in range(r + 1, n):
                if j in skip:
                    continue
                samples = []
                for (a, ca), t in zip(ref, tiles, strict=True):
                    b, cb, _ = read_clear(reader, clouds, j, t.read)
                    if (ca & cb).any():
                        samples.append((a, b, ca & cb))
                enough = sum(int(s[2].sum()) for s in samples) >= MIN_SAMPLE
                fitted[pair_key(r, j)] = (
                    nochange.fit_checked(spec, samples, stack.band_names, method_options)
                    if enough
                    else None
                )
    return fitted
