"""``report.html``: one self-contained page for an analyst (no network needed to open it).

CSS and the table-sorting script are inline; pictures are PNG data URIs made by
:mod:`terrasight.tasks.change.output.quicklook` from decimated reads, so memory stays
bounded whatever the scene size.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasterio.crs import CRS

from terrasight.tasks.change.objects.outlines import outlines, without_geometry
from terrasight.tasks.change.output import quicklook as ql
from terrasight.tasks.change.output.page_style import CSS, SORT_JS, format_area
from terrasight.tasks.products import report_views as views

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeObject, ChangeResult
    from terrasight.tasks.interpret.facts_data import ChangeFacts

__all__ = ["CSS", "MAX_ROWS", "SORT_JS", "crs_label", "format_area", "write_report"]

MAX_ROWS = 500
"""Objects listed in the table (the largest)."""


def write_report(
    result: ChangeResult,
    path: Path,
    max_side: int = 1024,
    facts: ChangeFacts | None = None,
    caption: str | None = None,
    crops: Any = None,
) -> Path:
    """Write a self-contained ``report.html`` for ``result`` and return its path.

    The page holds the run's facts (files, method, CRS, grid, key figures), the
    warnings, four pictures (before, after, change overlay with object ids,
    probability heat map) at most ``max_side`` pixels a side, a larger overlay to
    pan and zoom when the scene is bigger than that, before/after/overlay clips
    of the largest objects (see :mod:`~terrasight.tasks.products.report_views`), and
    a sortable table of the largest :data:`MAX_ROWS` objects. It needs no network
    to open.

    Args:
        result: a change result whose mask and probability files exist.
        path: the HTML file to write (its folder is created).
        max_side: longest side of each picture in pixels.
        facts: the result's change facts: each object's land cover before and after
            is shown in the clips and the table.
        caption: the change in words, shown first.
        crops: the inputs already opened for the clips
            (:func:`~terrasight.tasks.interpret.crops.open_crops`); None opens them here.

    Example:
        >>> result = detect_changes("2019.tif", "2024.tif")  # doctest: +SKIP
        >>> write_report(result, Path("out/report.html"), max_side=800)  # doctest: +SKIP
        PosixPath('out/report.html')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    top = outlines(result.objects, ql.MAX_LABELS)  # the largest objects' outlines, read once
    zoom = views.zoom_shape(result, max_side)
    looks, notes = ql.render(result, max_side, zoom, top)
    land = land_cover_labels(facts)
    parts = [
        _header(result),
        "<main>",
        _unreliable(result.quality_issues),
        _words(caption, facts),
        _warnings(list(result.other_warnings) + notes),
        _facts(result),
        _pictures(looks),
        views.zoom_section(result, max_side, looks.zoom_after, top),
        views.clips_section(result, land, crops),
        _table(result, land),
        _details(result),
        "</main>",
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Change report: {escape(Path(result.before).name)} vs "
        f"{escape(Path(result.after).name)}</title><style>{CSS}{views.CSS}</style></head><body>\n"
        + "\n".join(p for p in parts if p)
        + f"\n<script>{SORT_JS}{views.ZOOM_JS}</script>\n</body></html>\n"
    )
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def crs_label(crs: str | None) -> str:
    """Short name of a CRS given as WKT: ``"EPSG:32633"``, its name, or ``"none (pixel space)"``.

    Example:
        >>> crs_label(CRS.from_epsg(32633).to_wkt()), crs_label(None)
        ('EPSG:32633', 'none (pixel space)')
    """
    if not crs:
        return "none (pixel space)"
    try:
        parsed = CRS.from_wkt(crs)
    except Exception:  # noqa: BLE001 - rasterio raises CRSError or others for odd WKT
        return "custom CRS"
    epsg = parsed.to_epsg()
    if epsg:
        return f"EPSG:{epsg}"
    name = crs.split('"')[1] if crs.count('"') >= 2 else "custom CRS"
    return name


def _pixel_size(result: ChangeResult) -> str:
    a, e = abs(result.transform[0]), abs(result.transform[4])
    if not result.crs:
        return "1 px (pixel space)"
    try:
        crs = CRS.from_wkt(result.crs)
        unit = "°" if crs.is_geographic else " " + (crs.linear_units or "m").replace("metre", "m")
    except Exception:  # noqa: BLE001
        unit = ""
    fmt = ".3g" if max(a, e) < 0.01 else ".6g"
    return f"{a:{fmt}}{unit} × {e:{fmt}}{unit}"


