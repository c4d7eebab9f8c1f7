"""``terrasight classify IMAGE --labels "a,b,c" [--model NAME [--checkpoint PATH]] [--template T]``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import IMAGE, model_options


@click.command(name="classify")
@click.argument("image", type=IMAGE)
@click.option(
    "--labels", required=True, help='Comma-separated class names, e.g. "forest,airport,beach".'
)
@click.option(
    "--template",
    "templates",
    multiple=True,
    help="Prompt template with {} (repeatable); default: the model's own prompts.",
)
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def classify(
    image: Path,
    labels: str,
    templates: tuple[str, ...],
    model: str,
    checkpoint: str | None,
    as_json: bool,
) -> None:
    """Zero-shot classification of IMAGE into the given labels (needs terrasight[learned]).

    IMAGE is a photo or any raster (a multi-band GeoTIFF is shown to the model
    as its red, green and blue bands).
    """
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.embed import classify as classify_image
    from terrasight.tasks.embed import load_model

    names = [s.strip() for s in labels.split(",") if s.strip()]
    if not names:
        raise click.UsageError("--labels needs at least one non-empty name")
    cache = ModelCache()  # this command's models and label embeddings, dropped when it ends
    vl = load_model(model, checkpoint, cache=cache)
    ranked = classify_image(image, names, templates=list(templates) or None, model=vl, cache=cache)
    if as_json:
        click.echo(json.dumps([{"label": n, "score": round(p, 4)} for n, p in ranked]))
        return
    for name, prob in ranked:
        click.echo(f"{prob:7.3f}  {name}")
