"""``terrasight change BEFORE AFTER -o OUTDIR``."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import click
from tqdm import tqdm

from terrasight.cli.options import (
    ImageParam,
    bands_option,
    cloud_mask_option,
    job_options,
    method_option,
    method_options_option,
    min_pixels_option,
    out_option,
    parse_bands,
    parse_method_options,
    scene_options,
)
from terrasight.cli.search_scenes import pick_stac_pair, stac_options
from terrasight.errors import BandSelectionError
from terrasight.io.vectors import jsonable
from terrasight.models.runtime import ModelCache
from terrasight.tasks.change.pipeline.checks import SENSORS
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.interpret.caption import caption_change
from terrasight.tasks.interpret.facts_data import read_facts
from terrasight.tasks.semantic import ONLY_CLASSES, classify_changes
from terrasight.tasks.semantic.budget import default_budget
from terrasight.tasks.semantic.same_cover import CHECK_MODES

CLI_CHECK = "off"
"""The land-cover check of ``terrasight change`` when not given (see docs/semantic-change.md)."""


@click.command()
@click.argument("before", type=ImageParam(exists=False), required=False)
@click.argument("after", type=ImageParam(exists=False), required=False)
@out_option("folder", "Output folder", required=True)
@method_option
@click.option(
    "--sensor",
    type=click.Choice(SENSORS),
    default="auto",
    show_default=True,
    help="The kind of images, for --method auto: read from the files (auto), or optical, "
    "multispectral, sar.",
)
@method_options_option
@bands_option
@min_pixels_option
@click.option("--after-bands", default=None, help="Bands of the after image, when they differ.")
@cloud_mask_option("Exclude clouds and shadows (needs blue, green, red, nir).")
@scene_options
@stac_options
@job_options
@click.option(
    "--scheduler",
    default=None,
    help="Run the windows on Dask: 'local' (a LocalCluster of --workers processes) or a "
    "scheduler address tcp://HOST:PORT whose workers see the images.",
)
@click.option(
    "--no-facts",
    is_flag=True,
    help="Skip facts.json (no land-cover classification of the objects).",
)
@click.option(
    "--only",
    type=click.Choice(ONLY_CLASSES),
    default=None,
    help="Keep only the changes from or to this land-cover class (mask and objects).",
)
@click.option(
    "--classes/--no-classes",
    default=None,
    help="Measure each change's land cover before and after with the land-cover model "
    "(change_classes.tif; objects split by class, buildings one by one). By default on "
    "RGB images, within a budget of about the change job's own time (at least 10 s): on "
    "busy scenes the windows beyond it are left without classes and a warning says so. "
    "--classes: every window, whatever it costs; --no-classes: none.",
)
@click.option(
    "--landcover-check",
    type=click.Choice(CHECK_MODES),
    default=CLI_CHECK,
    show_default=True,
    help="With classes: changes whose land cover is the same, and sure, on both dates "
    "(vegetation -> vegetation, bare -> bare: season or light?) are listed in "
    "cover_unchanged.geojson and counted in the summary (flag), or also removed from the "
    "mask and the objects (drop); off: not checked.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the summary as JSON on stdout (progress and warnings go to stderr).",
)
def change(
    before: Path | str,
    after: Path | str,
    outdir: Path,
    method: str,
    sensor: str,
    method_options: tuple[str, ...],
    bands: str | None,
    min_pixels: int,
    after_bands: str | None,
    nodata: float | None,
    cloud_mask: str,
    reflectance_scale: float | None,
    reflectance_offset: float,
    bbox: str | None,
    stac: str | None,
    collection: str | None,
    before_date: datetime | None,
    after_date: datetime | None,
    max_cloud: float | None,
    window_days: int,
    tile_size: int | None,
    workers: int,
    overwrite: bool,
    scheduler: str | None,
    no_report: bool,
    no_facts: bool,
    only: str | None,
    classes: bool | None,
    landcover_check: str,
    quiet: bool,
    as_json: bool,
) -> None:
    """Find what changed between BEFORE and AFTER (two images of one place).

    BEFORE and AFTER are files, or URLs (https://, s3://, gs://; read with range
    requests, so --bbox fetches only the parts of a Cloud-Optimized GeoTIFF it covers),
    or STAC Items (.json files or URLs). With --stac instead, the clearest item of a
    STAC API near --before and near --after is picked.

    Writes change_mask.tif, change_probability.tif, change_classes.tif (land cover
    before and after on changed pixels), changes.geojson, changes.gpkg, summary.json,
    facts.json (each object's size, shape, place and land cover before and after)
    and report.html into OUTDIR. Objects are split where their land cover differs,
    and new or removed buildings are objects of their own (--no-classes: plain
    connected change regions; on busy scenes the classes stay within a time budget
    unless --classes is given, and the output says what was left out). An
    interrupted run resumes
    when started again with the same arguments. With --json, stdout holds the
    summary (summary.json plus the output paths) and nothing else.
    """
    if stac is not None:
        if before is not None or after is not None:
            raise click.UsageError("give BEFORE and AFTER, or --stac, not both.")
        dates = (before_date, after_date)
        before, after = pick_stac_pair(
            stac, collection, bbox, dates, window_days, max_cloud, err=as_json
        )
    elif before is None or after is None:
        raise click.UsageError("give BEFORE and AFTER images, or --stac URL with --before/--after.")
    if classes is False and landcover_check != "off":
        raise click.UsageError(
            f"--landcover-check {landcover_check} reads the changes' land cover: drop "
            "--no-classes, or leave the check off."
        )
    models = ModelCache()
    started = time.perf_counter()
    result = run_change(
        before,
        after,
        outdir,
        quiet,
        method=method,
        sensor=sensor,
        method_options=parse_method_options(method_options),
        bands=parse_bands(bands),
        after_bands=parse_bands(after_bands),
        nodata=nodata,
        min_pixels=min_pixels,
        cloud_mask=cloud_mask,
        reflectance_scale=reflectance_scale,
        reflectance_offset=reflectance_offset,
        bbox=bbox,
        tile_size=tile_size,
        workers=workers,
        scheduler=scheduler,
        overwrite=overwrite,
        cache=models,
    )
    if result.method_choice:
        choice = result.method_choice
        click.echo(f"method auto chose {choice['chosen']}: {choice['reason']}.", err=True)
    if classes is not False or only:
        budget = None if classes or only else default_budget(time.perf_counter() - started)
        result = with_classes(result, only, budget, landcover_check)
    paths = result.save(
        outdir, report=not no_report, facts=not no_facts, cache=models, workers=workers
    )
    if as_json:
        echo_json(result, paths)
    else:
        echo_result(result, paths)


def with_classes(
    result: ChangeResult, only: str | None, budget_s: float | None = None, check: str = "off"
) -> ChangeResult:
    """The result with its land cover measured (within ``budget_s`` seconds when given);
    without ``--only``, images the model cannot read (no RGB) keep the plain result, with
    a warning."""
    try:
        return classify_changes(result, only=only, budget_s=budget_s, landcover_check=check)
    except BandSelectionError as exc:
        if only:
            raise
        click.echo(f"warning: land cover of the changes not measured: {exc}", err=True)
        return result


def run_change(
    before: Path | str, after: Path | str, outdir: Path, quiet: bool, **kwargs
) -> ChangeResult:
    """Run :func:`detect_changes` with a progress bar on stderr, shown once work starts."""
    bars: list[tqdm] = []

    def progress(n: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=total,
                    unit="px",
                    unit_scale=True,
                    desc="change",
                    disable=quiet,
                    leave=False,
                )
            )
        bars[0].update(n)

    try:
        shown = False if quiet else progress
        return detect_changes(before, after, outdir=outdir, progress=shown, **kwargs)
    finally:
        for bar in bars:
            bar.close()


def echo_result(result: ChangeResult, paths: dict[str, Path]) -> None:
    """Print a short summary and where the outputs are (and, first, why it is unreliable)."""
    unit = result.area_unit
    for issue in result.quality_issues:
        click.secho(f"UNRELIABLE RESULT: {issue}.", fg="red", bold=True)
    click.echo(
        f"{len(result.objects)} change objects, {result.changed_area:,.0f} {unit} changed "
        f"({100 * result.changed_fraction:.2f}% of valid pixels), method {result.method}."
    )
    if "facts" in paths:
        click.echo("In words: " + caption_change(read_facts(paths["facts"])))
    if not result.clouds_checked and result.cloud_check:
        click.echo(f"clouds: {result.cloud_check}")
    for w in result.other_warnings:
        click.echo(f"warning: {w}", err=True)
    for kind, path in paths.items():
        click.echo(f"  {kind:12s} {path}")


def echo_json(result: ChangeResult, paths: dict[str, Path]) -> None:
    """Print the summary and the output paths as JSON on stdout; warnings also go to stderr."""
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    data = {**result.summary(), "outputs": {kind: str(path) for kind, path in paths.items()}}
    click.echo(json.dumps(jsonable(data), indent=2, allow_nan=False))