def _header(result: ChangeResult) -> str:
    b, a = Path(result.before).name, Path(result.after).name
    fmt = "%Y-%m-%d %H:%M %Z"
    now = datetime.now().astimezone()
    try:  # the mask is written by the run: its time is the run's
        ran = datetime.fromtimestamp(Path(result.mask_path).stat().st_mtime).astimezone()
    except OSError:
        ran = now
    return (
        f"<header><h1>What changed: {escape(b)} → {escape(a)}</h1>"
        f'<div class="sub">method {escape(result.method)} · run {escape(ran.strftime(fmt))}'
        f" · report written {escape(now.strftime(fmt))}</div></header>"
    )


def _unreliable(issues: tuple[str, ...]) -> str:
    """A banner above everything when the result as a whole cannot be trusted."""
    if not issues:
        return ""
    items = "".join(f"<li>{escape(i)}</li>" for i in issues)
    return (
        '<section class="unreliable"><h2>Unreliable result: do not read "no change" as an '
        f"answer</h2><ul>{items}</ul></section>"
    )


def land_cover_labels(facts: ChangeFacts | None) -> dict[int, str]:
    """``{object id: "vegetation → built-up (0.61 → 0.72)"}`` for classified objects.

    Example:
        >>> land_cover_labels(None)
        {}
    """
    if facts is None:
        return {}
    out = {}
    for f in facts.objects:
        if f.classified:
            conf = f"{f.before_confidence or 0:.2f} → {f.after_confidence or 0:.2f}"
            out[f.id] = f"{f.before_class} → {f.after_class} ({conf})"
    return out


def _words(caption: str | None, facts: ChangeFacts | None) -> str:
    """The change in words, and what the land-cover classes leave out."""
    if not caption:
        return ""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in (facts.notes if facts else ()))
    model = f" (land cover by {facts.model}, zero-shot)" if facts and facts.model else ""
    return (
        f'<section><h2>In words{escape(model)}</h2><p style="font-size:16px">'
        f"{escape(caption)}</p>{notes}</section>"
    )


