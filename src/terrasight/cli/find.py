"""``terrasight find "text" SCENE``: where in one scene is it? A heat map and the best regions."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import ImageParam, limit_option, model_options, out_option
from terrasight.io.remote import source_name


def _scales(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: give tile sides in px, e.g. 224,448") from None


@click.command(name="find")
@click.argument("text")
@click.argument("scene", type=ImageParam(exists=False))
@out_option(
    "file",
    "Regions as GeoJSON (default: SCENE_find.geojson here)",
    name="output",
    hidden_aliases=("--output",),
)
@click.option(
    "--heatmap",
    type=click.Path(path_type=Path),
    default=None,
    help="Heat map GeoTIFF (default: beside the GeoJSON, .heat.tif).",
)
@click.option(
    "--scales", default="224,448", show_default=True, help="Tile sides in px, comma-separated."
)
@click.option(
    "--overlap",
    type=click.FloatRange(0, 0.9),
    default=0.5,
    show_default=True,
    help="Fraction of a tile shared with its neighbour.",
)
@limit_option(5, "Regions kept.", name="top", hidden_aliases=("--top",))
@model_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the GeoJSON on stdout.")
def find(
    text: str,
    scene: Path | str,
    output: Path | None,
    heatmap: Path | None,
    scales: str,
    overlap: float,
    top: int,
    model: str,
    checkpoint: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Score every tile of SCENE against TEXT: a heat map GeoTIFF and the best regions.

    SCENE is a local image, an http(s)://, s3:// or gs:// URL, a /vsi path or a STAC Item.
    """
    from tqdm import tqdm

    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.find import find as find_in_scene

    output = output or Path(f"{Path(source_name(scene)).stem}_find.geojson")
    heatmap = heatmap or output.with_name(output.stem + ".heat.tif")
    bar = tqdm(unit="tile", desc="scoring", disable=quiet or None, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        found = find_in_scene(
            text,
            scene,
            heatmap,
            scales=_scales(scales),
            overlap=overlap,
            top=top,
            model=model,
            checkpoint=checkpoint,
            progress=progress,
            cache=ModelCache(),
        )
    finally:
        bar.close()
    found.save_geojson(output)
    if as_json:
        click.echo(json.dumps(found.to_geojson()))
        return
    click.echo(
        f"{len(found.regions)} regions of {scene} for {text!r} ({found.tiles} tiles scored):"
    )
    for i, region in enumerate(found.regions, start=1):
        click.echo(
            f"  {i}. score {region.score:.3f} (mean {region.mean:.3f}, {region.cells} cells)"
        )
    click.echo(f"  geojson  {output}\n  heatmap  {heatmap}")
