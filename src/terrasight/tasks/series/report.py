"""``report.html`` of a series: timeline of changed area per date and a map coloured by date.

One self-contained page (inline CSS, pictures as PNG data URIs) in the change
report's style (:mod:`terrasight.tasks.products.report`): key figures, warnings,
each date's clear share, a bar chart (inline SVG) of the area first seen
changed at each date, the map of change dates over the first image (also
written as ``change_date.png``), and the objects with their dates.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling

from terrasight.io.rgb import display_bands, stretch
from terrasight.tasks.change.output.page_style import CSS, SORT_JS, format_area
from terrasight.tasks.change.output.quicklook import png_data_uri, quicklook_shape

if TYPE_CHECKING:
    from terrasight.tasks.series.result import SeriesResult
    from terrasight.tasks.series.stack import SeriesStack

MAP_PNG = "change_date.png"
MAX_ROWS = 500
_RAMP = np.array(
    [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], np.float32
)


def date_colours(n: int) -> np.ndarray:
    """RGB uint8 ``(n, 3)``: one colour per date index, dark blue (early) to yellow (late).

    Example:
        >>> date_colours(3).tolist()
        [[68, 1, 84], [33, 145, 140], [253, 231, 37]]
    """
    pos = np.linspace(0, len(_RAMP) - 1, max(n, 1))
    i0 = np.minimum(pos.astype(int), len(_RAMP) - 2)
    frac = (pos - i0)[:, None]
    return np.rint(_RAMP[i0] * (1 - frac) + _RAMP[i0 + 1] * frac).astype(np.uint8)[:n]


def date_map(result: SeriesResult, stack: SeriesStack, max_side: int = 1024) -> np.ndarray:
    """RGB ``(h, w, 3)``: the first image in grey, changed pixels in their date's colour.

    Example:
        >>> date_map(result, stack, max_side=512).shape  # doctest: +SKIP
        (512, 512, 3)
    """
    shape = quicklook_shape(result.width, result.height, max_side)
    with rasterio.open(result.change_date_path) as ds:
        date = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    src = stack.first
    picks, _ = display_bands(stack.band_names)
    with src.open() as ds:
        data = ds.read(
            [src.bands[i] for i in picks], window=stack.region, out_shape=(len(picks), *shape),
            resampling=Resampling.average,
        ).astype(np.float32)  # fmt: skip
    rgb = stretch(data, np.isfinite(data).all(axis=0))
    grey = rgb.mean(axis=2, keepdims=True) * 0.6 + 40
    out = np.repeat(grey, 3, axis=2).astype(np.uint8)
    colours = date_colours(len(result.dates))
    dated = date >= 0
    out[dated] = colours[date[dated]]
    return out


def timeline_svg(result: SeriesResult, width: int = 720, height: int = 220) -> str:
    """An inline SVG bar chart: area first seen changed at each date after the first.

    Example:
        >>> timeline_svg(result)[:4]  # doctest: +SKIP
        '<svg'
    """
    rows = list(result.timeline)
    colours = date_colours(len(result.dates))
    top = max([float(r["changed_area"]) for r in rows] + [1e-9])
    left, bottom, bar_w = 60, 40, (width - 70) / max(len(rows), 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
             'aria-label="changed area per date" style="max-width:900px">']  # fmt: skip
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width}" '
                 f'y2="{height - bottom}" stroke="#889"/>')  # fmt: skip
    for i, row in enumerate(rows):
        value = float(row["changed_area"])
        h = (height - bottom - 20) * value / top
        x, y = left + i * bar_w + 4, height - bottom - h
        r, g, b = colours[i + 1]
        label = format_area(value, result.area_unit)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 8:.1f}" height="{h:.1f}" '
            f'fill="rgb({r},{g},{b})"><title>{escape(row["previous"])} to '
            f"{escape(row['date'])}: {escape(label)}</title></rect>"
        )
        parts.append(f'<text x="{x + (bar_w - 8) / 2:.1f}" y="{y - 4:.1f}" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
        parts.append(f'<text x="{x + (bar_w - 8) / 2:.1f}" y="{height - bottom + 16}" '
                     f'font-size="11" text-anchor="middle">{escape(row["date"])}</text>')  # fmt: skip
    parts.append(f'<text x="4" y="14" font-size="11">area ({escape(result.area_unit)})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(result: SeriesResult) -> str:
    colours = date_colours(len(result.dates))
    items = [
        f'<span style="margin-right:12px"><span class="swatch" style="background:'
        f'rgb({r},{g},{b})"></span> {escape(d)}</span>'
        for d, (r, g, b) in list(zip(result.dates, colours.tolist(), strict=True))[1:]
    ]
    return '<div class="note">first seen changed: ' + "".join(items) + "</div>"


def _facts(result: SeriesResult) -> str:
    facts = [
        ("dates", f"{len(result.dates)}: {result.dates[0]} to {result.dates[-1]}"),
        ("method", result.method),
        ("changed area", format_area(result.changed_area, result.area_unit)),
        ("change objects", str(len(result.objects))),
    ]
    cells = "".join(
        f'<div class="fact"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div></div>'
        for k, v in facts
    )
    clear = "".join(
        f"<tr><td class='t'>{escape(d)}</td><td class='t'>{escape(Path(i).name)}</td>"
        + (
            f"<td>{100 * c:.1f}%</td><td>{100 * s:.1f}%</td></tr>"
            if result.clouds_checked(k)
            else f"<td>data {100 * c:.1f}%</td>"
            f"<td>{escape((result.cloud_check[k:] or ('not recorded',))[0])}</td></tr>"
        )
        for k, (d, i, c, s) in enumerate(
            zip(result.dates, result.images, result.clear_share, result.cloud_share, strict=True)
        )
    )
    table = (
        "<table><thead><tr><th class='t'>date</th><th class='t'>image</th><th>clear</th>"
        f"<th>cloud</th></tr></thead><tbody>{clear}</tbody></table>"
    )
    return f'<section><h2>Key figures</h2><div class="facts">{cells}</div>{table}</section>'


def _objects(result: SeriesResult) -> str:
    rows = "".join(
        f"<tr><td data-v='{o.id}'>{o.id}</td><td class='t' data-v='{o.first_seen}'>"
        f"{o.first_seen}</td><td class='t' data-v='{o.last_unchanged or ''}'>"
        f"{o.last_unchanged or '-'}</td><td data-v='{o.area}'>"
        f"{escape(format_area(o.area, o.area_unit))}</td><td data-v='{o.confirmations}'>"
        f"{o.confirmations}</td><td class='t' data-v='{o.location}'>{escape(o.location)}</td></tr>"
        for o in result.objects[:MAX_ROWS]
    )
    head = "".join(
        f"<th{' class=t' if t else ''} data-type='{'txt' if t else 'num'}'>{n}</th>"
        for n, t in (("id", 0), ("first seen", 1), ("last unchanged", 1), ("area", 0),
                     ("confirmations", 0), ("location", 1))
    )  # fmt: skip
    return (
        f"<section><h2>Change objects ({len(result.objects)})</h2>"
        f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        "</section>"
    )


def write_series_report(result: SeriesResult, stack: SeriesStack, max_side: int = 1024) -> Path:
    """Write ``report.html`` and ``change_date.png`` into the result's folder.

    Example:
        >>> write_series_report(result, stack)  # doctest: +SKIP
        PosixPath('series/report.html')
    """
    picture = date_map(result, stack, max_side)
    Image.fromarray(picture, "RGB").save(result.folder / MAP_PNG)
    warnings = "".join(f"<li>{escape(w)}</li>" for w in result.warnings)
    parts = [
        f"<header><h1>When did it change? {len(result.dates)} dates, {result.dates[0]} to "
        f"{result.dates[-1]}</h1><div class='sub'>{escape(result.method)}, "
        f"{result.width} x {result.height} px</div></header><main>",
        f"<section class='warn'><h2>Warnings</h2><ul>{warnings}</ul></section>" if warnings else "",
        _facts(result),
        f"<section><h2>Timeline: area first seen changed</h2>{timeline_svg(result)}</section>",
        f"<section><h2>Map of change dates</h2><figure><img src='{png_data_uri(picture)}' "
        f"alt='change dates'><figcaption>{_legend(result)}</figcaption></figure></section>",
        _objects(result),
        "</main>",
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Series report</title><style>{CSS}</style></head><body>\n"
        + "\n".join(p for p in parts if p)
        + f"\n<script>{SORT_JS}</script>\n</body></html>\n"
    )
    path = result.folder / "report.html"
    tmp = path.with_suffix(".html.part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
