"""Cloud masks of a change job: per-date reflectance factors, one fixed grid, one raster.

1. :func:`plan_clouds` finds each date's reflectance factors (given, read from
   the file, or the default for its data type when sample pixels look like
   reflectance under it) and returns a :class:`CloudPlan`, or ``None`` with a
   note saying why masks were skipped and what to give instead;
2. :func:`build_cloud_layer` classifies both dates on a fixed grid of windows
   (:data:`CORE` model pixels plus :data:`CONTEXT` of context on every side,
   whatever the change method's own windows), applies
   :mod:`terrasight.tasks.change.pipeline.cloud_rule`, and writes one uint8 code per
   pixel into :data:`CLOUD_FILE` in the job folder;
3. the change windows look their pixels up with :meth:`CloudLayer.masked`.

So the cloud mask of a pair is the same for every method, and a resumed job
reuses the raster.
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from terrasight.errors import BandSelectionError
from terrasight.io.cloud import (
    CloudConfig,
    CloudMaskUnavailableError,
    CloudModel,
    cloud_classes,
    cloud_masking_available,
    cloud_support,
    load_cloud_model,
)
from terrasight.io.pair import RasterPair
from terrasight.io.raster import RasterSource
from terrasight.io.reflectance import (
    Product,
    Scaling,
    check_scaling,
    product_of,
    recognise_digital_numbers,
    scaling_from_metadata,
    uniform,
)
from terrasight.io.remote import gdal_path, remote_env
from terrasight.io.tiling import Tile, TileGrid
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline.tiles import BLOCK, bounded_map

log = logging.getLogger(__name__)

CORE = 384
"""Core size of a cloud window, in model pixels (about 30 m): 448 with context, 2 x 2 model tiles."""
CONTEXT = 32
"""Context on every side of a cloud window, in model pixels (about 1 km)."""
SINGLE = 640
"""Scenes at most this many model pixels on each side are classified as one window."""
CLOUD_FILE = ".terrasight-clouds.tif"
"""The per-pixel cloud codes of a job (bits of :mod:`terrasight.tasks.change.pipeline.cloud_rule`)."""
UNRELIABLE_FRACTION = 0.5
"""A result with no answer (cloud, shadow or nodata) on more than this share of its grid is
flagged unreliable."""
_SAMPLE_WINDOWS = 9
_SAMPLE_SIZE = 256
_SAMPLE_PIXELS = 200_000


def cloud_config(
    source: RasterSource, band_names: tuple[str, ...], mode: str
) -> CloudConfig | None:
    """The cloud model's configuration for these bands of ``source``, or None: masks off,
    bands that cannot be masked (``mode="auto"``), or the model not installed (logged).

    Raises:
        BandSelectionError: ``mode="on"`` and the bands are not blue, green, red and nir.
        CloudMaskUnavailableError: ``mode="on"`` and ukis-csmask or onnxruntime is missing.
    """
    if mode == "off":
        return None
    config = cloud_support(band_names, source.dtype, resolution=ground_resolution(source))
    if config is None and mode == "on":
        raise BandSelectionError(
            f"cloud masks need blue, green, red and nir bands in reflectance units; the selected "
            f"bands of {source.given} are {list(band_names)}. Use cloud_mask='off' "
            "(--cloud-mask off)."
        )
    if config is not None and not cloud_masking_available():
        if mode == "on":
            raise CloudMaskUnavailableError(
                "cloud masks need ukis-csmask and onnxruntime: pip install ukis-csmask "
                "onnxruntime, or turn them off with cloud_mask='off' (--cloud-mask off)."
            )
        log.warning("cloud masks skipped: ukis-csmask or onnxruntime is not installed")
        return None
    return config


NEEDS_BANDS = "not checked (needs blue, green, red and NIR)"
"""What cloud statistics say where the bands cannot be masked (one band, RGB...)."""


def cloud_check(band_names: tuple[str, ...], mode: str, masked: bool) -> str:
    """``"checked"`` where a cloud mask ran, else ``"not checked (why)"``: never a cloud
    share of 0 for images nobody looked at for clouds.

    Example:
        >>> cloud_check(("ndvi",), "auto", False)
        'not checked (needs blue, green, red and NIR)'
    """
    if masked:
        return "checked"
    if mode == "off":
        return "not checked (cloud masks were turned off)"
    if not {"blue", "green", "red", "nir"} <= set(band_names):
        return NEEDS_BANDS
    return "not checked (the cloud model is missing, or the bands do not look like reflectance)"


EARTH_RADIUS = 6_371_008.8
"""Mean Earth radius in metres (degrees to metres for geographic grids)."""


def ground_resolution(source: RasterSource) -> float | None:
    """Pixel size in metres: from a projected CRS's units, or from degrees at the scene's
    latitude for a geographic CRS (EPSG:4326); None without a CRS.

    The cloud model was trained at 30 m: a 10 m image in degrees fed to it unaveraged
    shows it buildings and fields three times too large, and bright roofs and dark
    fields are flagged as cloud and shadow.

    Example:
        >>> from types import SimpleNamespace
        >>> from rasterio.crs import CRS
        >>> src = SimpleNamespace(crs=CRS.from_epsg(4326), res=(9e-5, 9e-5),
        ...                       bounds=(2.2, 48.6, 2.3, 48.7))
        >>> round(ground_resolution(src), 1)
        8.1
    """
    crs = source.crs
    if crs is None:
        return None
    if crs.is_projected:
        return float(source.res[0] * (crs.linear_units_factor[1] or 1.0))
    if crs.is_geographic:
        west, south, east, north = source.bounds
        lat = np.radians(np.clip((south + north) / 2, -89.0, 89.0))
        per_degree = np.pi / 180 * EARTH_RADIUS
        dx = source.res[0] * per_degree * np.cos(lat)
        dy = source.res[1] * per_degree
        return float(np.sqrt(dx * dy))
    return None


@dataclass(frozen=True)
class CloudPlan:
    """How to mask each date: its cloud model configuration (bands, factors, level)."""

    before: CloudConfig
    after: CloudConfig
    sources: tuple[str, str] = ("", "")

    @property
    def downsample(self) -> int:
        return self.before.downsample

    def grid(self, region: Window) -> TileGrid:
        """The grid of cloud windows over ``region``: it depends on the pair only.

        One window for a scene of at most :data:`SINGLE` model pixels a side
        (the model sees it whole), else :data:`CORE` + :data:`CONTEXT` windows.
        """
        f = self.downsample
        side = max(int(region.width), int(region.height))
        if side <= SINGLE * f:
            return TileGrid(region, side, 0)
        return TileGrid(region, CORE * f, CONTEXT * f)


def plan_clouds(
    pair: RasterPair,
    base: CloudConfig,
    mode: str,
    scale: float | None,
    offset: float,
    notes: list[str],
) -> CloudPlan | None:
    """Each date's reflectance factors for ``base``'s bands, or ``None`` (with a note) to skip.

    Args:
        pair: the opened pair.
        base: the configuration :func:`terrasight.io.cloud.cloud_support` chose
            (model bands, block-averaging, buffer); its factors are replaced.
        mode: ``"auto"`` skips masks with a note when a date's pixels do not look
            like reflectance; ``"on"`` raises instead.
        scale, offset: factors the user gave (``scale=None`` and ``offset=0``: none).
        notes: warnings for the result; appended to.

    Raises:
        BandSelectionError: with ``mode="on"``, when a date does not look like reflectance.
    """
    pixels = _sample_pixels(pair, base)
    configs, sources = [], []
    for source, values in zip((pair.before, pair.after), pixels, strict=True):
        found = date_config(source, values, base, mode, scale, offset, notes)
        if found is None:
            return None
        configs.append(found[0])
        sources.append(found[1])
    return CloudPlan(configs[0], configs[1], (sources[0], sources[1]))


def date_config(
    source: RasterSource,
    pixels: np.ndarray,
    base: CloudConfig,
    mode: str,
    scale: float | None,
    offset: float,
    notes: list[str],
) -> tuple[CloudConfig, str] | None:
    """One image's cloud configuration with its reflectance factors, and where they came
    from; ``None`` (with a note) when its ``pixels`` (valid model-band samples, ``(bands,
    n)``) do not look like reflectance under them. Arguments as for :func:`plan_clouds`.

    Raises:
        BandSelectionError: with ``mode="on"``, when the image does not look like reflectance.

    Example:
        >>> date_config(src, sample, base, "auto", None, 0.0, notes)  # doctest: +SKIP
        (CloudConfig(band_indexes=(0, 1, 2, 3), ...), 'a.tif: x 0.0001 (the default ...)')
    """
    scaling, problem = _date_scaling(source, pixels, base, scale, offset)
    if scaling is None:
        if mode == "on":
            raise BandSelectionError(problem)
        notes.append(problem)
        return None
    model = scaling.pick(base.band_indexes)
    config = dataclasses.replace(
        base,
        scale=_one_or_all(model.scale),
        offset=_one_or_all(model.offset),
        product_level=scaling.product_level or base.product_level,
    )
    return config, f"{source.given_name}: {scaling.describe()} ({scaling.source})"


def _one_or_all(values: tuple[float, ...]) -> float | tuple[float, ...]:
    return values[0] if len(set(values)) == 1 else values


def _date_scaling(
    source: RasterSource, pixels: np.ndarray, base: CloudConfig, scale: float | None, offset: float
) -> tuple[Scaling | None, str]:
    """One date's factors and, when they fail the check, the message saying so."""
    n = len(source.bands)
    strict = False
    if scale is not None or offset != 0.0:
        default = 1.0 if source.dtype.startswith("float") else 1e-4
        given = uniform(scale if scale is not None else default, offset, n, "as given")
        scaling = given
    elif (meta := _metadata_scaling(source)) is not None:
        scaling = meta
    elif source.dtype.startswith("float"):
        scaling, strict = uniform(1.0, 0.0, n, "float data taken as reflectance"), True
    else:
        scaling, strict = uniform(1e-4, 0.0, n, "the default for integer data"), True
    check = check_scaling(pixels, scaling.pick(base.band_indexes), strict)
    if check.ok:
        return scaling, ""
    hint = recognise_digital_numbers(pixels, source.dtype, _product(source)) if strict else ""
    hint = hint or (
        "give the product's scale and offset (--reflectance-scale, --reflectance-offset)"
    )
    return None, (
        f"the bands of {source.given_name} do not look like reflectance at "
        f"{scaling.describe()} ({scaling.source}): {check.reason}, so cloud masks were "
        f"skipped; {hint}."
    )


