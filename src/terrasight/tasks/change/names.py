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

CLASSES_NAME = "change_classes.tif"
"""Land cover before (band 1) and after (band 2) of the changed pixels, written by
``terrasight.tasks.semantic`` beside the mask (not by the change job itself)."""
CLASSES_NODATA = 255
"""Value of ``change_classes.tif`` on pixels that did not change (or have no class)."""
TRANSITIONS_NAME = "change_classes.json"
"""The transition table (pixels and area per from -> to pair) beside ``change_classes.tif``."""

STORE_NAME = "change_objects.jsonl"
"""File of the objects, one JSON line each, beside the mask."""
