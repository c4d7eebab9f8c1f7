"""Names and codes of a change job's outputs (a leaf module: it imports nothing)."""

MASK_NODATA = 255
"""Value of ``change_mask.tif`` where no answer could be given (nodata, cloud, outside overlap)."""

OUTPUT_NAMES = {
    "mask": "change_mask.tif",
    "probability": "change_probability.tif",
    "geojson": "changes.geojson",
    "geopackage": "changes.gpkg",
    "summary": "summary.json",
    "report": "report.html",
}
"""File name of each output, by kind."""

STORE_NAME = "change_objects.jsonl"
"""File of the objects, one JSON line each, beside the mask."""
