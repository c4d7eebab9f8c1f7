"""Change detection over a whole scene, window by window, in bounded memory.

1. check every option (job and method) and the method's dependencies;
2. open the pair and put it on the before grid (``terrasight.io.open_pair``);
3. fit the method on a sample of windows spread over the scene;
4. apply it to every tile on ``workers`` threads, each tile read once, writing
   probability and mask tiles as they finish (journalled, so the job resumes);
5. label change objects tile by tile, drop the small ones, build polygons.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rasterio

from terrasight.errors import BandSelectionError, InvalidRasterError
from terrasight.io.cloud import (
    CloudConfig,
)
from terrasight.io.pair import RasterPair, open_pair
from terrasight.io.tiling import TileGrid
from terrasight.models.runtime import torch_threads
from terrasight.tasks.change.methods import nochange
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.objects.extract import extract_objects
from terrasight.tasks.change.pipeline import clouds as cloud_layer
from terrasight.tasks.change.pipeline import cluster, tiles
from terrasight.tasks.change.pipeline.checks import check_keywords
from terrasight.tasks.change.pipeline.choose import (
    AUTO,
    MethodChoice,
    choose_method,
    options_for_choice,
)
from terrasight.tasks.change.pipeline.job import in_temporary_folder, job_lock, open_job
from terrasight.tasks.change.pipeline.local_inputs import as_given, local_plan
from terrasight.tasks.change.pipeline.options import ChangeOptions
from terrasight.tasks.change.pipeline.plan import (
    Plan,
    build_result,
    job_signature,
    method_options_for,
    progress_callback,
)
from terrasight.tasks.change.pipeline.tiles import BLOCK, Progress
from terrasight.tasks.change.result import OUTPUT_NAMES, ChangeResult

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

log = logging.getLogger(__name__)

PART = ".part.tif"


def detect_changes(
    before: str | Path,
    after: str | Path,
    method: str = "auto",
    *,
    bands: Sequence[int | str] | None = None,
    outdir: str | Path | None = None,
    min_pixels: int = 20,
    cloud_mask: str = "auto",
    tile_size: int | None = None,
    workers: int = 2,
    progress: bool | Progress = False,
    overwrite: bool = False,
    cache: ModelCache | None = None,
    **options: Any,
) -> ChangeResult:
    """Find where two images of one place differ: mask, probability and change objects.

    The after image is put on the before image's grid (resampled over the
    overlap when the grids differ). Work happens window by window, so scenes far
    larger than memory are fine. Every option is checked before any file is
    read or written.

    With ``outdir``, the rasters go there and a job that was interrupted resumes
    where it stopped. Without it, they go into a new temporary folder that
    belongs to the result: it is removed when the result is garbage-collected
    (or when the interpreter exits). Call ``result.save(folder)`` to keep copies.

    Args:
        before, after: raster files of the two dates, or their URLs (``https://``,
            ``s3://``, ``gs://``, read with range requests) or GDAL ``/vsi...`` paths.
        method: a name from :func:`terrasight.tasks.change.methods.registry.list_methods`, or
            ``"auto"`` (the default): the method measured best for the input's kind
            (RGB, multispectral, Landsat-like, SAR, one optical band), chosen from the
            before image (bands, names, wavelengths, pixel size; ``sensor=`` overrides),
            reported in ``result.method_choice``.
        bands: band numbers (1-based) or names to compare; all bands by default.
        outdir: folder for the rasters (created; resumes a matching job there).
        min_pixels: change objects smaller than this are dropped from mask and list.
        cloud_mask: ``"auto"`` (when blue, green, red and nir are present), ``"on"``, ``"off"``.
        tile_size: window size in pixels (a multiple of 256); the method's default if None.
        workers: threads working on windows, and processes tracing change
            objects (at least 1; the objects do not depend on it).
        progress: ``True`` for a progress bar on stderr, or a callable taking
            (pixels just finished, total pixels).
        overwrite: replace results of a different job in ``outdir``.
        cache: a :class:`~terrasight.models.runtime.ModelCache` the caller keeps
            across calls, so a learned method builds its network once; without
            one, each job builds its own.
        **options: further :class:`ChangeOptions` fields (``sensor``, ``after_bands``,
            ``nodata``, ``bbox``, ``method_options``, ...).

    Returns:
        A :class:`ChangeResult`; call ``.save(outdir)`` for GeoJSON, summary and report.

    Raises:
        InvalidOptionError: an unknown keyword, or a job or method option out of range.
        UnknownMethodError: no installed method of that name.
        MissingDependencyError: the method needs a package that is not installed
            (the learned default needs ``pip install 'terrasight[learned]'``).

    Example:
        >>> import terrasight
        >>> result = terrasight.detect_changes("2019.tif", "2024.tif", method="cva")  # doctest: +SKIP
        >>> print(len(result.objects), result.changed_area, result.area_unit)  # doctest: +SKIP
        >>> result.save("changes/")  # doctest: +SKIP
        >>> terrasight.detect_changes(  # doctest: +SKIP
        ...     "2019.tif", "2024.tif", method="cva", method_options={"tolerance": 0})
        >>> terrasight.detect_changes(  # doctest: +SKIP
        ...     "https://host/2019.tif", "https://host/2024.tif", method="cva",
        ...     bbox=(15.10, 45.20, 15.25, 45.30))
    """
    check_keywords(options, _EXTRA_OPTIONS, method)
    opts = ChangeOptions(
        method=method,
        bands=_as_bands(bands),
        min_pixels=min_pixels,
        cloud_mask=cloud_mask,
        tile_size=tile_size,
        workers=workers,
        **options,
    )
    spec, method_options, pair, choice = _method_and_pair(before, after, opts)
    if len(pair.before.bands) < spec.min_bands:
        raise BandSelectionError(
            f"method {spec.name!r} needs at least {spec.min_bands} bands; "
            f"{len(pair.before.bands)} selected from {pair.before.given}."
        )
    plan = Plan(pair, spec, opts, method_options, cache, choice)
    if outdir is not None:
        folder = Path(outdir)
        with job_lock(folder), rasterio.Env(GDAL_CACHEMAX=opts.gdal_cache_mb, GDAL_NUM_THREADS=1):
            return _run(plan, folder, overwrite, progress_callback(progress, pair))
    return _run_in_temporary_folder(plan, overwrite, progress_callback(progress, pair))


def _method_and_pair(
    before: str | Path, after: str | Path, opts: ChangeOptions
) -> tuple[MethodSpec, MethodOptions, RasterPair, MethodChoice | None]:
    """The method, its options and the opened pair; ``auto`` chooses after opening it."""

    def opened() -> RasterPair:
        return open_pair(
            before,
            after,
            opts.bands,
            opts.after_bands,
            opts.nodata,
            opts.resampling,
            opts.bbox,
            match_detail=True,
        )

    if opts.method != AUTO:
        spec = get_method(opts.method)
        method_options = method_options_for(spec, opts.method_options)
        spec.check_requirements()
        return spec, method_options, opened(), None
    pair = opened()
    choice = choose_method(pair, opts.sensor)
    log.info("method auto: %s (%s)", choice.chosen, choice.reason)
    spec = get_method(choice.chosen)
    method_options = options_for_choice(spec, opts.method_options, choice)
    spec.check_requirements()
    return spec, method_options, pair, choice


def _as_bands(bands: Sequence[int | str] | None) -> Any:
    """Bands as a tuple; a plain string is passed on for the option check to refuse clearly."""
    return tuple(bands) if bands is not None and not isinstance(bands, str) else bands


_EXTRA_OPTIONS = tuple(
    f.name
    for f in fields(ChangeOptions)
    if f.name not in ("method", "bands", "min_pixels", "cloud_mask", "tile_size", "workers")
)
"""The :class:`ChangeOptions` fields that ``detect_changes`` takes as ``**options``."""


def _run_in_temporary_folder(
    plan: Plan, overwrite: bool, progress: Progress | None
) -> ChangeResult:
    """Run in a new temporary folder owned by the result (removed with it, or on failure)."""

    def run(folder: Path) -> ChangeResult:
        with rasterio.Env(GDAL_CACHEMAX=plan.opts.gdal_cache_mb, GDAL_NUM_THREADS=1):
            return _run(plan, folder, overwrite, progress)

    return in_temporary_folder("terrasight-", run)


def _run(given: Plan, folder: Path, overwrite: bool, progress: Progress | None) -> ChangeResult:
    # The journal names the inputs as given (URLs); the job reads their local copies, if any,
    # made once the folder is known to be this job's.
    job = open_job(folder, job_signature(given), list(OUTPUT_NAMES.values()), overwrite)
    plan = local_plan(given, folder, progress is not None)
    pair, spec, opts = plan.pair, plan.spec, plan.opts
    notes: list[str] = []
    clouds = _check_reflectance(pair, _cloud_config(pair, opts), opts, notes)
    layer = None
    if clouds is not None:  # one cloud mask per pair, whatever the method's windows
        layer = cloud_layer.build_cloud_layer(
            pair, clouds, folder, opts.workers, job.fitted is None, plan.cache
        )
    if job.fitted is None:
        job.fitted = _fit(pair, spec, opts, plan.method_options, layer)
        job.save()
    fitted = nochange.restore_checked(spec, job.fitted, plan.cache)
    size = opts.tile_size or _tile_size(spec.tile_size)
    grid = TileGrid(pair.region, size, spec.overlap)
    paths = {k: folder / (OUTPUT_NAMES[k] + PART) for k in ("mask", "probability")}
    final = {k: folder / OUTPUT_NAMES[k] for k in ("mask", "probability")}
    if not job.complete:
        tiles.create_outputs(pair, paths, fresh=not job.done_tiles())
        with _one_torch_thread(), _window_mapper(plan, job.fitted, layer) as mapper:
            tiles.process_tiles(
                pair, grid, fitted, layer, job, paths, opts.workers, progress, mapper
            )
    counts = tiles.totals(job.done_tiles().values())
    objects, changed = extract_objects(
        paths["mask"] if not job.complete else final["mask"],
        paths["probability"] if not job.complete else final["probability"],
        opts.min_pixels,
        pair.before.crs.to_wkt() if pair.before.crs else None,
        pair.transform,
        workers=opts.workers,
    )
    if not job.complete:
        tiles.build_overviews(paths["mask"])
        for k in paths:
            paths[k].replace(final[k])
        job.complete = True
        job.save()
    if counts["cloud"]:
        notes.append(f"{counts['cloud']} pixels under cloud or cloud shadow were excluded.")
    if layer is not None and (kept := layer.kept_count()):
        notes.append(
            f"{kept} pixels the cloud model flagged were compared anyway: they look like "
            "ground (a sharp-edged bright or dark area, new water, the same surface in both "
            "dates), not like a cloud or its shadow."
        )
    notes.extend(nochange.warnings_of(job.fitted))
    issues = nochange.issues_of(job.fitted) + cloud_layer.quality_issues(counts, pair.shape)
    notes.extend(f"unreliable result: {issue}." for issue in issues)
    check = cloud_layer.cloud_check(pair.band_names, opts.cloud_mask, layer is not None)
    result = build_result(plan, job.fitted, final, objects, changed, counts, notes, issues, check)
    return as_given(result, given, plan)


@contextlib.contextmanager
def _window_mapper(
    plan: Plan, params: dict[str, Any], layer: cloud_layer.CloudLayer | None
) -> Iterator[tiles.Mapper | None]:
    """Where windows run: ``None`` for this process's threads, else on Dask workers."""
    opts = plan.opts
    if opts.scheduler is None:
        yield None
        return
    with cluster.dask_client(opts.scheduler, opts.workers) as client:
        limit = 2 * max(1, len(client.scheduler_info().get("workers", {})))

        def on_dask(work: Any, todo: list[Any]) -> Iterator[tiles.TileResult]:
            return cluster.map_on_dask(
                client, plan.pair, plan.spec.name, params, layer, todo, limit
            )

        yield on_dask


def _one_torch_thread() -> contextlib.AbstractContextManager[None]:
    """Windows run on one torch thread each when a method uses PyTorch (restored afterwards).

    A method that uses PyTorch imports it when it is fitted or restored, so
    torch is loaded by now; jobs of other methods do not import it.
    """
    return torch_threads(1) if "torch" in sys.modules else contextlib.nullcontext()


def _tile_size(size: int) -> int:
    if size < BLOCK:
        return BLOCK
    return int(round(size / BLOCK)) * BLOCK


def _cloud_config(pair: RasterPair, opts: ChangeOptions) -> CloudConfig | None:
    # Reflectance factors are found per date by _check_reflectance.
    return cloud_layer.cloud_config(pair.before, pair.band_names, opts.cloud_mask)


def _check_reflectance(
    pair: RasterPair, clouds: CloudConfig | None, opts: ChangeOptions, notes: list[str]
) -> cloud_layer.CloudPlan | None:
    """Each date's reflectance factors; masks off (auto) or refused (on) when they do not fit."""
    if clouds is None:
        return None
    return cloud_layer.plan_clouds(
        pair, clouds, opts.cloud_mask, opts.reflectance_scale, opts.reflectance_offset, notes
    )


def _fit(
    pair: RasterPair,
    spec: MethodSpec,
    opts: ChangeOptions,
    method_options: MethodOptions,
    clouds: cloud_layer.CloudLayer | None,
) -> dict[str, Any]:
    samples: list[Sample] = []
    vb_total, va_total = 0, 0
    grid = TileGrid(pair.region, opts.sample_size)
    # A quarter of a small scene is plenty; large scenes get sample_tiles windows.
    first = min(opts.sample_tiles, max(4, len(grid) // 4))
    with pair.readers() as reader:
        for count in (first, opts.sample_tiles * 16):
            samples, vb_total, va_total = [], 0, 0
            for tile in grid.sample(count):
                b, a, valid, _, vb, va = tiles.read_tile(reader, tile.read, clouds)
                vb_total, va_total = vb_total + int(vb.sum()), va_total + int(va.sum())
                if valid.any():
                    samples.append((b, a, valid))
            if sum(int(s[2].sum()) for s in samples) >= 64 or count >= len(grid):
                break
    if sum(int(s[2].sum()) for s in samples) < 2:
        raise InvalidRasterError(_no_valid_message(pair, vb_total, va_total))
    return nochange.fit_checked(spec, samples, pair.band_names, method_options)


def _no_valid_message(pair: RasterPair, vb: int, va: int) -> str:
    if vb == 0:
        culprit = f"the before image {pair.before.given} (nodata={pair.before.nodata})"
    elif va == 0:
        culprit = f"the after image {pair.after.given} (nodata={pair.after.nodata})"
    else:
        culprit = "the two images together (their valid areas do not meet, or clouds cover them)"
    return (
        f"no valid pixels to compare: {culprit} has only nodata over the overlap. "
        "Check the nodata value (--nodata) and that the images cover the same area."
    )
