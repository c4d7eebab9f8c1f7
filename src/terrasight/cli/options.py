"""The command line's vocabulary: options shared by several commands, one spelling each.

Every command takes its shared options from here (as rasterio's ``rio/options.py``
does), so one name means one thing everywhere. Old spellings keep working as hidden
aliases (not shown in ``--help``); ``tests/cli/test_option_snapshot.py`` holds the
names of every command's options.

=====================  ==========================================================
option                 commands
=====================  ==========================================================
``-o/--out``           a **folder** in ``change``, ``series``, ``describe``, ``ask``,
                       ``chat``, ``demo``, ``batch``, ``mcp`` (hidden alias
                       ``--outdir``); a **file** in
                       ``index search`` and ``find`` (GeoJSON; hidden alias
                       ``--output``) and in ``train caption-bank``,
                       ``caption-style``, ``int8``; a folder in ``train change`` and
                       ``train vl`` (``--out``). Each command's help says which.
``-m/--method``        the change method: ``change``, ``series``, ``describe``,
                       ``ask``, ``chat``, ``demo``, ``eval change``
``-O/--method-option`` ``change``, ``series``
``--model``            the image-text model: ``classify``, ``search``,
                       ``index build``, ``find`` (with ``--checkpoint``); a model
                       registry name in ``train caption-bank`` and ``train int8``
``--llm``              the language model of ``chat``'s brain (hidden,
                       deprecated alias ``--model``)
``-k/--limit``         how many results: ``search``, ``index search``, ``find``
                       (hidden alias ``--top``), ``search-scenes``
``--before/--after``   the two dates of ``change --stac``
``--since/--until``    a date range: ``series --stac``, ``search-scenes`` (hidden
                       aliases ``--from``/``--to``); ``index search --since``
``--bbox W,S,E,N``     an area in WGS84 degrees: ``change``, ``series``,
                       ``search-scenes``, ``index search``
``--db``               an archive index: ``index build``, ``index search``,
                       ``chat``, ``serve``
``--json``             machine-readable output on stdout: every command that
                       prints a result
``-q/--quiet``         no progress: ``change``, ``demo``, ``index build``, ``find``
=====================  ==========================================================

A result folder (written by ``change`` or ``series``) is the first argument of
``describe``, ``ask`` and ``chat``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from terrasight.io.remote import is_remote, repair
from terrasight.tasks.change.methods.registry import list_methods


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


class AliasedOption(click.Option):
    """An option whose old spellings (``hidden_aliases``) are accepted but left out of ``--help``.

    Example:
        >>> @click.command()
        ... @click.option("-o", "--out", "--outdir", "out", cls=AliasedOption,
        ...               hidden_aliases=("--outdir",))
        ... def cmd(out): click.echo(out)
        >>> from click.testing import CliRunner
        >>> CliRunner().invoke(cmd, ["--outdir", "x"]).output.strip()
        'x'
    """

    def __init__(self, *args: Any, hidden_aliases: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)
        # Shown everywhere (help, docs) without the aliases; the parser gets them back.
        self.opts = [o for o in self.opts if o not in self.hidden_aliases]

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        shown = self.opts
        self.opts = [*shown, *self.hidden_aliases]
        try:
            super().add_to_parser(parser, ctx)
        finally:
            self.opts = shown


def out_option(
    kind: str,
    help_text: str,
    name: str = "outdir",
    hidden_aliases: tuple[str, ...] = ("--outdir",),
    **kwargs: Any,
):  # noqa: ANN201 - a click decorator
    """``-o/--out``: where the command writes, ``kind`` ``"folder"`` or ``"file"`` (said in the help).

    ``name`` is the command function's parameter; ``hidden_aliases`` the old spellings.
    """
    return click.option(
        "-o",
        "--out",
        *hidden_aliases,
        name,
        cls=AliasedOption,
        hidden_aliases=hidden_aliases,
        type=click.Path(path_type=Path),
        help=f"{help_text} ({'a folder' if kind == 'folder' else 'a file'}).",
        **kwargs,
    )


def limit_option(
    default: int | None,
    help_text: str,
    name: str = "k",
    hidden_aliases: tuple[str, ...] = (),
):  # noqa: ANN201 - a click decorator
    """``-k/--limit N``: how many results to keep."""
    return click.option(
        "-k",
        "--limit",
        *hidden_aliases,
        name,
        cls=AliasedOption,
        hidden_aliases=hidden_aliases,
        type=click.IntRange(min=1),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def date_range_options(help_since: str, help_until: str, names=("since", "until"), **kwargs: Any):  # noqa: ANN001, ANN201
    """``--since DAY`` and ``--until DAY`` (hidden aliases ``--from`` and ``--to``)."""

    def decorate(command):  # noqa: ANN001, ANN202
        for flag, alias, name, text in (
            ("--until", "--to", names[1], help_until),
            ("--since", "--from", names[0], help_since),
        ):
            command = click.option(
                flag,
                alias,
                name,
                cls=AliasedOption,
                hidden_aliases=(alias,),
                type=DAY,
                help=text,
                **kwargs,
            )(command)
        return command

    return decorate


def llm_options(command):  # noqa: ANN001, ANN201 - a click decorator
    """``--llm NAME``: the brain's language model; ``--model`` is its old, deprecated spelling."""

    def deprecated(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            click.echo("terrasight: --model is deprecated here; use --llm.", err=True)
        return value

    command = click.option("--model", "model_name", default=None, hidden=True, callback=deprecated)(
        command
    )
    return click.option(
        "--llm",
        "model_name",
        default=None,
        help="The language model: the model name for the openai brain; the .gguf file for gguf.",
    )(command)


DAY = click.DateTime(formats=["%Y-%m-%d"])
"""A day, ``YYYY-MM-DD``."""

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
    default="auto",
    show_default=True,
    help=f"Change method: auto or one of {', '.join(list_methods())} (the installed ones). "
    "auto picks the method measured best for the input's kind (RGB: learned, "
    "Sentinel-2 bands by name: ms-unet, other multispectral: cva, Landsat: irmad, SAR: sar, "
    "one optical band: cva) and says why.",
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
    type and checks it (:meth:`terrasight.tasks.change.methods.base.MethodOptions.from_mapping`).

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
    help="Option for the method, repeatable. cva: tolerance=0..2, otsu=true|false, "
    "threshold=two-step|otsu|ki|three-class; irmad: "
    "threshold=significance|otsu|0..1, significance=0..1, max_iter, tol; learned: "
    "threshold=0..1, checkpoint=PATH, model=NAME, engine=auto|int8|onnx|torch; sar: "
    "filter=lee|median|mean|none, filter_size=1..11 (odd), direction=both|increase|decrease, "
    "threshold=ki|otsu|floor, scale=auto|linear|db, min_change_db.",
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


def cloud_mask_option(help_text: str):  # noqa: ANN201 - a click decorator
    """``--cloud-mask auto|on|off`` with the command's own help."""
    return click.option(
        "--cloud-mask",
        type=click.Choice(["auto", "on", "off"]),
        default="auto",
        show_default=True,
        help=help_text,
    )


def scene_options(command):  # noqa: ANN001, ANN201 - a click decorator
    """``--nodata``, ``--reflectance-scale``/``--reflectance-offset`` and ``--bbox``: how the
    images are read, the same for every job that reads them."""
    options = [
        click.option(
            "--bbox",
            default=None,
            metavar="W,S,E,N",
            help="Area of interest in WGS84 degrees: only the windows covering it are read.",
        ),
        click.option(
            "--reflectance-offset",
            type=float,
            default=0.0,
            show_default=True,
            help="Added after scaling (Landsat C2 Level-1 -0.1, Level-2 -0.2; Sentinel-2 from "
            "processing baseline 04.00 -0.1).",
        ),
        click.option(
            "--reflectance-scale",
            type=float,
            default=None,
            help="DN to reflectance factor for cloud masks when the files do not carry it "
            "(Sentinel-2 1e-4; Landsat C2 Level-1 2e-5, Level-2 2.75e-5).",
        ),
        click.option(
            "--nodata", type=float, default=None, help="Nodata value overriding the files'."
        ),
    ]
    for option in options:
        command = option(command)
    return command


def job_options(command):  # noqa: ANN001, ANN201 - a click decorator
    """``--tile-size``, ``--workers``, ``--overwrite`` and ``--no-report`` of a job with an
    output folder."""
    options = [
        click.option("--no-report", is_flag=True, help="Skip report.html."),
        click.option(
            "--overwrite", is_flag=True, help="Replace results of a different job in OUTDIR."
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=2,
            show_default=True,
            help="Threads on windows, and processes tracing objects and writing outputs.",
        ),
        click.option(
            "--tile-size", type=click.IntRange(min=256), default=None, help="Window size in px."
        ),
    ]
    for option in options:
        command = option(command)
    return command