def _warnings(warnings: list[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return f'<section class="warn"><h2>Warnings</h2><ul>{items}</ul></section>'


def _facts(result: ChangeResult) -> str:
    total = result.width * result.height
    nodata = max(0, total - result.valid_pixels - result.cloud_pixels)
    figures = [
        ("change objects", f"{len(result.objects):,}"),
        ("changed area", format_area(result.changed_area, result.area_unit)),
        ("changed share of valid pixels", f"{100 * result.changed_fraction:.2f} %"),
        ("valid pixels", f"{result.valid_pixels:,}"),
        (
            "cloud / shadow pixels excluded",
            f"{result.cloud_pixels:,}"
            if result.clouds_checked
            else result.cloud_check or "not recorded",
        ),
        ("no-data pixels excluded", f"{nodata:,}"),
    ]
    cards = "".join(
        f'<div class="fact"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div></div>'
        for k, v in figures
    )
    meta = [
        ("before", result.before),
        ("after", result.after),
        ("method", _method_words(result)),
        ("bands", ", ".join(result.band_names) or "all"),
        ("CRS", crs_label(result.crs)),
        ("grid", f"{result.width:,} × {result.height:,} px"),
        ("pixel size", _pixel_size(result)),
        ("pixel area", f"{result.pixel_area:.6g} {result.area_unit}"),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in meta)
    return (
        f'<section><h2>Key figures</h2><div class="facts">{cards}</div></section>'
        f'<section><h2>Run</h2><dl class="meta">{rows}</dl></section>'
    )


def _method_words(result: ChangeResult) -> str:
    """The method, and for ``auto`` what it chose and why."""
    choice = result.method_choice
    if not choice:
        return result.method
    return f"{result.method} (chosen by auto for a {choice['kind']} input: {choice['reason']})"


def _figure(uri: str, caption: str, extra: str = "") -> str:
    return (
        f'<figure><img src="{uri}" alt="{escape(caption)}">'
        f"<figcaption>{caption}</figcaption>{extra}</figure>"
    )


def _pictures(looks: ql.Quicklooks) -> str:
    figs = []
    shown = f" ({escape(looks.display)})" if looks.display else ""
    for img, name in ((looks.before, "Before"), (looks.after, "After")):
        if img is not None:
            figs.append(_figure(ql.png_data_uri(img), f"{name}{shown}"))
    sw = '<span class="swatch" style="background:{}"></span>'
    legend = (
        f"Change overlay: {sw.format('#f00')} changed, {sw.format('#ffdd00')} object outline "
        f"with its id, {sw.format('#6e6e6e')} no data / cloud"
    )
    figs.append(_figure(ql.png_data_uri(looks.overlay), legend))
    bar = (
        f'<div class="bar" style="background:{ql.heat_gradient_css()}"></div>'
        '<div class="ticks"><span>0</span><span>0.25</span><span>0.5</span>'
        "<span>0.75</span><span>1</span></div>"
    )
    figs.append(_figure(ql.png_data_uri(looks.heat), "Change probability (grey: no data)", bar))
    return f'<section><h2>Pictures</h2><div class="pics">{"".join(figs)}</div></section>'


def _table(result: ChangeResult, land: dict[int, str] | None = None) -> str:
    total = len(result.objects)
    objs = without_geometry(result.objects, MAX_ROWS)  # largest first: only these are read
    if not objs:
        return '<section><h2>Change objects</h2><p class="note">No change objects.</p></section>'
    lonlat = any(o.centroid_lonlat is not None for o in objs)
    where = ("lon", "lat") if lonlat else ("x (px)", "y (px)")
    heads = [
        ("id", "num"),
        (f"area ({_unit(result)})", "num"),
        ("location", "t"),
        ("land cover before → after", "t"),
        (where[0], "num"),
        (where[1], "num"),
        ("mean probability", "num"),
        (f"bbox ({crs_label(result.crs)})" if result.crs else "bbox (px)", "t"),
    ]
    head = "".join(
        f'<th data-type="{t}"{" class=t" if t == "t" else ""}>{escape(h)}</th>' for h, t in heads
    )
    rows = "".join(_row(o, result, lonlat, (land or {}).get(o.id, "")) for o in objs)
    note = ""
    if total > MAX_ROWS:
        note = (
            f'<p class="note">Showing the {MAX_ROWS} largest of {total:,} objects; '
            "all of them are in changes.geojson and summary.json.</p>"
        )
    return (
        f'<section><h2>Change objects</h2>{note}<p class="note">Click a column to sort.</p>'
        f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</section>"
    )


def _unit(result: ChangeResult) -> str:
    return "m²" if result.area_unit == "m2" else result.area_unit


def _row(obj: ChangeObject, result: ChangeResult, lonlat: bool, land: str = "") -> str:
    if lonlat and obj.centroid_lonlat is not None:
        x, y = obj.centroid_lonlat
        xs, ys = f"{x:.6f}", f"{y:.6f}"
    else:
        x, y = ~result.affine * obj.centroid_image_crs if result.crs else obj.centroid_image_crs
        xs, ys = f"{x:.1f}", f"{y:.1f}"
    digits = 1 if result.crs and not _geographic(result.crs) else 6
    bbox = (
        ", ".join(f"{v:.{digits}f}" for v in obj.bbox_image_crs)
        if result.crs
        else ", ".join(str(v) for v in obj.pixel_bbox)
    )
    cells = [
        (obj.id, str(obj.id), ""),
        (obj.area, f"{obj.area:,.1f}", ""),
        (obj.location, obj.location, "t"),
        (land, land, "t"),
        (x, xs, ""),
        (y, ys, ""),
        (obj.mean_probability, f"{obj.mean_probability:.3f}", ""),
        (bbox, bbox, "t"),
    ]
    tds = "".join(
        f'<td data-v="{escape(str(v))}"{" class=t" if c else ""}>{escape(s)}</td>'
        for v, s, c in cells
    )
    return f'<tr title="pixel bbox {escape(str(obj.pixel_bbox))}">{tds}</tr>'


def _geographic(crs: str) -> bool:
    try:
        return CRS.from_wkt(crs).is_geographic
    except Exception:  # noqa: BLE001
        return False


def _details(result: ChangeResult) -> str:
    params = json.dumps(result.params, indent=1, default=str)
    if len(params) > 4000:
        params = params[:4000] + "\n…"
    return (
        "<section><details><summary>Method parameters</summary>"
        f"<pre>{escape(params)}</pre></details></section>"
    )
