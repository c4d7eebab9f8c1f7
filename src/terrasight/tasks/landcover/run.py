"""``landcover(image)``: land cover of a whole scene, window by window, in bounded memory.

The scene (or the part a ``bbox`` covers) is cut into windows of
``tile_size`` px that read ``overlap`` px of context on each side
(:class:`~terrasight.io.tiling.TileGrid`); each window is classified by the
shipped network (:func:`~terrasight.tasks.landcover.model.classify_window`),
its core written to ``landcover.tif`` and counted, so memory depends on the
window, not the scene. Images that are not 8-bit are stretched to 0-255 by
each band's 2nd and 98th percentiles over the scene (read decimated).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.errors import BandSelectionError, InvalidOptionError
from terrasight.io.aoi import bbox_window, check_bbox, parse_bbox
from terrasight.io.bands import common_name
from terrasight.io.raster import DECIMATED_READ_CACHE_MB, RasterSource, open_raster, read_window
from terrasight.io.rgb import grey_bands
from terrasight.io.tiling import TileGrid
from terrasight.io.vectors import crs_id, pixel_area
from terrasight.models.onnx_coarse_cover import CoarseCoverNetwork, load_coarse_cover
from terrasight.models.onnx_landcover import LandCoverNetwork, load_landcover_network
from terrasight.tasks.change.methods.base import MethodOptions, option
from terrasight.tasks.landcover import clouds as lc_clouds
from terrasight.tasks.landcover.classes import CLASSES, NODATA
from terrasight.tasks.landcover.coarse import (
    COARSE_METRES,
    COARSE_THRESHOLD,
    WATER,
    applies,
    coarse_probabilities,
    coarse_rules,
    content_factor,
    scene_percentiles,
    water_caveat,
)
from terrasight.tasks.landcover.model import (
    classes_of,
    classify_window,
    spectral_rules,
    to_display_units,
    water_veto_note,
)
from terrasight.tasks.landcover.result import LandCoverResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandCoverOptions(MethodOptions):
    """How a land-cover run works; unknown names and values out of range are refused.

    Example:
        >>> LandCoverOptions.from_mapping({"tile_size": "512"}).tile_size
        512
    """

    method: ClassVar[str] = ""
    tile_size: int = option(1024, low=64, high=8192)
    overlap: int = option(64, low=0, high=512)
    threshold: float | None = option(None, low=0.0, high=1.0)
    spectral: bool = option(True)
    min_pixels: int = option(16, low=1, high=1_000_000)
    threads: int = option(2, low=1, high=64)
    coarse: bool = option(True)
    content_metres: float | None = option(None, low=0.0, high=10_000.0)
    cloud_mask: str = option("auto", choices=("auto", "on", "off"))
    reflectance_scale: float | None = option(None, low=0.0, high=1.0)
    reflectance_offset: float = option(0.0, low=-1.0, high=1.0)


def plan_bands(
    src: RasterSource, bands: Sequence[int | str] | None
) -> tuple[tuple[int, ...], int | None, list[str]]:
    """``(rgb band indexes, nir index or None, notes)`` of an opened raster.

    With ``bands`` given, its first three are red, green and blue and a fourth,
    if any, near-infrared. Otherwise bands named red, green and blue (and nir)
    are used, else bands 1-3.

    Raises:
        BandSelectionError: fewer than three bands, or three identical ones (no colour).
    """
    if bands is not None:
        if len(src.bands) not in (3, 4):
            raise BandSelectionError(
                f"{src.given}: land cover needs --bands red,green,blue[,nir] (3 or 4 bands), "
                f"not {len(src.bands)}."
            )
        return tuple(src.bands[:3]), (src.bands[3] if len(src.bands) == 4 else None), []
    commons = [common_name(n) for n in src.band_names]
    nir = next((i + 1 for i, c in enumerate(commons) if c in ("nir", "nir08")), None)
    if all(c in commons for c in ("red", "green", "blue")):
        rgb = tuple(commons.index(c) + 1 for c in ("red", "green", "blue"))
        _check_colour(src, rgb)
        return rgb, nir, []
    if src.count < 3:
        raise BandSelectionError(
            f"{src.given}: has {src.count} band(s); land cover needs red, green and blue. "
            "Give an RGB or multispectral image (or name its bands with --bands red,green,blue)."
        )
    note = (
        f"bands 1-3 of {src.name} ({', '.join(src.band_names[:3])}) were taken as red, green, blue"
    )
    _check_colour(src, (1, 2, 3))
    return (1, 2, 3), None, [note]


def _check_colour(src: RasterSource, rgb: tuple[int, ...]) -> None:
    """Raise where the three bands are the same: the network would read a grey image as
    colour and only guess (a radar scene came out "no water")."""
    if grey_bands(src, list(rgb)):
        raise BandSelectionError(
            f"{src.given}: its bands {', '.join(map(str, rgb))} hold the same values (a grey "
            "image: radar or panchromatic stored as RGB); land cover needs colour (red, "
            "green and blue), so it is not measured. Give a colour image."
        )


def _decimated(src: RasterSource, region: Window, rgb: tuple[int, ...]) -> tuple[Any, Any]:
    """The region's ``rgb`` bands (or any others) read averaged down to at most 1024 px a
    side, and its valid pixels."""
    scale = max(1.0, max(region.width, region.height) / 1024)
    shape = (len(rgb), max(1, int(region.height / scale)), max(1, int(region.width / scale)))
    with rasterio.Env(GDAL_CACHEMAX=DECIMATED_READ_CACHE_MB), src.open() as ds:
        data = ds.read(list(rgb), window=region, out_shape=shape, resampling=Resampling.average)
        valid = (ds.read_masks(list(rgb), window=region, out_shape=shape) > 0).all(0)
    data = data.astype(np.float32)
    if src.nodata is not None and not np.isnan(src.nodata):
        valid &= ~(data == np.float32(src.nodata)).all(0)
    valid &= np.isfinite(data).all(0)
    return data, valid


def _stretch(data: Any, valid: Any, src: RasterSource) -> tuple[Any, Any, list[str]]:
    """Percentile stretch limits of non-8-bit images (None, None for uint8)."""
    if src.dtype == "uint8" or not valid.any():
        return None, None, []
    low, high = np.percentile(data[:, valid], [2, 98], axis=1)
    note = (
        f"{src.name} is {src.dtype}: stretched to 8 bits by each band's 2-98% range; the "
        "model was trained on 8-bit aerial RGB, so expect less accurate classes"
    )
    return low, high, [note]


def _region(src: RasterSource, bbox: Sequence[float] | str | None) -> Window:
    if bbox is None:
        return Window(0, 0, src.width, src.height)
    return bbox_window(src, parse_bbox(bbox) if isinstance(bbox, str) else check_bbox(bbox))


@dataclass(frozen=True)
class _Coarse:
    net: CoarseCoverNetwork
    stats: tuple[np.ndarray, ...]
    factor: int
    metres: float


def _coarse_metres(
    opts: LandCoverOptions, area: float, unit: str
) -> tuple[float | None, float | None]:
    """``(grid metres, content metres)`` of a pixel (None without ground units)."""
    grid = float(np.sqrt(area)) if unit == "m2" else None
    return grid, opts.content_metres or grid


def landcover(
    image: str | Path,
    outdir: str | Path | None = None,
    *,
    bands: Sequence[int | str] | None = None,
    bbox: Sequence[float] | str | None = None,
    nodata: float | None = None,
    options: LandCoverOptions | dict[str, Any] | None = None,
    network: LandCoverNetwork | None = None,
    report: bool = True,
    overwrite: bool = False,
) -> LandCoverResult:
    """Land cover of ``image``: building, road, water, vegetation, bare, unknown per pixel.

    With ``outdir``, writes ``landcover.tif`` (uint8 classes, colour table, class
    names in its tags, nodata 255), ``landcover.gpkg`` and ``landcover.geojson``
    (one polygon per patch of a class), ``landcover.json`` (areas) and
    ``report.html``; without, the result holds the class raster in memory.

    Args:
        image: a raster file, URL or STAC Item (as every terrasight command takes).
        outdir: output folder (created); None keeps the classes in memory.
        bands: red, green, blue (and near-infrared) band numbers or names.
        bbox: only this WGS84 box ``(west, south, east, north)`` (or ``"W,S,E,N"``).
        nodata: a nodata value overriding the file's.
        options: :class:`LandCoverOptions` or a dict of them.
        network: an opened network (:func:`load_landcover_network`); the shipped one if None.
        report: write ``report.html`` too.
        overwrite: replace earlier outputs in ``outdir``.

    Raises:
        RasterReadError, BandSelectionError, InvalidOptionError, OutputExistsError,
        ModelWeightsError: naming the file or value and what to do.

    Example:
        >>> r = landcover("scene.tif", "out")  # doctest: +SKIP
        >>> r.areas["building"], r.unit  # doctest: +SKIP
        (1520.5, 'm2')
    """
    from terrasight.tasks.landcover.outputs import ClassWriter, finish_outputs, prepare_outdir

    opts = (
        options if isinstance(options, LandCoverOptions) else LandCoverOptions.from_mapping(options)
    )
    if opts.overlap * 2 >= opts.tile_size:
        raise InvalidOptionError(
            f"overlap {opts.overlap} must be less than half the tile size {opts.tile_size}"
        )
    src = open_raster(image, bands=bands, nodata=nodata)
    rgb, nir, notes = plan_bands(src, bands)
    notes = [*src.warnings, *notes]
    region = _region(src, bbox)
    transform = src.transform * src.transform.translation(region.col_off, region.row_off)
    area, unit = pixel_area(src.crs, transform, shape=(int(region.height), int(region.width)))
    grid, metres = _coarse_metres(opts, area, unit)
    use_coarse = opts.coarse and applies(nir is not None, metres)
    if metres is not None and metres >= COARSE_METRES:
        notes.append(
            f"about {metres:.0f} m a pixel: single buildings are not visible, so 'building' "
            "is built-up land as the aerial network (taught at 0.3 m) sees it; bare or "
            "ploughed fields are often taken for it"
        )
    low = high = None
    coarse = None
    scaling = (opts.reflectance_scale, opts.reflectance_offset)
    with src.open() as ds:  # before the stretch: clouds must not set it
        clouds = lc_clouds.plan_image_clouds(src, ds, region, opts.cloud_mask, *scaling, notes)
    if src.dtype != "uint8" or use_coarse:  # the scene's statistics, read decimated once
        sample, sample_valid = _decimated(src, region, rgb)
        if clouds is not None:
            sample_valid &= ~clouds.on_sample(*_decimated(src, region, clouds.read), region)
        low, high, stretch_notes = _stretch(sample, sample_valid, src)
        notes += stretch_notes
        if use_coarse and metres is not None:
            stats = scene_percentiles(to_display_units(sample, low, high), sample_valid)
            net_c = load_coarse_cover(threads=opts.threads)
            coarse = _Coarse(net_c, stats, content_factor(grid, metres), metres)
    net = network or load_landcover_network(threads=opts.threads)
    threshold = net.threshold if opts.threshold is None else opts.threshold
    spectral = opts.spectral and nir is not None
    if coarse is not None:
        notes.append(
            f"content about {coarse.metres:.0f} m a pixel without near-infrared: water and "
            "vegetation come from the coarse-cover network (taught by Sentinel-2 infrared)"
        )
    counts = np.zeros(256, np.int64)
    disputed = vetoed = clouded = 0
    out = None if outdir is None else prepare_outdir(Path(outdir), overwrite)
    memory = (
        None
        if out is not None
        else np.full((int(region.height), int(region.width)), NODATA, np.uint8)
    )
    read = [*rgb, *([nir] if spectral and nir is not None else [])]
    use_mask = src.has_mask
    with rasterio.Env(GDAL_CACHEMAX=DECIMATED_READ_CACHE_MB), src.open() as ds:
        writer = (
            None if out is None else ClassWriter(out, src, region, transform, opts.content_metres)
        )
        try:
            for tile in TileGrid(region, opts.tile_size, opts.overlap):
                data, valid = read_window(ds, read, tile.read, src.nodata, use_mask)
                if clouds is not None:
                    cdata, cvalid = read_window(ds, clouds.read, tile.read, src.nodata, use_mask)
                    cloud = clouds.mask(cdata, cvalid & valid)
                    clouded += int(cloud[tile.core_slices].sum())
                    valid &= ~cloud
                display = to_display_units(data[:3], low, high)
                prob = classify_window(display, net)
                classes = classes_of(prob, threshold)
                if coarse is not None:
                    was_water = classes[tile.core_slices] == WATER
                    cprob = coarse_probabilities(display, coarse.stats, coarse.net, coarse.factor)
                    coarse_rules(classes, prob, cprob, COARSE_THRESHOLD)
                    disputed += int((was_water & (classes[tile.core_slices] != WATER)).sum())
                if spectral:
                    veto = spectral_rules(classes, data[0], data[1], data[3], prob, threshold)
                    vetoed += int((veto & valid)[tile.core_slices].sum())
                classes[~valid] = NODATA
                core = classes[tile.core_slices]
                counts += np.bincount(core.ravel(), minlength=256)
                rel = tile.relative_core(region)
                if writer is not None:
                    writer.write(core, rel)
                elif memory is not None:
                    memory[
                        rel.row_off : rel.row_off + rel.height,
                        rel.col_off : rel.col_off + rel.width,
                    ] = core
            veto_note = water_veto_note(vetoed, int(counts[:NODATA].sum()))
            if veto_note is not None:
                notes.append(veto_note)
            valid_px = int(counts[:NODATA].sum())
            caveat = water_caveat(disputed, valid_px)
            cloud_line = lc_clouds.cloud_note(clouded, valid_px)
            notes += [line for line in (caveat, cloud_line) if line is not None]
            if writer is not None:
                writer.caveats(lc_clouds.map_caveats(caveat, clouded, valid_px))
                if clouds is not None:
                    writer.cloud_share(lc_clouds.cloud_share(clouded, valid_px))
        finally:
            if writer is not None:
                writer.close()
    pixels = {name: int(counts[i]) for i, name in enumerate(CLASSES)}
    result = LandCoverResult(
        source=str(image),
        width=int(region.width),
        height=int(region.height),
        crs=crs_id(src.crs) if src.crs is not None else None,
        pixels=pixels,
        areas={name: n * area for name, n in pixels.items()},
        unit=unit,
        threshold=float(threshold),
        spectral=spectral,
        coarse=coarse is not None,
        notes=tuple(notes),
        classes=memory,
        clouds=lc_clouds.summary(
            clouds is not None,
            lc_clouds.selected_names(src),
            opts.cloud_mask,
            clouded,
            int(counts[:NODATA].sum()),
        ),
    )
    if out is None:
        return result
    return finish_outputs(result, out, src, region, (low, high), rgb, opts.min_pixels, report)
