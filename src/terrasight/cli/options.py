"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from terrasight.io.remote import is_remote, repair
from terrasight.tasks.change.methods import list_methods


class ImageParam(click.ParamType):
    """An image argument: a local path (checked to exist) or a URL / ``/vsi`` path, kept as text.

    Example:
        >>> ImageParam().convert("https://host/a.tif", None, None)
        'https://host/a.tif'
    """

    name = "image"

    def __init__(self, exists: bool = True) -> None:
        self.exists = exists

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        source = repair(value)
        if is_remote(source) or not self.exists:
            return source
        if not Path(source).exists():
            self.fail(f"{source}: file not found.", param, ctx)
        return source


IMAGE = ImageParam()
"""A local image that exists, or a URL (``https://``, ``s3://``, ``gs://``) or ``/vsi`` path."""


def parse_bands(value: str | None) -> tuple[int | str, ...] | None:
    """``"1,2,3"`` or ``"red,green,nir"`` -> a tuple of band numbers or names."""
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return tuple(int(v) if v.isdigit() else v for v in items)


method_option = click.option(
    "--method",
    "-m",
    default="learned",
    show_default=True,
    help=f"Change method: {', '.join(list_methods())} (the installed ones; "
    "the learned default needs terrasight[learned]).",
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


def parse_method_options(items: tuple[str, ...]) -> dict[str, str]:
    """``("tolerance=2", "threshold=otsu")`` -> ``{"tolerance": "2", "threshold": "otsu"}``.

    Values stay text: the method's options class converts each to its field's
    type and checks it (:meth:`terrasight.tasks.change.base.MethodOptions.from_mapping`).

    Example:
        >>> parse_method_options(("tolerance=2", "threshold = otsu"))
        {'tolerance': '2', 'threshold': 'otsu'}
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--method-option")
        out[key.strip()] = raw.strip()
    return out


method_options_option = click.option(
    "--method-option",
    "-O",
    "method_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Option for the method, repeatable. cva: tolerance=0..2, otsu=true|false; irmad: "
    "threshold=significance|otsu|0..1, significance=0..1, max_iter, tol; learned: "
    "threshold=0..1, checkpoint=PATH, model=NAME.",
)


def model_options(command):
    """``--model NAME`` and ``--checkpoint PATH`` for the image-text commands."""
    command = click.option(
        "--checkpoint",
        default=None,
        help="Weights for a model that does not ship them (remoteclip-vit-b-32, "
        "open-clip-vit...): a .pt/.safetensors file, a folder holding one, or a "
        "Hugging Face hub name hf-hub:ORG/REPO[/FILE].",
    )(command)
    return click.option(
        "--model",
        default="terrasight-vl",
        show_default=True,
        help="Image-text model: terrasight-vl (shipped), a trained entry .json, or an "
        "open_clip-format model such as remoteclip-vit-b-32 (see `terrasight models`).",
    )(command)
