"""``change_classes.tif``: the land cover of both dates on a change result's changed pixels.

The result's grid is cut into windows like the change job's (``tile_size`` px
with ``overlap`` px of context each side). A window whose core holds no changed
pixel is skipped; of the others, only the bounding box of their changed pixels
(with ``overlap`` px of context) is read from both images (the after image on the
before grid), classified by the land-cover network
(:func:`~terrasight.tasks.landcover.model.classify_window`) and their changed
pixels written: band 1 the class before, band 2 the class after, 255 on every
other pixel. Memory depends on the window, not the scene.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.errors import BandSelectionError
from terrasight.io.raster import DECIMATED_READ_CACHE_MB
from terrasight.io.rgb import display_bands, grey_inputs
from terrasight.io.tiling import Tile, TileGrid
from terrasight.models.onnx_coarse_cover import CoarseCoverNetwork, load_coarse_cover
from terrasight.models.onnx_landcover import LandCoverNetwork
from terrasight.tasks.change.names import CLASSES_NAME, CLASSES_NODATA
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.landcover.classes import CLASSES, NODATA
from terrasight.tasks.landcover.coarse import (
    COARSE_THRESHOLD,
    applies,
    coarse_probabilities,
    coarse_rules,
    scene_percentiles,
)
from terrasight.tasks.landcover.model import (
    classes_of,
    classify_window,
    spectral_rules,
    to_display_units,
)
from terrasight.tasks.semantic.budget import WindowBudget

DATES = ("before", "after")
BLOCK = 256
"""Block side of ``change_classes.tif``; windows are whole blocks (``tile_size`` rounded up)."""
N_CODES = len(CLASSES) + 1
"""Codes counted per date: the classes (unknown included) and one for no class (nodata)."""


@dataclass(frozen=True)
class PixelClasses:
    """What :func:`classify_changed_pixels` wrote.

    Attributes:
        path: ``change_classes.tif``.
        transitions: ``(7, 7)`` pixel counts, row the class before, column the class
            after (codes of :data:`~terrasight.tasks.landcover.classes.CLASSES`, the
            last row and column for pixels without a class: nodata in that date).
        windows: windows classified (of ``total_windows``; ``changed_windows`` hold changes:
            with a budget, those left out have no class).
        notes: what the user should know (bands taken as RGB other than red, green, blue).
        details: how the pixels were read (stretched images), for ``change_classes.json``.
    """

    path: Path
    transitions: np.ndarray
    windows: int
    total_windows: int
    notes: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    changed_windows: int = 0


def classify_changed_pixels(
    result: ChangeResult,
    network: LandCoverNetwork,
    tile_size: int = 1024,
    overlap: int = 64,
    threshold: float | None = None,
    budget: WindowBudget | None = None,
) -> PixelClasses:
    """Write ``change_classes.tif`` beside ``result``'s mask and count its transitions.

    Args:
        result: a change result whose inputs can still be read.
        network: the opened land-cover network.
        tile_size, overlap: the windows classified (rounded up to a multiple of 256 px;
            the network sees ``overlap`` px of context around their changed pixels).
        threshold: below this class probability a pixel is ``unknown``; the network's own
            threshold if None.
        budget: classify only the windows it allows (in its order) and tell it what was
            done; every window with changes if None.

    Raises:
        BandSelectionError: the images have fewer than three bands, or three identical
            ones (no colour to classify).

    Example:
        >>> from terrasight.models.onnx_landcover import load_landcover_network
        >>> made = classify_changed_pixels(result, load_landcover_network())  # doctest: +SKIP
        >>> made.transitions[4, 0]  # bare -> building pixels  # doctest: +SKIP
        1830
    """
    pair = result.open_inputs()
    names = result.band_names or pair.band_names
    picks, described = display_bands(names)
    if len(picks) < 3:
        raise BandSelectionError(
            f"{result.before}: land cover needs red, green and blue bands; the change was "
            f"measured on {len(names)} band(s) ({', '.join(names)}). Run the change on an RGB "
            "or multispectral image, or skip the classes (--no-classes)."
        )
    if grey_inputs(pair, picks):
        raise BandSelectionError(
            f"{result.before}: land cover needs colour, and its red, green and blue bands hold "
            "the same values (a grey image, e.g. radar or panchromatic stored as RGB). Skip "
            "the classes (--no-classes)."
        )
    spectral = _spectral_bands(names)
    notes = [] if described == "red, green, blue" else [f"land cover read {described}"]
    details: list[str] = []
    region = Window(*result.region) if result.region[2] else pair.region
    thr = network.threshold if threshold is None else threshold
    transitions = np.zeros((N_CODES, N_CODES), np.int64)
    out = Path(result.mask_path).with_name(CLASSES_NAME)
    part = out.with_name(out.name + ".part")
    grid = budget.grid if budget is not None else window_grid(result, tile_size, overlap)
    done = busy = 0
    with (
        rasterio.Env(GDAL_CACHEMAX=DECIMATED_READ_CACHE_MB),
        pair.readers() as reader,
        rasterio.open(result.mask_path) as mask_ds,
    ):
        datasets = {"before": reader.before_ds, "after": reader.after_ds}
        bands = {"before": pair.before.bands, "after": pair.after.bands}
        metres = float(np.sqrt(result.pixel_area)) if result.area_unit == "m2" else None
        want = applies(spectral is not None, metres)
        read = {d: _stretch(datasets[d], [bands[d][i] for i in picks], region, want) for d in DATES}
        stretches = {d: (r[0], r[1]) for d, r in read.items()}
        if any(s[0] is not None for s in stretches.values()):
            details.append("images that are not 8-bit were stretched by each band's 2-98% range")
        coarse = _Coarse(load_coarse_cover(), {d: r[2] for d, r in read.items()}) if want else None
        if coarse is not None:
            details.append(
                "RGB at about 10 m without near-infrared: water and vegetation come from the "
                "coarse-cover network"
            )
        with rasterio.open(part, "w", **_profile(mask_ds)) as dst:
            dst.update_tags(**_tags())
            start = time.perf_counter()
            for whole in budget.order() if budget is not None else grid:
                changed = mask_ds.read(1, window=whole.core) == 1
                if not changed.any():
                    if budget is not None:
                        budget.mark(whole)
                    continue
                busy += 1
                if budget is not None and not budget.allows(whole, time.perf_counter() - start):
                    budget.skip()
                    continue
                began = time.perf_counter()
                tile, changed = _around_changes(whole, changed, grid.region, overlap)
                src = Window(
                    region.col_off + tile.read.col_off,
                    region.row_off + tile.read.row_off,
                    tile.read.width,
                    tile.read.height,
                )
                codes = _classes_of(
                    reader.read_dates(src), tile, picks, stretches, spectral, network, thr, coarse
                )
                # whole grid windows (whole blocks) are written: GDAL fills the rest of a
                # partly written block of a new file with 0, not with nodata
                block = np.full(
                    (2, int(whole.core.height), int(whole.core.width)), CLASSES_NODATA, np.uint8
                )
                r0 = int(tile.core.row_off - whole.core.row_off)
                c0 = int(tile.core.col_off - whole.core.col_off)
                part_of = block[:, r0 : r0 + changed.shape[0], c0 : c0 + changed.shape[1]]
                part_of[0][changed], part_of[1][changed] = codes[0][changed], codes[1][changed]
                dst.write(block, window=whole.core)
                transitions += _count(codes[0][changed], codes[1][changed])
                done += 1
                if budget is not None:
                    budget.mark(whole, time.perf_counter() - began)
    part.replace(out)
    return PixelClasses(
        out, transitions, done, len(grid), tuple(notes), tuple(details), changed_windows=busy
    )


@dataclass(frozen=True)
class _Coarse:
    net: CoarseCoverNetwork
    stats: dict[str, Any]


def window_grid(result: ChangeResult, tile_size: int, overlap: int) -> TileGrid:
    """The windows classified: ``tile_size`` rounded up to whole blocks of the output file.

    Example:
        >>> window_grid(result, 500, 64).size  # doctest: +SKIP
        512
    """
    size = -(-tile_size // BLOCK) * BLOCK
    return TileGrid(Window(0, 0, result.width, result.height), size, overlap)


def _classes_of(
    dates: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    tile: Tile,
    picks: list[int],
    stretches: dict[str, tuple[Any, Any]],
    spectral: tuple[int, int, int] | None,
    network: LandCoverNetwork,
    thr: float,
    coarse: _Coarse | None = None,
) -> list[np.ndarray]:
    """The classes of both dates on ``tile``'s core (nodata where a date has no data)."""
    b, a, vb, va = dates
    codes = []
    for data, valid, date in ((b, vb, "before"), (a, va, "after")):
        rgb = to_display_units(data[picks], *stretches[date])
        prob = classify_window(rgb, network)
        cls = classes_of(prob, thr)
        if coarse is not None and coarse.stats[date] is not None:
            cprob = coarse_probabilities(rgb, coarse.stats[date], coarse.net)
            coarse_rules(cls, prob, cprob, COARSE_THRESHOLD)
        if spectral is not None:
            red, green, nir = (data[i] for i in spectral)
            spectral_rules(cls, red, green, nir, prob, thr)
        cls[~valid] = NODATA
        codes.append(cls[tile.core_slices])
    return codes


