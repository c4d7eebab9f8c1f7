"""Land cover per pixel: building, road, water, vegetation, bare, unknown.

``landcover(image, outdir)`` classifies a whole scene window by window with
the shipped network (ONNX Runtime); ``classify_window(rgb, network)`` gives
the class probabilities of one RGB window, for steps that work per window.

>>> CLASSES[:5]
('building', 'road', 'water', 'vegetation', 'bare')
"""

from terrasight.tasks.landcover.classes import CLASSES, NODATA, UNKNOWN, class_table
from terrasight.tasks.landcover.model import classes_of, classify_window, spectral_rules
from terrasight.tasks.landcover.result import LandCoverResult
from terrasight.tasks.landcover.run import LandCoverOptions, landcover

__all__ = [
    "CLASSES",
    "NODATA",
    "UNKNOWN",
    "LandCoverOptions",
    "LandCoverResult",
    "class_table",
    "classes_of",
    "classify_window",
    "landcover",
    "spectral_rules",
]
