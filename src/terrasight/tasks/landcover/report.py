"""``report.html`` of a land-cover run: the image, the classes over it, a legend, the areas."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.io.raster import DECIMATED_READ_CACHE_MB, RasterSource
from terrasight.tasks.landcover.classes import CLASSES, COLOURS, NODATA
from terrasight.tasks.landcover.result import LandCoverResult

SIDE = 720
"""Longest side of the pictures in pixels."""


def _png(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _pictures(
    result: LandCoverResult,
    src: RasterSource,
    region: Window,
    stretch: tuple[Any, Any],
    rgb: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray]:
    scale = max(1.0, max(region.width, region.height) / SIDE)
    shape = (max(1, int(region.height / scale)), max(1, int(region.width / scale)))
    with rasterio.Env(GDAL_CACHEMAX=DECIMATED_READ_CACHE_MB), src.open() as ds:
        data = ds.read(
            list(rgb), window=region, out_shape=(3, *shape), resampling=Resampling.average
        )
    low, high = stretch
    if low is None:
        image = np.clip(data, 0, 255).astype(np.uint8)
    else:
        lo, hi = np.asarray(low).reshape(-1, 1, 1), np.asarray(high).reshape(-1, 1, 1)
        image = np.clip((data - lo) / np.maximum(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    image = image.transpose(1, 2, 0)
    with rasterio.open(result.files["raster"]) as ds:
        classes = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(COLOURS)] = COLOURS
    overlay = palette[classes]
    blend = (0.45 * image + 0.55 * overlay).astype(np.uint8)
    blend[classes == NODATA] = image[classes == NODATA]
    return image, blend


def write_report(
    result: LandCoverResult,
    path: Path,
    src: RasterSource,
    region: Window,
    stretch: tuple[Any, Any],
    rgb: tuple[int, ...],
    polygons: int,
) -> Path:
    """Write the report page (one self-contained HTML file with inline PNGs)."""
    image, blend = _pictures(result, src, region, stretch, rgb)
    rows = []
    shares = result.shares
    for i, name in enumerate(CLASSES):
        r, g, b = COLOURS[i]
        rows.append(
            f"<tr><td><span class=sw style='background:rgb({r},{g},{b})'></span>{name}</td>"
            f"<td>{result.areas[name]:,.1f}</td><td>{100 * shares[name]:.1f}%</td></tr>"
        )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Land cover: {html.escape(Path(result.source).name)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1500px}}
img{{max-width:48%;margin-right:1%;image-rendering:pixelated}}
td,th{{padding:2px 10px;text-align:right}}td:first-child{{text-align:left}}
.sw{{display:inline-block;width:1em;height:1em;margin-right:.4em;vertical-align:middle}}</style>
</head><body><h1>Land cover of {html.escape(result.source)}</h1>
<p>{result.width} x {result.height} px, CRS {html.escape(str(result.crs))}; pixels whose most
probable class is under {result.threshold:.2f} are <em>unknown</em>;
{_rules(result)}; {polygons} polygons.</p>
<img alt="image" src="data:image/png;base64,{_png(image)}">
<img alt="land cover" src="data:image/png;base64,{_png(blend)}">
<table><tr><th>class</th><th>area ({result.unit})</th><th>share</th></tr>{"".join(rows)}</table>
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def _rules(result: LandCoverResult) -> str:
    """Which rules joined the RGB model, in words."""
    if result.spectral:
        return "NDVI/NDWI rules applied"
    if result.coarse:
        return "water and vegetation from the coarse-cover network (RGB at ~10 m)"
    return "RGB model only"
