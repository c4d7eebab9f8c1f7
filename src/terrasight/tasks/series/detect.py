"""Dates of change over a series of images, window by window, in bounded memory.

1. date and sort the images, put them on the first image's grid
   (:mod:`~terrasight.tasks.series.stack`); dates without data are skipped;
2. mask clouds per date and fit the change method on every pair of dates
   (:mod:`~terrasight.tasks.series.fit`);
3. for every window, read each date once, compare the pairs and apply the
   dating rule (:mod:`~terrasight.tasks.series.dating`), writing the change
   date, the interval and per-date counts (journalled, so a job resumes);
4. trace change objects per date and write ``series.json``, the GeoJSON and
   the report (:mod:`~terrasight.tasks.series.outputs`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import rasterio

from terrasight.io.tiling import Tile, TileGrid
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.methods import nochange
from terrasight.tasks.change.methods.base import FittedChange, MethodOptions, MethodSpec
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.pipeline import clouds as cloud_layer
from terrasight.tasks.change.pipeline.choose import AUTO, choose_method
from terrasight.tasks.change.pipeline.cluster import dask_client
from terrasight.tasks.change.pipeline.job import (
    Job,
    file_identity,
    in_temporary_folder,
    job_lock,
    open_job,
)
from terrasight.tasks.change.pipeline.plan import method_options_for
from terrasight.tasks.change.pipeline.tiles import bounded_map, sync_file
from terrasight.tasks.series import cluster, outputs
from terrasight.tasks.series.cluster import usable
from terrasight.tasks.series.dates import parse_dates
from terrasight.tasks.series.fit import DateClouds, build_clouds, fit_pairs
from terrasight.tasks.series.local_inputs import local_stack
from terrasight.tasks.series.options import SeriesOptions, check_names
from terrasight.tasks.series.result import (
    DATE_TIF,
    INTERVAL_TIF,
    OBJECTS_GEOJSON,
    SERIES_JSON,
    SeriesResult,
    load_series,
)
from terrasight.tasks.series.stack import SeriesStack, empty_dates, open_stack
from terrasight.tasks.series.windows import WindowResult, date_window

PART = ".part.tif"
COMMIT_TILES = 8
"""Windows written between two journal commits."""


@dataclass(frozen=True)
class _Plan:
    stack: SeriesStack
    spec: MethodSpec
    opts: SeriesOptions
    method_options: MethodOptions
    cache: ModelCache


def detect_series(
    images: Sequence[str | Path],
    dates: Sequence[str | dt.date] | str | None = None,
    method: str = "cva",
    *,
    outdir: str | Path | None = None,
    min_pixels: int = 20,
    cloud_mask: str = "auto",
    tile_size: int | None = None,
    workers: int = 2,
    confirm: int = 1,
    overwrite: bool = False,
    report: bool = True,
    cache: ModelCache | None = None,
    progress: bool = False,
    **options: Any,
) -> SeriesResult:
    """When did each place change? The change date of every pixel over three or more images.

    Images are sorted by date. Each pixel's change date is the first date from
    which it differs from its earlier state at every later clear observation
    (the rule in :mod:`terrasight.tasks.series.dating`); pairs of dates are
    compared with a registered change method (``cva`` by default, thresholded at
    each pair's noise floor: :data:`METHOD_DEFAULTS`). Clouded
    pixels of a date are no observation there. Work is done window by window,
    holding one window of each date.

    With ``outdir`` the outputs go there (``change_date.tif``,
    ``change_interval.tif``, ``series_objects.geojson``, ``series.json``,
    ``report.html``) and an interrupted job resumes; a finished one with the
    same inputs is read back, not run again. Without it they go into a
    temporary folder removed with the result. With ``bbox``, each remote date's
    box is copied once into the folder and the job reads the copies
    (:mod:`~terrasight.tasks.series.local_inputs`).

    Args:
        images: three or more raster files or URLs of one place, in any order.
        dates: one date per image (``"2019-06-01"``, :class:`datetime.date`, or one
            comma-separated string); read from each file's tags or name when None.
        method: a change method name (``cva``, ``irmad``, ``learned``...), or ``"auto"``:
            the method ``detect_changes`` would choose for the first two dates (chosen in
            the job, on the local copies of remote dates over ``bbox``).
        outdir: the job folder (created).
        min_pixels: change objects smaller than this are dropped.
        cloud_mask: ``"auto"``, ``"on"`` or ``"off"``.
        tile_size: window size in pixels (a multiple of 256); the method's default if None.
        workers: threads working on windows (with ``scheduler="local"``: worker processes).
        confirm: clear dates from the change date on that must show the change.
        overwrite: replace the results of a different job in ``outdir``.
        report: write ``report.html``.
        cache: a model cache kept by the caller (a learned method's network is built once).
        progress: a bar on stderr for each copy of a remote date's box (on a terminal).
        **options: further :class:`~terrasight.tasks.series.options.SeriesOptions`
            fields (``bands``, ``nodata``, ``bbox``, ``method_options``, ``scheduler``:
            ``"local"`` or ``"tcp://HOST:PORT"`` runs the windows on Dask workers)...

    Returns:
        A :class:`~terrasight.tasks.series.result.SeriesResult`.

    Raises:
        SeriesInputError: fewer than three images.
        SeriesDateError: an image without a date, or two with the same date.
        PairAlignmentError: an image that does not overlap the first one.
        InvalidOptionError, UnknownMethodError: a bad option or method.

    Example:
        >>> import terrasight
        >>> result = terrasight.detect_series(  # doctest: +SKIP
        ...     ["s2_2019-06-01.tif", "s2_2020-06-01.tif", "s2_2021-06-01.tif"], outdir="series/")
        >>> [(o.id, o.first_seen, o.last_unchanged) for o in result.objects]  # doctest: +SKIP
        [(1, '2020-06-01', '2019-06-01')]
    """
    check_names(options, ())
    opts = SeriesOptions(
        method=method, min_pixels=min_pixels, cloud_mask=cloud_mask, tile_size=tile_size,
        workers=workers, confirm=confirm, **options,
    )  # fmt: skip
    stack = open_stack(
        images, parse_dates(dates), opts.bands, opts.nodata, opts.resampling, opts.bbox
    )
    cache = cache or ModelCache()
    # A named method is checked now; "auto" chooses in the job, from the local copies of
    # the dates when it makes them (the choice reads a few windows of the first two).
    plan = None if opts.method == AUTO else _plan(stack, opts, cache)
    given = _Given(stack, opts, cache, plan)
    env = rasterio.Env(GDAL_CACHEMAX=opts.gdal_cache_mb, GDAL_NUM_THREADS=1)
    if outdir is not None:
        folder = Path(outdir)
        with job_lock(folder), env:
            return _run(given, folder, overwrite, report, progress)

    def run(folder: Path) -> SeriesResult:
        with env:
            return _run(given, folder, overwrite, report, progress)

    return in_temporary_folder("terrasight-series-", run)


METHOD_DEFAULTS: dict[str, dict[str, Any]] = {"cva": {"otsu": False, "standardise": "matched"}}
"""Method options a series uses unless given: CVA thresholds each pair at its noise floor
alone, since the dating rule confirms a change at every later date (Otsu's cut, which
rises with the amount of change in a pair, missed a fifth of a planted clearing), and
matches each pair's later date to the earlier one pixel by pixel (a haze or the changes
on one date shifted its mean and spread, which dated bright unchanged pixels: a field of
cumulus, about 1 % of the pixels of a Landsat series)."""


@dataclass(frozen=True)
class _Given:
    """The job as asked: the dates as given (URLs), its options, and its plan unless the
    method is ``"auto"`` (then planned once the dates are local)."""

    stack: SeriesStack
    opts: SeriesOptions
    cache: ModelCache
    plan: _Plan | None


def _plan(stack: SeriesStack, opts: SeriesOptions, cache: ModelCache) -> _Plan:
    """The method (chosen on ``stack`` for ``"auto"``), its checked options and requirements."""
    spec, given = _method(opts, stack)
    method_options = method_options_for(spec, _series_defaults(spec.name, given))
    spec.check_requirements()
    return _Plan(stack, spec, opts, method_options, cache)


def _method(opts: SeriesOptions, stack: SeriesStack) -> tuple[MethodSpec, Any]:
    """The method and its given options; ``"auto"`` chooses as a pair of the first two dates would."""
    if opts.method != AUTO:
        return get_method(opts.method), opts.method_options
    choice = choose_method(stack.pairs[0])
    given = opts.method_options
    if not isinstance(given, MethodOptions):
        given = {**choice.options, **dict(given)}
    return get_method(choice.chosen), given


def _series_defaults(method: str, given: Any) -> Any:
    if isinstance(given, MethodOptions):
        return given
    return {**METHOD_DEFAULTS.get(method, {}), **dict(given)}


def _signature(given: _Given) -> dict[str, Any]:
    """The job's identity; with ``"auto"``, the method as asked (the choice follows from
    the images, which the signature identifies)."""
    stack, plan = given.stack, given.plan
    options = given.opts.method_options
    signature = {
        "images": [file_identity(stack.source(k).path) for k in range(len(stack))],
        "dates": [d.isoformat() for d in stack.dates],
        "bands": list(stack.first.bands),
        "method": plan.spec.name if plan else AUTO,
        "options": given.opts.signature(),
        "method_options": plan.method_options.to_dict()
        if plan
        else (options.to_dict() if isinstance(options, MethodOptions) else dict(options)),
    }
    return json.loads(json.dumps(signature))


def _run(
    given: _Given, folder: Path, overwrite: bool, report: bool, progress: bool = False
) -> SeriesResult:
    # The journal names the dates as given (URLs); the job reads their local copies, if
    # any, made once the folder is known to be this job's.
    names = [DATE_TIF, INTERVAL_TIF, SERIES_JSON, OBJECTS_GEOJSON]
    job = open_job(folder, _signature(given), names, overwrite)
    if job.complete and (folder / SERIES_JSON).is_file():
        return load_series(folder)
    local = local_stack(given.stack, given.opts, folder, progress)
    if given.plan is None:
        plan = _plan(local, given.opts, given.cache)
    else:
        plan = replace(given.plan, stack=local)
    stack, opts = plan.stack, plan.opts
    notes: list[str] = []
    fresh = job.fitted is None
    empty = empty_dates(stack) if fresh else list(job.fitted["empty"])  # type: ignore[index]
    clouds = build_clouds(stack, opts, folder, empty, fresh, plan.cache, notes)
    if job.fitted is None:
        pairs = fit_pairs(stack, plan.spec, plan.method_options, clouds, opts, empty)
        job.fitted = {"empty": empty, "pairs": pairs}
        job.save()
    fitted = _restore(plan, job.fitted["pairs"])
    notes.extend(_pair_notes(plan, job.fitted["pairs"]))
    parts = (folder / (DATE_TIF + PART), folder / (INTERVAL_TIF + PART))
    size = opts.tile_size or max(256, round(plan.spec.tile_size / 256) * 256)
    grid = TileGrid(stack.region, size, plan.spec.overlap)
    done = job.done_tiles()
    if not done or not all(p.exists() for p in parts):
        outputs.create_parts(stack, parts)
        job.tiles_path.unlink(missing_ok=True)
        done = {}
    with _window_mapper(plan, job.fitted["pairs"], clouds) as mapper:
        _process(plan, grid, fitted, clouds, job, parts, done, mapper)
    records = list(job.done_tiles().values())
    checks = tuple(
        cloud_layer.cloud_check(stack.band_names, opts.cloud_mask, layer is not None)
        for layer in clouds.layers
    )
    result = outputs.finish(
        stack, plan.spec.name, opts, folder, parts, records, empty, notes, checks, given.stack
    )
    if report:
        outputs.write_report(result, stack)
    job.complete = True
    job.save()
    for path in parts:
        path.unlink(missing_ok=True)
    return result


def _restore(plan: _Plan, pairs: dict[str, Any]) -> dict[str, FittedChange | None]:
    out: dict[str, FittedChange | None] = {}
    for key, params in pairs.items():
        ok = usable(params)
        out[key] = nochange.restore_checked(plan.spec, params, plan.cache) if ok else None
    return out


def _pair_notes(plan: _Plan, pairs: dict[str, Any]) -> list[str]:
    dates = plan.stack.dates
    notes: list[str] = []
    for key, params in pairs.items():
        r, j = (int(x) for x in key.split("-"))
        label = f"{dates[r].isoformat()} vs {dates[j].isoformat()}"
        for warning in nochange.warnings_of(params or {}):
            if warning not in notes:
                notes.append(warning)
        for issue in nochange.issues_of(params or {}):
            notes.append(f"{label} not compared: {issue}.")
    return notes


def _process(
    plan: _Plan,
    grid: TileGrid,
    fitted: dict[str, FittedChange | None],
    clouds: DateClouds,
    job: Job,
    parts: tuple[Path, Path],
    done: dict[int, Any],
    mapper: Mapper | None = None,
) -> None:
    """Date every window not yet done (on threads, or with ``mapper`` on Dask), writing and
    journalling as windows finish."""
    todo = [t for t in grid if t.index not in done]
    workers = plan.opts.workers

    def work(tile: Tile) -> WindowResult:
        return _date_tile(plan, tile, fitted, clouds)

    pending: list[dict[str, Any]] = []
    try:
        with contextlib.ExitStack() as stack:
            if mapper is None:
                pool = stack.enter_context(ThreadPoolExecutor(max_workers=workers))
                results = bounded_map(pool, work, todo, 2 * workers)
            else:
                results = mapper(todo)
            for tile, date, interval, record in results:
                window = tile.relative_core(grid.region)
                outputs.write_window(parts, window, date, interval)
                pending.append(record)
                if len(pending) >= COMMIT_TILES:
                    _commit(job, parts, pending)
                    pending = []
    finally:  # interrupted too: the windows written whole are kept
        _commit(job, parts, pending)


Mapper = Callable[[list[Tile]], Iterator[WindowResult]]
"""Runs the windows elsewhere (Dask), yielding their results in completion order."""


@contextlib.contextmanager
def _window_mapper(
    plan: _Plan, pairs: dict[str, Any], clouds: DateClouds
) -> Iterator[Mapper | None]:
    """Where windows run: ``None`` for this process's threads, else on Dask workers."""
    opts = plan.opts
    if opts.scheduler is None:
        yield None
        return
    shared = (plan.stack, plan.spec.name, pairs, clouds, opts.confirm)
    with dask_client(opts.scheduler, opts.workers) as client:
        limit = 2 * max(1, len(client.scheduler_info().get("workers", {})))

        def on_dask(todo: list[Tile]) -> Iterator[WindowResult]:
            return cluster.map_on_dask(client, shared, todo, limit)

        yield on_dask


def _commit(job: Job, parts: tuple[Path, Path], records: list[dict[str, Any]]) -> None:
    if not records:
        return
    for path in parts:
        sync_file(path)
    job.record_tiles(records)


def _date_tile(
    plan: _Plan, tile: Tile, fitted: dict[str, FittedChange | None], clouds: DateClouds
) -> WindowResult:
    """Read one window of every date, compare the pairs, apply the rule; crop to the core."""
    return date_window(plan.stack, fitted, clouds, plan.opts.confirm, tile)
