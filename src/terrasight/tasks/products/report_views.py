"""Views of ``report.html`` for large scenes: a zoomable overlay and clips of the largest objects.

A 1024 px picture of a 10,000 px scene hides small changes. The report adds:

* a larger change overlay (:data:`ZOOM_FACTOR` times the pictures' size) that the reader
  pans and zooms in the page (plain JavaScript and CSS, no network);
* before, after and overlay clips around each of the :data:`CLIPS` largest
  objects, read from the files at (up to) full resolution.

Everything is read decimated or by window, so memory stays bounded.
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from PIL import Image, ImageDraw
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.errors import TerrasightError
from terrasight.tasks.change.objects.outlines import Outline, dict_rings, outlines
from terrasight.tasks.change.output import quicklook as ql
from terrasight.tasks.change.output.page_style import format_area
from terrasight.tasks.interpret.crops import open_crops

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeObject, ChangeResult

ZOOM_FACTOR = 2
"""The zoomable overlay's longest side is this many times the report's pictures' (2048 px)."""
CLIPS = 12
"""Largest objects shown as clips."""
CLIP_SIDE = 192
"""Longest side of a clip picture; smaller windows are shown at full resolution."""

CSS = """
.zoom{position:relative;overflow:hidden;border:1px solid #ccd;background:#20242c;cursor:grab;
 touch-action:none;height:70vh}
.zoom.grab{cursor:grabbing}
.zoom img{position:absolute;left:0;top:0;transform-origin:0 0;max-width:none;
 image-rendering:pixelated;user-select:none;-webkit-user-drag:none}
.zoombar{margin:6px 0}.zoombar button{font-size:14px;min-width:36px;margin-right:4px}
.clips{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
.clip{background:#f4f5f7;border-radius:4px;padding:6px}
.clip .cap{font-size:13px;margin-bottom:4px}
.trio{display:grid;grid-template-columns:repeat(3,1fr);gap:4px}
.trio img{width:100%;height:auto;image-rendering:pixelated;border:1px solid #ccd}
.trio figcaption{font-size:11px;margin:0}
"""

ZOOM_JS = """
(function(){
 var box = document.getElementById('zoom'); if (!box) return;
 var img = box.querySelector('img'), s = 1, x = 0, y = 0, fitS = 1, drag = null;
 function apply(){ img.style.transform = 'translate(' + x + 'px,' + y + 'px) scale(' + s + ')'; }
 function fit(){
  fitS = Math.min(box.clientWidth / img.naturalWidth, box.clientHeight / img.naturalHeight);
  s = fitS; x = (box.clientWidth - img.naturalWidth * s) / 2;
  y = (box.clientHeight - img.naturalHeight * s) / 2; apply();
 }
 function zoom(f, cx, cy){
  var n = Math.min(Math.max(s * f, fitS / 2), 16);
  x = cx - (cx - x) * n / s; y = cy - (cy - y) * n / s; s = n; apply();
 }
 box.addEventListener('wheel', function(e){
  e.preventDefault(); var r = box.getBoundingClientRect();
  zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
 }, {passive: false});
 box.addEventListener('pointerdown', function(e){
  drag = [e.clientX - x, e.clientY - y]; box.classList.add('grab');
  box.setPointerCapture(e.pointerId);
 });
 box.addEventListener('pointermove', function(e){
  if (drag){ x = e.clientX - drag[0]; y = e.clientY - drag[1]; apply(); }
 });
 box.addEventListener('pointerup', function(){ drag = null; box.classList.remove('grab'); });
 box.addEventListener('dblclick', fit);
 document.querySelectorAll('[data-zoom]').forEach(function(b){
  b.addEventListener('click', function(){
   var f = parseFloat(b.dataset.zoom);
   if (!f) { fit(); } else { zoom(f, box.clientWidth / 2, box.clientHeight / 2); }
  });
 });
 if (img.complete) fit(); else img.addEventListener('load', fit);
})();
"""


def jpeg_data_uri(rgb: np.ndarray, quality: int = 85) -> str:
    """Encode an RGB uint8 array as a ``data:image/jpeg;base64,...`` URI.

    Example:
        >>> jpeg_data_uri(np.zeros((2, 2, 3), np.uint8))[:23]
        'data:image/jpeg;base64,'
    """
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def zoom_shape(result: ChangeResult, shown_side: int) -> tuple[int, int] | None:
    """``(height, width)`` of the zoomable overlay, or None when the pictures show every pixel.

    Example:
        >>> from types import SimpleNamespace
        >>> zoom_shape(SimpleNamespace(width=8192, height=4096), 1024)
        (1024, 2048)
    """
    if max(result.width, result.height) <= shown_side:
        return None
    return ql.quicklook_shape(result.width, result.height, ZOOM_FACTOR * shown_side)


