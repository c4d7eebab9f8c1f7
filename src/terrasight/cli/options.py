"""Options shared by several commands."""

from __future__ import annotations

import click

from terrasight.tasks.change.methods import list_methods


def parse_bands(value: str | None) -> tuple[int | str, ...] | None:
    """``"1,2,3"`` or ``"red,green,nir"`` -> a tuple of band numbers or names."""
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return tuple(int(v) if v.isdigit() else v for v in items)


method_option = click.option(
    "--method",
    "-m",
    type=click.Choice(list_methods()),
    default="cva",
    show_default=True,
    help="Change method.",
)
bands_option = click.option(
    "--bands",
    "-b",
    default=None,
    help="Bands to compare, by number (1,2,3) or name (red,green,blue,nir); all by default.",
)
min_pixels_option = click.option(
    "--min-pixels",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Drop change objects smaller than this many pixels.",
)
