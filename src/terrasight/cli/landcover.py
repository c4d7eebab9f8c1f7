"""``terrasight landcover IMAGE -o OUT [--json]``: land cover per pixel, its areas and polygons."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import IMAGE, bands_option, cloud_mask_option, parse_bands
from terrasight.io.vectors import jsonable


@click.command(name="landcover")
@click.argument("image", type=IMAGE)
@click.option(
    "-o",
    "--outdir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for landcover.tif, landcover.gpkg/.geojson, landcover.json and report.html.",
)
@bands_option
@click.option("--bbox", default=None, metavar="W,S,E,N", help="Only this WGS84 box.")
@click.option("--nodata", type=float, default=None, help="Nodata value overriding the file's.")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Pixels whose most probable class is under this are 'unknown' (default: the "
    "model's, chosen on its validation tile).",
)
@click.option("--no-spectral", is_flag=True, help="Skip the NDVI/NDWI rules (red+NIR images).")
@click.option(
    "--no-coarse",
    is_flag=True,
    help="Skip the coarse-cover rules (water and vegetation of RGB images at 5 m or coarser).",
)
@cloud_mask_option(
    "Leave clouds and cloud shadows out as nodata (needs blue, green, red, nir in reflectance)."
)
@click.option(
    "--reflectance-scale",
    type=float,
    default=None,
    help="DN to reflectance factor for cloud masks when the file does not carry it "
    "(Sentinel-2 1e-4; Landsat C2 Level-1 2e-5, Level-2 2.75e-5).",
)
@click.option(
    "--reflectance-offset",
    type=float,
    default=0.0,
    show_default=True,
    help="Added after scaling (Landsat C2 Level-1 -0.1, Level-2 -0.2).",
)
@click.option("--tile-size", type=click.IntRange(min=64), default=1024, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@click.option("--overwrite", is_flag=True, help="Replace earlier land-cover outputs in OUTDIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the classes and areas as JSON.")
def landcover(
    image: str,
    outdir: Path,
    bands: str | None,
    bbox: str | None,
    nodata: float | None,
    threshold: float | None,
    no_spectral: bool,
    no_coarse: bool,
    cloud_mask: str,
    reflectance_scale: float | None,
    reflectance_offset: float,
    tile_size: int,
    threads: int,
    no_report: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Classify every pixel of IMAGE: building, road, water, vegetation, bare or unknown.

    IMAGE is a file, a URL (https://, s3://, gs://) or a STAC Item (.json file
    or URL). RGB is enough; with red and near-infrared bands, NDVI and NDWI
    override the RGB model where they are unambiguous; RGB at 5 m or coarser
    (Sentinel-2 true colour) takes water and vegetation from a second network
    taught by Sentinel-2's infrared bands. Areas are in m2 (pixels
    for an image without a CRS). With blue, green, red and NIR in
    reflectance units, clouds and their shadows are left out as nodata.

    \b
    terrasight landcover scene.tif -o lc/
    terrasight landcover landsat.tif -o lc/ --reflectance-scale 2e-5 --reflectance-offset -0.1
    terrasight landcover scene.tif -o lc/ --bbox 55.27,25.19,55.29,25.21 --json
    """
    from terrasight.io.aoi import parse_bbox
    from terrasight.tasks.landcover import LandCoverOptions
    from terrasight.tasks.landcover import landcover as run

    options = LandCoverOptions(
        tile_size=tile_size,
        threshold=threshold,
        spectral=not no_spectral,
        threads=threads,
        coarse=not no_coarse,
        cloud_mask=cloud_mask,
        reflectance_scale=reflectance_scale,
        reflectance_offset=reflectance_offset,
    )
    result = run(
        image,
        outdir,
        bands=parse_bands(bands),
        bbox=None if bbox is None else parse_bbox(bbox),
        nodata=nodata,
        options=options,
        report=not no_report,
        overwrite=overwrite,
    )
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(jsonable(result.to_dict()), indent=2, allow_nan=False))
        return
    for name, area in result.areas.items():
        click.echo(f"{name:11s} {area:16,.1f} {result.unit} {100 * result.shares[name]:6.1f}%")
    for kind, path in result.files.items():
        click.echo(f"  {kind:11s} {path}")
