"""``terrasight search "query" DIR [-k 5] [--model NAME]``: text search over a folder of images."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import limit_option, model_options

SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".jp2", ".webp")


@click.command(name="search")
@click.argument("query")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@limit_option(5, "Images kept.")
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def search(
    query: str, folder: Path, k: int, model: str, checkpoint: str | None, as_json: bool
) -> None:
    """The K images of FOLDER (searched recursively) that best match QUERY."""
    from tqdm import tqdm

    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.embed import load_model
    from terrasight.tasks.embed import search as search_images

    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not paths:
        raise click.UsageError(f"no images ({', '.join(SUFFIXES)}) in {folder}")
    cache = ModelCache()  # this command's models, dropped when it ends
    vl = load_model(model, checkpoint, cache=cache)
    with tqdm(total=len(paths), unit="image", desc="embedding", disable=None, leave=False) as bar:
        hits = search_images(query, paths, k=k, model=vl, progress=bar.update, cache=cache)
    if as_json:
        click.echo(json.dumps([{"path": str(p), "score": round(s, 4)} for p, s in hits]))
        return
    for path, score in hits:
        click.echo(f"{score:7.3f}  {path}")
