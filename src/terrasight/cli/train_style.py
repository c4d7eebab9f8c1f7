"""``terrasight train caption-style``: the wording of change captions, from LEVIR-CC."""

from __future__ import annotations

from pathlib import Path

import click

SHIPPED = Path(__file__).resolve().parents[1] / "tasks" / "interpret" / "levir_style.json"


@click.command(name="caption-style")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="The data folder holding levir-cc/LevirCCcaptions.json (e.g. ../shared/data).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=SHIPPED,
    show_default=True,
    help="Where to write the style table.",
)
def caption_style(data: Path, out: Path) -> None:
    """Learn which words change captions use (nouns, quantities, verbs, places) from the
    LEVIR-CC training captions, and write the style table the captions are made with."""
    from terrasight.training.caption_style import build_style

    path = build_style(data, out)
    click.echo(f"wrote {path}")