def zoom_section(
    result: ChangeResult,
    shown_side: int,
    after: np.ndarray | None = None,
    objects: Sequence[Outline] | None = None,
) -> str:
    """The zoomable overlay's section, or ``""`` when the report's pictures show every pixel.

    ``after`` is the after image at :func:`zoom_shape` when already read (else it
    is read here); ``objects`` the outlines to draw (else the largest objects').

    Example:
        >>> html = zoom_section(result, 1024)  # doctest: +SKIP
        >>> 'id="zoom"' in html  # doctest: +SKIP
        True
    """
    shape = zoom_shape(result, shown_side)
    if shape is None:
        return ""
    scale = shape[1] / result.width
    if after is None:
        try:
            _, after, _ = ql.read_dates(result, shape, dates=("after",))
        except Exception:  # noqa: BLE001 - inputs gone: the overlay on grey still helps
            after = None
    base = after if after is not None else np.full(shape + (3,), 160, np.uint8)
    top = outlines(result.objects, ql.MAX_LABELS) if objects is None else objects
    overlay = ql.change_overlay(base, ql.read_mask(result, shape), top, result, scale)
    uri = jpeg_data_uri(overlay)
    del base, overlay
    side = f"{shape[1]:,} × {shape[0]:,} px, {scale:.3g} of full resolution"
    return (
        "<section><h2>Change overlay to explore</h2>"
        f'<p class="note">{escape(side)}. Scroll to zoom, drag to pan, double-click to fit.</p>'
        '<div class="zoombar"><button data-zoom="1.5">+</button>'
        '<button data-zoom="0.6667">−</button><button data-zoom="0">fit</button></div>'
        f'<div class="zoom" id="zoom"><img src="{uri}" alt="zoomable change overlay" '
        'draggable="false"></div></section>'
    )


def clip_window(obj: ChangeObject, width: int, height: int) -> Window:
    """A square-ish window of the output grid around an object, with a margin, inside the grid.

    Example:
        >>> from types import SimpleNamespace
        >>> clip_window(SimpleNamespace(pixel_bbox=(10, 10, 20, 14)), 100, 100)
        Window(col_off=0, row_off=0, width=32, height=32)
    """
    c0, r0, c1, r1 = obj.pixel_bbox
    side = min(max(c1 - c0, r1 - r0, 16) * 2, max(width, height))
    w, h = min(side, width), min(side, height)
    x0 = min(max(0, (c0 + c1) // 2 - w // 2), width - w)
    y0 = min(max(0, (r0 + r1) // 2 - h // 2), height - h)
    return Window(x0, y0, w, h)


def _clip(result: ChangeResult, obj: ChangeObject, crops: Any) -> list[tuple[str, str]]:
    """(caption, data URI) of the before, after and overlay clips of one object.

    The dates are shown with each date's scene-wide stretch (``crops``), so a bright
    new roof does not turn its surroundings black; without the inputs, the mask only."""
    window = clip_window(obj, result.width, result.height)
    scale = min(1.0, CLIP_SIDE / max(window.width, window.height))
    shape = (max(1, round(window.height * scale)), max(1, round(window.width * scale)))
    before = after = None
    if crops is not None:
        before = crops.crop("before", window, CLIP_SIDE)
        after = crops.crop("after", window, CLIP_SIDE)
    with rasterio.open(result.mask_path) as ds:
        mask = ds.read(1, window=window, out_shape=shape, resampling=Resampling.mode)
    base = after if after is not None else np.full(shape + (3,), 160, np.uint8)
    overlay = ql.change_overlay(base, mask, [], result, scale)
    img = Image.fromarray(overlay, "RGB")
    _outline(img, obj, result, window, scale)
    dates = [
        (n, ql.png_data_uri(p)) for n, p in (("before", before), ("after", after)) if p is not None
    ]
    return dates + [("change", ql.png_data_uri(np.asarray(img)))]


def _outline(
    img: Image.Image, obj: ChangeObject, result: ChangeResult, window: Window, scale: float
) -> None:
    """Draw the object's outline on a clip."""
    inv = ~result.affine
    draw = ImageDraw.Draw(img)
    for ring in dict_rings(obj.geometry):
        pts = []
        for x, y in ring.tolist():
            col, row = inv * (x, y)
            pts.append(((col - window.col_off) * scale, (row - window.row_off) * scale))
        if len(pts) >= 2:
            draw.line(pts + [pts[0]], fill=ql.OUTLINE, width=1)


def clips_section(
    result: ChangeResult, land: dict[int, str] | None = None, crops: Any = None
) -> str:
    """Before, after and overlay clips of the :data:`CLIPS` largest objects (``""`` if none).

    ``crops``: the inputs already opened (:func:`open_crops`); None opens them here.

    Example:
        >>> clips_section(result).count('class="clip"')  # doctest: +SKIP
        12
    """
    cards = []
    with contextlib.ExitStack() as stack:
        try:
            if crops is None:
                crops = stack.enter_context(open_crops(result))
        except TerrasightError:  # the inputs are gone or unreadable: show the mask only
            crops = None
        for obj in result.objects[:CLIPS]:
            cards.append(_card(result, obj, crops, land))
    if not cards:
        return ""
    return (
        f"<section><h2>The {len(cards)} largest objects</h2>"
        f'<div class="clips">{"".join(cards)}</div></section>'
    )


def _card(result: ChangeResult, obj: ChangeObject, crops: Any, land: dict[int, str] | None) -> str:
    figs = "".join(
        f'<figure><img src="{uri}" alt="{name} of object {obj.id}">'
        f"<figcaption>{name}</figcaption></figure>"
        for name, uri in _clip(result, obj, crops)
    )
    cap = f"#{obj.id} · {format_area(obj.area, obj.area_unit)} · {obj.location}"
    if land and obj.id in land:
        cap += f" · {land[obj.id]}"
    return (
        f'<div class="clip"><div class="cap">{escape(cap)}</div>'
        f'<div class="trio">{figs}</div></div>'
    )
