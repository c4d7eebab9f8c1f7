"""``terrasight series IMAGES... -o OUTDIR``: when did each place change?"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click

from terrasight.cli.options import (
    ImageParam,
    bands_option,
    cloud_mask_option,
    date_range_options,
    job_options,
    method_options_option,
    min_pixels_option,
    out_option,
    parse_bands,
    parse_method_options,
    scene_options,
)
from terrasight.cli.search_scenes import require_for_stac, scene_row
from terrasight.errors import SceneNotFoundError
from terrasight.io.aoi import parse_bbox
from terrasight.io.stac import StacScene
from terrasight.io.stac_search import SceneSearch, pick_series, search_items
from terrasight.io.vectors import jsonable
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.methods.registry import list_methods
from terrasight.tasks.change.output.page_style import format_area
from terrasight.tasks.series import SeriesResult, detect_series


@click.command()
@click.argument("images", nargs=-1, required=False, type=ImageParam(exists=False))
@out_option("folder", "Output folder", required=True)
@click.option(
    "--dates",
    default=None,
    metavar="YYYY-MM-DD,...",
    help="One date per image, in the order of IMAGES; read from each file's tags "
    "(TIFFTAG_DATETIME, ACQUISITIONDATETIME) or name (YYYY-MM-DD, YYYYMMDD) by default.",
)
@click.option(
    "--method",
    "-m",
    default="cva",
    show_default=True,
    help=f"Change method between dates: {', '.join(list_methods())}, or auto (as for a pair).",
)
@method_options_option
@bands_option
@min_pixels_option
@cloud_mask_option(
    "Per-date cloud and shadow masks: a clouded pixel is no observation at that date."
)
@click.option(
    "--cloud-buffer",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Pixels around each date's cloud and shadow mask also excluded (hazy edges).",
)
@scene_options
@click.option(
    "--confirm",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Clear dates from the change date on that must all show the change.",
)
@job_options
@click.option(
    "--scheduler",
    default=None,
    help="Run the windows on Dask: 'local' (a LocalCluster of --workers processes) or a "
    "scheduler address tcp://HOST:PORT whose workers see the images and OUTDIR.",
)
@click.option("--json", "as_json", is_flag=True, help="Print series.json's summary on stdout.")
@click.option(
    "--every",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --stac: keep the clearest item per period of this many days (0: every date).",
)
@click.option(
    "--max-cloud", type=click.FloatRange(0, 100), default=None, help="With --stac: cloud cover %."
)
@date_range_options(
    "With --stac: the first date.", "With --stac: the last date.", names=("from_date", "to_date")
)
@click.option("--collection", default=None, help="With --stac: collection id.")
@click.option(
    "--stac",
    default=None,
    metavar="URL",
    help="Take the images from a STAC API: the items of --collection over --bbox from "
    "--since to --until (needs all three).",
)
def series(
    images: tuple[Path | str, ...],
    outdir: Path,
    dates: str | None,
    method: str,
    method_options: tuple[str, ...],
    bands: str | None,
    min_pixels: int,
    nodata: float | None,
    cloud_mask: str,
    cloud_buffer: int,
    reflectance_scale: float | None,
    reflectance_offset: float,
    bbox: str | None,
    confirm: int,
    tile_size: int | None,
    workers: int,
    overwrite: bool,
    no_report: bool,
    scheduler: str | None,
    as_json: bool,
    every: int,
    max_cloud: float | None,
    to_date: datetime | None,
    from_date: datetime | None,
    collection: str | None,
    stac: str | None,
) -> None:
    """When did each place change, over three or more IMAGES of it?

    Images are sorted by date. A pixel's change date is the first date from which
    it differs from its earlier state at every later clear date; clouded pixels
    are no observation. Writes change_date.tif, change_interval.tif,
    series_objects.geojson, series.json and report.html into OUTDIR. Running the
    same command again resumes an interrupted job, or reads a finished one back.

    \b
    Examples:
      terrasight series s2_2019-06-01.tif s2_2020-06-01.tif s2_2021-06-01.tif -o series/
      terrasight series --stac https://earth-search.aws.element84.com/v1 \\
          --collection sentinel-2-l2a --bbox 15.10,45.20,15.25,45.30 \\
          --since 2019-01-01 --until 2024-12-31 --every 180 --max-cloud 10 -o series/
    """
    if stac is not None:
        if images or dates:
            raise click.UsageError("give IMAGES (and --dates), or --stac, not both.")
        images, dates = _stac_series(
            stac, collection, bbox, (from_date, to_date), max_cloud, every, as_json
        )
    elif not images:
        raise click.UsageError("give three or more IMAGES, or --stac URL with its search.")
    result = detect_series(
        list(images),
        dates,
        method,
        outdir=outdir,
        method_options=parse_method_options(method_options),
        bands=parse_bands(bands),
        min_pixels=min_pixels,
        nodata=nodata,
        cloud_mask=cloud_mask,
        cloud_buffer=cloud_buffer,
        reflectance_scale=reflectance_scale,
        reflectance_offset=reflectance_offset,
        bbox=bbox,
        confirm=confirm,
        tile_size=tile_size,
        workers=workers,
        scheduler=scheduler,
        overwrite=overwrite,
        report=not no_report,
        cache=ModelCache(),
        progress=True,
    )
    if as_json:
        click.echo(json.dumps(jsonable(result.summary()), indent=2, allow_nan=False))
        return
    for line in summary_lines(result):
        click.echo(line)
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)


def _stac_series(
    stac: str,
    collection: str | None,
    bbox: str | None,
    span: tuple[datetime | None, datetime | None],
    max_cloud: float | None,
    every: int,
    err: bool,
) -> tuple[tuple[str, ...], str]:
    """The Items of a STAC search, one per date or period, and their dates, announced."""
    first, last = span
    require_for_stac(collection=collection, bbox=bbox, since=first, until=last)
    assert collection is not None and bbox is not None and first is not None and last is not None
    box = parse_bbox(bbox)
    found = search_items(stac, collection, box, first.date(), last.date(), max_cloud)
    picked = pick_series(found, every)
    if len(picked) < 3:
        search = SceneSearch(stac, collection, box, first.date(), last.date(), max_cloud)
        raise SceneNotFoundError(
            f"{len(picked)} date{'' if len(picked) == 1 else 's'} found, a series needs 3 or "
            f"more: searched {search}. Widen the dates, raise --max-cloud or make --every smaller."
        )
    per = f", the clearest per {every} days" if every else ""
    click.echo(f"{len(picked)} of {len(found)} items{per}:", err=err)
    for scene in picked:
        click.echo(f"  {scene_row(scene)}", err=err)
    days = ",".join(_date_of(s).isoformat() for s in picked)
    return tuple(s.href for s in picked), days


def _date_of(scene: StacScene) -> date:
    assert scene.datetime is not None  # pick_series keeps dated scenes only
    return scene.datetime.date()


def summary_lines(result: SeriesResult) -> list[str]:
    """The short summary: dates and clear shares, objects by first-seen date, the biggest.

    Example:
        >>> print("\\n".join(summary_lines(load_series("series/"))))  # doctest: +SKIP
    """
    lines = [f"{len(result.dates)} dates, method {result.method}:"]
    for k, (d, clear) in enumerate(zip(result.dates, result.clear_share, strict=True)):
        if result.clouds_checked(k):
            lines.append(f"  {d}  clear {100 * clear:5.1f}%")
        else:
            why = (result.cloud_check[k:] or ("clouds not recorded",))[0]
            lines.append(f"  {d}  data {100 * clear:5.1f}%, clouds {why}")
    by_date = {row["date"]: row["objects"] for row in result.timeline if row["objects"]}
    seen = ", ".join(f"{n} first seen {d}" for d, n in by_date.items()) or "none"
    lines.append(
        f"{len(result.objects)} change objects ({seen}), "
        f"{format_area(result.changed_area, result.area_unit)} changed."
    )
    if result.objects:
        big = result.objects[0]
        lines.append(
            f"Biggest: object {big.id}, {format_area(big.area, big.area_unit)}, {big.location}, "
            f"changed between {big.last_unchanged or 'the start'} and {big.first_seen}."
        )
    lines.append(f"Outputs in {result.folder}")
    return lines
