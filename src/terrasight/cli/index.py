"""``terrasight index build|search``: an archive of scenes searched by text, image, place, date."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import ImageParam, limit_option, model_options, out_option


@click.group(name="index")
def index_group() -> None:
    """Index the tiles of many scenes and search them by text, image, place and date."""


@index_group.command(name="build")
@click.argument("sources", nargs=-1, required=True, type=ImageParam(exists=False))
@click.option("--db", type=click.Path(path_type=Path), required=True, help="Index folder.")
@click.option(
    "--tile", type=click.IntRange(min=16), default=224, show_default=True, help="Tile side in px."
)
@click.option(
    "--overlap",
    type=click.IntRange(min=0),
    default=32,
    show_default=True,
    help="Pixels shared by neighbouring tiles.",
)
@model_options
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="1: in this process; more: a Dask LocalCluster of that many worker processes.",
)
@click.option(
    "--scheduler",
    default=None,
    help="Run on a Dask cluster: its scheduler's address, tcp://HOST:PORT.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build_command(
    sources: tuple[Path | str, ...],
    db: Path,
    tile: int,
    overlap: int,
    model: str,
    checkpoint: str | None,
    workers: int,
    scheduler: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Index the tiles of SOURCES (image files and folders, searched recursively) into --db.

    A source may also be an http(s)://, s3:// or gs:// URL, a /vsi path or a STAC Item
    (.json file or URL); its rows name it as given.

    GeoTIFFs with a CRS get footprints on the map; plain images are indexed in pixel
    space. Running it again adds new and changed files and drops the rows of changed
    and deleted ones; an interrupted build resumes where it stopped. Unreadable files are
    skipped and listed at the end.
    """
    from tqdm import tqdm

    from terrasight.index import build
    from terrasight.models.runtime import ModelCache

    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(total=total, unit="tile", desc="indexing", disable=quiet or None, leave=False)
            )
        bars[0].update(done - bars[0].n)

    try:
        report = build(
            sources,
            db,
            tile=tile,
            overlap=overlap,
            model=model,
            checkpoint=checkpoint,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            cache=ModelCache(),
        )
    finally:
        for bar in bars:
            bar.close()
    if as_json:
        click.echo(json.dumps(report.summary(), indent=2))
        return
    s = report.summary()
    click.echo(
        f"{s['tiles_added']} tiles of {s['files_added']} files added "
        f"({s['tiles_per_second']:.1f} tiles/s), {s['files_unchanged']} files unchanged, "
        f"{s['files_removed']} removed; {s['tiles_total']} tiles in {db} ({s['search']} search)."
    )
    if report.failures:
        click.echo(f"skipped {len(report.failures)} files that could not be read:", err=True)
        for failure in report.failures:
            click.echo(f"  {failure.path}: {failure.reason}", err=True)


@index_group.command(name="search")
@click.argument("text", required=False)
@click.option("--db", type=click.Path(path_type=Path), required=True, help="Index folder.")
@click.option(
    "--image",
    type=ImageParam(exists=False),
    default=None,
    help="An example image to match (with TEXT: both count).",
)
@click.option("--bbox", default=None, help="Only tiles overlapping W,S,E,N (WGS84 degrees).")
@click.option("--since", default=None, help="Only tiles acquired on or after YYYY-MM-DD.")
@limit_option(20, "Tiles kept.", hidden_aliases=("--k",))
@out_option("file", "Write the hits as GeoJSON", name="output", hidden_aliases=("--output",))
@click.option(
    "--sheet",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a contact sheet PNG of the hits.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the GeoJSON on stdout.")
def search_command(
    text: str | None,
    db: Path,
    image: Path | str | None,
    bbox: str | None,
    since: str | None,
    k: int,
    output: Path | None,
    sheet: Path | None,
    as_json: bool,
) -> None:
    """The tiles of --db that best match TEXT and/or --image, best first, with scores."""
    from terrasight import index
    from terrasight.index.search import parse_bbox
    from terrasight.index.sheet import contact_sheet

    box = parse_bbox(bbox) if bbox else None
    result = index.open(db).search(text, image=image, bbox=box, since=since, k=k)
    if output is not None:
        result.save_geojson(output)
    if sheet is not None:
        contact_sheet(result.hits, sheet)
    if as_json:
        click.echo(json.dumps(result.to_geojson()))
    else:
        if not result.hits:
            click.echo(result.message or "no tiles matched.")
        for hit in result.hits:
            col, row, w, h = hit.window
            click.echo(f"{hit.rank:3d} {hit.score:7.3f}  {hit.source} [{col},{row} {w}x{h}]")
    for kind, path in (("geojson", output), ("sheet", sheet)):
        if path is not None:
            click.echo(f"  {kind:8s} {path}", err=as_json)
