"""``terrasight search-scenes --stac URL --collection C --bbox W,S,E,N --from DATE --to DATE``."""

from __future__ import annotations

import json
from datetime import date, datetime

import click

from terrasight.io.aoi import parse_bbox
from terrasight.io.stac import StacScene
from terrasight.io.stac_search import SceneSearch, search_items

DAY = click.DateTime(formats=["%Y-%m-%d"])
"""A date on the command line: YYYY-MM-DD."""


def day(value: datetime | None) -> date | None:
    """The date of a parsed ``DAY`` option.

    Example:
        >>> day(datetime(2023, 6, 15, 0, 0))
        datetime.date(2023, 6, 15)
    """
    return value.date() if value is not None else None


def scene_row(scene: StacScene) -> str:
    """One line of the scene table: id, date and time, cloud cover, where the Item is.

    Example:
        >>> scene_row(StacScene("S2A_1", "https://h/S2A_1", datetime(2023, 6, 2, 10, 5), 3.14))
        'S2A_1  2023-06-02 10:05    3.1%  https://h/S2A_1'
    """
    when = scene.datetime.strftime("%Y-%m-%d %H:%M") if scene.datetime else "?"
    cloud = f"{scene.cloud_cover:5.1f}%" if scene.cloud_cover is not None else "     ?"
    return f"{scene.id}  {when}  {cloud}  {scene.href}"


@click.command("search-scenes")
@click.option("--stac", "stac", required=True, metavar="URL", help="A STAC API's address.")
@click.option("--collection", required=True, help="Collection id, e.g. sentinel-2-l2a.")
@click.option("--bbox", required=True, metavar="W,S,E,N", help="Area in WGS84 degrees.")
@click.option("--from", "start", type=DAY, required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", type=DAY, required=True, help="Last day, YYYY-MM-DD.")
@click.option(
    "--max-cloud",
    type=click.FloatRange(0, 100),
    default=None,
    help="Highest cloud cover in percent (items without one are left out).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N items.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def search_scenes(
    stac: str,
    collection: str,
    bbox: str,
    start: datetime,
    end: datetime,
    max_cloud: float | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List the scenes (STAC Items) of a collection over a box between two dates, by date.

    Each line gives the item's id, date, cloud cover and address; the address is
    an image argument for `terrasight change`, `describe`, `ask` and `classify`.
    """
    box = parse_bbox(bbox)
    first, last = start.date(), end.date()
    scenes = search_items(stac, collection, box, first, last, max_cloud, limit)
    if as_json:
        for scene in scenes:
            click.echo(json.dumps(scene.to_dict()))
        return
    if not scenes:
        search = SceneSearch(stac, collection, box, first, last, max_cloud)
        click.echo(f"no items found: searched {search}.", err=True)
        return
    width = max(len(s.id) for s in scenes)
    click.echo(f"{'id':{width}s}  {'datetime':16s}  {'cloud':>6s}  href")
    for scene in scenes:
        click.echo(scene_row(scene).replace(scene.id, f"{scene.id:{width}s}", 1))