def _around_changes(
    tile: Tile, changed: np.ndarray, region: Window, overlap: int
) -> tuple[Tile, np.ndarray]:
    """The part of ``tile`` around its changed pixels: their bounding box as the core,
    ``overlap`` px of context around it (within ``region``), and the changed pixels in it."""
    rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    core = Window(tile.core.col_off + c0, tile.core.row_off + r0, c1 - c0, r1 - r0)
    x0 = max(int(region.col_off), int(core.col_off) - overlap)
    y0 = max(int(region.row_off), int(core.row_off) - overlap)
    x1 = min(int(region.col_off + region.width), int(core.col_off + core.width) + overlap)
    y1 = min(int(region.row_off + region.height), int(core.row_off + core.height) + overlap)
    return Tile(tile.index, Window(x0, y0, x1 - x0, y1 - y0), core), changed[r0:r1, c0:c1]


def _spectral_bands(names: tuple[str, ...] | list[str]) -> tuple[int, int, int] | None:
    """Positions of red, green and nir among the compared bands, or None."""
    names = list(names)
    if all(n in names for n in ("red", "green", "nir")):
        return names.index("red"), names.index("green"), names.index("nir")
    return None


def _count(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``(7, 7)`` counts of (before, after) codes, nodata in the last row and column."""
    b = np.where(before == NODATA, N_CODES - 1, before).astype(np.int64)
    a = np.where(after == NODATA, N_CODES - 1, after).astype(np.int64)
    return np.bincount(b * N_CODES + a, minlength=N_CODES * N_CODES).reshape(N_CODES, N_CODES)


def _profile(mask_ds: Any) -> dict[str, Any]:
    """Two uint8 bands on the mask's grid, tiled; blocks never written read as nodata."""
    return {
        "driver": "GTiff",
        "width": mask_ds.width,
        "height": mask_ds.height,
        "count": 2,
        "dtype": "uint8",
        "crs": mask_ds.crs,
        "transform": mask_ds.transform,
        "nodata": CLASSES_NODATA,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "sparse_ok": True,
        "interleave": "band",
    }


def _tags() -> dict[str, str]:
    """Class names in the file's metadata: ``class_0=building`` ... as SECOND's labels."""
    tags = {f"class_{i}": name for i, name in enumerate(CLASSES)}
    tags["bands"] = "1: land cover before, 2: land cover after (changed pixels only)"
    tags["nodata_meaning"] = f"{CLASSES_NODATA}: unchanged pixel, or no data in that date"
    return tags


def _stretch(ds: Any, indexes: list[int], region: Window, stats: bool) -> tuple[Any, Any, Any]:
    """Per-band 2-98 % limits of a decimated read (None, None for 8-bit data), and with
    ``stats`` the 2nd, 50th and 98th percentiles of that read in display units (for the
    coarse rules; None without)."""
    eight_bit = all(ds.dtypes[i - 1] == "uint8" for i in indexes)
    if eight_bit and not stats:
        return None, None, None
    scale = min(1.0, 1024 / max(region.width, region.height))
    shape = (
        len(indexes),
        max(1, round(region.height * scale)),
        max(1, round(region.width * scale)),
    )
    data = ds.read(indexes, window=region, out_shape=shape, resampling=Resampling.average)
    data = data.astype(np.float32)
    valid = np.isfinite(data).all(0) & (data != 0).any(0)
    if not valid.any():
        return None, None, None
    low = high = None
    if not eight_bit:
        low, high = np.percentile(data[:, valid], [2, 98], axis=1)
    shown = scene_percentiles(to_display_units(data[:3], low, high), valid) if stats else None
    return low, high, shown
