"""A contact sheet: the thumbnails of search hits on one PNG, ranked, with their scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from terrasight.errors import TerrasightError
from terrasight.index.search import Hit
from terrasight.io.chips import open_scene, read_chips
from terrasight.io.remote import source_name

THUMB = 160
"""Thumbnail side in pixels."""
CAPTION = 30
"""Height of the caption strip under each thumbnail."""


def thumbnail(hit: Hit, size: int = THUMB) -> np.ndarray:
    """The hit's tile as a uint8 ``(size, size, 3)`` picture (grey when it cannot be read)."""
    from PIL import Image

    try:
        chip = read_chips(open_scene(hit.source), [Window(*hit.window)])[0]
    except (TerrasightError, OSError, ValueError):
        return np.full((size, size, 3), 96, np.uint8)
    img = Image.fromarray(chip).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img)


def contact_sheet(hits: Sequence[Hit], path: str | Path, columns: int = 5) -> Path:
    """Write the hits' thumbnails as a grid PNG, each captioned with rank, score and file name.

    Example:
        >>> hits = open("archive.lance").search("a stadium", k=10)  # doctest: +SKIP
        >>> contact_sheet(hits.hits, "stadiums.png")  # doctest: +SKIP
    """
    from PIL import Image, ImageDraw

    path = Path(path)
    columns = max(1, min(columns, len(hits) or 1))
    rows = max(1, -(-len(hits) // columns))
    cell_h = THUMB + CAPTION
    sheet = Image.new("RGB", (columns * THUMB, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, hit in enumerate(hits):
        x, y = (i % columns) * THUMB, (i // columns) * cell_h
        sheet.paste(Image.fromarray(thumbnail(hit)), (x, y))
        draw.text((x + 4, y + THUMB + 2), f"#{hit.rank}  {hit.score:.3f}", fill=(0, 0, 0))
        name = source_name(hit.source)
        label = name if len(name) <= 24 else name[:21] + "..."
        draw.text((x + 4, y + THUMB + 15), f"{label}:{hit.tile}", fill=(80, 80, 80))
    if not hits:
        draw.text((8, 8), "no tiles matched", fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG")
    return path