def _sample_pixels(pair: RasterPair, base: CloudConfig) -> tuple[np.ndarray, np.ndarray]:
    """Valid pixels of the model bands ``(bands, n)`` of each date, from windows over the scene."""
    grid = TileGrid(pair.region, _SAMPLE_SIZE)
    found: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    idx = list(base.band_indexes)
    with pair.readers() as reader:
        for tile in grid.sample(_SAMPLE_WINDOWS):
            b, a, vb, va = reader.read_dates(tile.read)
            found[0].append(b[idx][:, vb])
            found[1].append(a[idx][:, va])
    out = []
    for parts in found:
        values = np.concatenate(parts, axis=1)
        step = max(1, values.shape[1] // _SAMPLE_PIXELS)
        out.append(values[:, ::step])
    return out[0], out[1]


@dataclass(frozen=True)
class CloudLayer:
    """The job's cloud codes on disk, looked up by window of the before grid."""

    path: Path
    region: Window

    def codes(self, window: Window) -> np.ndarray:
        """uint8 codes of ``window`` (before-grid pixels inside the region)."""
        local = Window(
            int(window.col_off - self.region.col_off),
            int(window.row_off - self.region.row_off),
            int(window.width),
            int(window.height),
        )
        with rasterio.open(self.path) as ds:
            return ds.read(1, window=local)

    def masked(self, window: Window) -> np.ndarray:
        """bool: True where ``window``'s pixels are excluded as cloud or cloud shadow."""
        return (self.codes(window) & cloud_rule.MASKED) > 0

    def kept_count(self) -> int:
        """Pixels the model flagged in some date that were kept in the comparison."""
        kept = cloud_rule.BEFORE_KEPT | cloud_rule.AFTER_KEPT
        total = 0
        with rasterio.open(self.path) as ds:
            for _, window in ds.block_windows(1):
                codes = ds.read(1, window=window)
                total += int((((codes & kept) > 0) & ((codes & cloud_rule.MASKED) == 0)).sum())
        return total


def build_cloud_layer(
    pair: RasterPair,
    plan: CloudPlan,
    folder: Path,
    workers: int,
    fresh: bool,
    cache: ModelCache | None = None,
) -> CloudLayer:
    """Classify both dates on :meth:`CloudPlan.grid` and write :data:`CLOUD_FILE` in ``folder``.

    An existing file is reused unless ``fresh``: a resumed job keeps its masks.
    The cloud models come from ``cache`` (loaded there once), or are loaded for
    this call when it is None.
    """

    path = folder / CLOUD_FILE
    layer = CloudLayer(path, pair.region)
    if path.exists() and not fresh:
        return layer
    part = folder / (CLOUD_FILE + ".part")
    h, w = pair.shape
    profile = dict(driver="GTiff", width=w, height=h, count=1, dtype="uint8", tiled=True)
    profile.update(blockxsize=BLOCK, blockysize=BLOCK, compress="deflate")
    if pair.before.crs is not None:
        profile.update(crs=pair.before.crs, transform=pair.transform)

    cache = cache if cache is not None else ModelCache()  # both dates may share a file
    sessions = (_cloud_model(cache, plan.before), _cloud_model(cache, plan.after))

    def work(tile: Tile) -> tuple[Tile, np.ndarray]:
        with pair.readers() as reader:
            b, a, vb, va = reader.read_dates(tile.read)
        rs, cs = tile.core_slices
        return tile, window_codes(b, a, vb, va, plan, sessions)[rs, cs]

    with rasterio.open(part, "w", **profile) as ds:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            grid = plan.grid(pair.region)
            for tile, codes in bounded_map(pool, work, list(grid), 2 * max(1, workers)):
                ds.write(codes, 1, window=tile.relative_core(pair.region))
    part.replace(path)
    return layer


def _cloud_model(cache: ModelCache, config: CloudConfig) -> CloudModel:
    """``config``'s cloud model, loaded once per model file into ``cache``."""
    return cache.get(("cloud-model", config.model_file), lambda: load_cloud_model(config))


def window_codes(
    before: np.ndarray,
    after: np.ndarray,
    valid_before: np.ndarray,
    valid_after: np.ndarray,
    plan: CloudPlan,
    models: tuple[CloudModel, CloudModel] | None = None,
) -> np.ndarray:
    """Cloud codes (:mod:`~terrasight.tasks.change.pipeline.cloud_rule` bits) of one window of both dates.

    ``models``: the before and after dates' loaded cloud models (loaded per call when None).
    """
    classes = []
    refl = []
    sessions = models if models is not None else (None, None)
    for data, valid, config, model in (
        (before, valid_before, plan.before, sessions[0]),
        (after, valid_after, plan.after, sessions[1]),
    ):
        found = cloud_classes(data, valid, config, model=model)
        classes.append(np.where(valid, found, 0).astype(np.uint8))
        x = data[list(config.band_indexes)].astype(np.float32)
        x *= np.asarray(config.scale, np.float32).reshape(-1, 1, 1)
        x += np.asarray(config.offset, np.float32).reshape(-1, 1, 1)
        refl.append(x)
    rb, ra = refl
    # Where one date has no data, compare with the other date itself (no change there).
    rb[:, ~valid_before] = ra[:, ~valid_before]
    ra[:, ~valid_after] = rb[:, ~valid_after]
    f = plan.downsample
    return cloud_rule.exclusion_codes(
        rb,
        ra,
        classes[0],
        classes[1],
        buffer=plan.before.buffer * f,
        min_object=cloud_rule.MIN_OBJECT * f * f,
    )


def quality_issues(counts: dict[str, int], shape: tuple[int, int]) -> tuple[str, ...]:
    """Why a result cannot be trusted as a whole: ``()`` or one sentence per reason.

    Example:
        >>> quality_issues({"valid": 30, "cloud": 60}, (10, 10))[0][:42]
        'no answer for 70% of the output grid (60% '
    """
    total = shape[0] * shape[1]
    if total == 0:
        return ()
    missing = total - counts.get("valid", 0)
    if missing <= UNRELIABLE_FRACTION * total:
        return ()
    cloud = counts.get("cloud", 0)
    nodata = missing - cloud
    return (
        f"no answer for {100 * missing / total:.0f}% of the output grid "
        f"({100 * cloud / total:.0f}% cloud or cloud shadow, {100 * nodata / total:.0f}% nodata): "
        "objects and areas describe only the rest, and a change there may be missed",
    )


def _product(source: RasterSource) -> Product:
    """What the file's tags and name say of its product (mission, date, baseline)."""
    try:
        with remote_env(source.path), rasterio.open(gdal_path(source.path)) as ds:
            tags = {k.upper(): v for k, v in ds.tags().items()}
    except rasterio.errors.RasterioIOError:
        tags = {}
    return product_of(str(source.path), tags)


def _metadata_scaling(source: RasterSource) -> Scaling | None:
    """The reflectance factors in a file's metadata (read with its network settings)."""
    with remote_env(source.path):
        return scaling_from_metadata(gdal_path(source.path), source.bands)
