"""``terrasight search-scenes --stac URL --collection C --bbox W,S,E,N --from DATE --to DATE``."""

from __future__ import annotations

import json
from datetime import date, datetime

import click

from terrasight.cli.options import date_range_options, limit_option
from terrasight.errors import InvalidOptionError
from terrasight.io.aoi import parse_bbox
from terrasight.io.stac import StacScene
from terrasight.io.stac_search import SceneSearch, find_clearest, search_items

DAY = click.DateTime(formats=["%Y-%m-%d"])
"""A date on the command line: YYYY-MM-DD."""


def day(value: datetime | None) -> date | None:
    """The date of a parsed ``DAY`` option.

    Example:
        >>> day(datetime(2023, 6, 15, 0, 0))
        datetime.date(2023, 6, 15)
    """
    return value.date() if value is not None else None


def scene_row(scene: StacScene, width: int = 0) -> str:
    """One line of the scene table: id (padded to ``width``), date and time, cloud cover, href.

    Example:
        >>> scene_row(StacScene("S2A_1", "https://h/S2A_1", datetime(2023, 6, 2, 10, 5), 3.14))
        'S2A_1  2023-06-02 10:05    3.1%  https://h/S2A_1'
    """
    when = scene.datetime.strftime("%Y-%m-%d %H:%M") if scene.datetime else "?"
    cloud = f"{scene.cloud_cover:5.1f}%" if scene.cloud_cover is not None else "     ?"
    return f"{scene.id:{width}s}  {when}  {cloud}  {scene.href}"


@click.command("search-scenes")
@click.option("--stac", "stac", required=True, metavar="URL", help="A STAC API's address.")
@click.option("--collection", required=True, help="Collection id, e.g. sentinel-2-l2a.")
@click.option("--bbox", required=True, metavar="W,S,E,N", help="Area in WGS84 degrees.")
@date_range_options(
    "First day, YYYY-MM-DD.", "Last day, YYYY-MM-DD.", names=("start", "end"), required=True
)
@click.option(
    "--max-cloud",
    type=click.FloatRange(0, 100),
    default=None,
    help="Highest cloud cover in percent (items without one are left out).",
)
@limit_option(None, "At most N items.", name="limit")
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
        click.echo(scene_row(scene, width))


def stac_options(command):
    """``--stac URL --collection C --before DATE --after DATE [--max-cloud] [--window-days]``."""
    options = [
        click.option(
            "--window-days",
            type=click.IntRange(min=0),
            default=30,
            show_default=True,
            help="With --stac: days either side of each date to search.",
        ),
        click.option(
            "--max-cloud",
            type=click.FloatRange(0, 100),
            default=None,
            help="With --stac: highest cloud cover in percent.",
        ),
        click.option("--after", "after_date", type=DAY, help="With --stac: the after date."),
        click.option("--before", "before_date", type=DAY, help="With --stac: the before date."),
        click.option("--collection", default=None, help="With --stac: collection id."),
        click.option(
            "--stac",
            "stac",
            default=None,
            metavar="URL",
            help="Pick BEFORE and AFTER from a STAC API: the clearest item near each date "
            "(needs --collection, --bbox, --before, --after).",
        ),
    ]
    for option in options:
        command = option(command)
    return command


def require_for_stac(**values: object) -> None:
    """Refuse a ``--stac`` search missing any of these options (named as keywords).

    Raises:
        click.UsageError: ``--stac needs --bbox, --after as well.``

    Example:
        >>> require_for_stac(collection="s2", bbox="1,2,3,4")
    """
    missing = [f"--{name}" for name, value in values.items() if value is None]
    if missing:
        raise click.UsageError(f"--stac needs {', '.join(missing)} as well.")


def pick_stac_pair(
    stac: str,
    collection: str | None,
    bbox: str | None,
    dates: tuple[datetime | None, datetime | None],
    window_days: int,
    max_cloud: float | None,
    err: bool = False,
) -> tuple[str, str]:
    """The Items picked for the before and after dates, each announced with why.

    Raises:
        click.UsageError: an option the search needs is missing.
        SceneNotFoundError: no item near a date (the search is named).
        InvalidOptionError: both dates picked the same item.

    Example:
        >>> pick_stac_pair(api, "sentinel-2-l2a", "15.1,45.2,15.2,45.3",
        ...     (datetime(2019, 6, 15), datetime(2024, 6, 15)), 30, 20)  # doctest: +SKIP
        ('https://.../items/S2B_..._20190614', 'https://.../items/S2A_..._20240612')
    """
    first, last = dates
    require_for_stac(collection=collection, bbox=bbox, before=first, after=last)
    assert collection is not None and bbox is not None and first is not None and last is not None
    box = parse_bbox(bbox)
    picks = []
    for role, when in (("before", first), ("after", last)):
        pick = find_clearest(stac, collection, box, when.date(), window_days, max_cloud)
        click.echo(f"{role}: {scene_row(pick.scene)}", err=err)
        click.echo(f"  picked for {pick.reason}.", err=err)
        picks.append(pick)
    if picks[0].scene.href == picks[1].scene.href:
        raise InvalidOptionError(
            f"the same item {picks[0].scene.id} is the clearest for both dates; move --before "
            "and --after apart or make --window-days smaller."
        )
    return picks[0].scene.href, picks[1].scene.href
