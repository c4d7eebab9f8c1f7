"""What ``terrasight --help`` lists for each command, so that listing imports no command.

Each line is the first sentence of the command's docstring (click's short help);
``tests/cli/test_option_snapshot.py`` checks that they still agree.
"""

from __future__ import annotations

SUMMARIES = {
    "change": "Find what changed between BEFORE and AFTER (two images of one place).",
    "series": "When did each place change, over three or more IMAGES of it?",
    "describe": "Say in words what changed between BEFORE and AFTER, or what one image shows.",
    "ask": "Answer a plain-language QUESTION about what changed between BEFORE and AFTER, or "
    "about one IMAGE.",
    "chat": "Talk about what changed between BEFORE and AFTER (or a result folder BEFORE, "
    "or a series folder BEFORE: when things changed), or about one image BEFORE alone (its "
    "land cover, counts, areas, where things are).",
    "batch": "Find what changed in every pair of TABLE, a CSV with columns before, after, name.",
    "mcp": "Offer the agent's tools over BEFORE and AFTER (or a result folder BEFORE, or a "
    "series folder BEFORE) to any MCP client: detect, facts, count, measure, locate, ask, "
    "describe, search the archive, when things changed.",
    "landcover": "Classify every pixel of IMAGE: building, road, water, vegetation, bare or "
    "unknown.",
    "demo": "Run change detection on the sample pair and say how well it did.",
    "classify": "Zero-shot classification of IMAGE into the given labels "
    "(needs terrasight[learned]).",
    "search": "The K images of FOLDER (searched recursively) that best match QUERY.",
    "search-scenes": "List the scenes (STAC Items) of a collection over a box between two "
    "dates, by date.",
    "eval": "Score terrasight on labelled datasets (precision, recall, F1, IoU, kappa).",
    "train": "Train learned models (needs PyTorch: pip install terrasight[learned]).",
    "models": "The registered models: change detectors, backbones and image-text (vl) models.",
    "index": "Index the tiles of many scenes and search them by text, image, place and date.",
    "find": "Score every tile of SCENE against TEXT: a heat map GeoTIFF and the best regions.",
    "serve": "Serve the web app: a map of the two dates, the change, and questions about it.",
}
