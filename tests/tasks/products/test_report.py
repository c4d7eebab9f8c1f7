"""report.html: self-contained, pictures embedded and aligned, every object and warning listed."""

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from rasterio.windows import Window

from terrasight.tasks.change.output import quicklook as ql
from terrasight.tasks.change.pipeline.detect import detect_changes as _detect_changes
from terrasight.tasks.change.result import ChangeObject, ChangeResult
from terrasight.tasks.products import report_views as views
from terrasight.tasks.products.report import MAX_ROWS, crs_label, format_area, write_report


def detect_changes(*args, **kwargs):
    """These tests are about the pipeline: they run CVA, the fastest method, unless told."""
    kwargs.setdefault("method", "cva")
    return _detect_changes(*args, **kwargs)


H, W = 200, 300
TRANSFORM = from_origin(500000.0, 5000000.0, 10.0, 10.0)
RECTS = [(60, 40, 120, 80), (200, 150, 260, 170)]  # (col0, row0, col1, row1), exclusive
WARNING = "clouds <b>& haze</b> over the east"


def _object(i: int, rect, georef: bool) -> ChangeObject:
    c0, r0, c1, r1 = rect
    t = TRANSFORM if georef else rasterio.Affine.identity()
    ring = [t * xy for xy in ((c0, r0), (c1, r0), (c1, r1), (c0, r1), (c0, r0))]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    pixels = (c1 - c0) * (r1 - r0)
    return ChangeObject(
        id=i,
        pixels=pixels,
        area=pixels * (100.0 if georef else 1.0),
        area_unit="m2" if georef else "px",
        location=f"place{i}",
        mean_probability=0.9,
        centroid_lonlat=(15.0 + i / 1000, 45.1) if georef else None,
        bbox_wgs84=(15.0, 45.0, 15.1, 45.2) if georef else None,
        centroid_image_crs=t * ((c0 + c1) / 2, (r0 + r1) / 2),
        bbox_image_crs=(min(xs), min(ys), max(xs), max(ys)),
        pixel_bbox=rect,
        geometry={"type": "Polygon", "coordinates": [ring]},
    )


def _result(tmp_path: Path, make_raster, georef=True, rects=RECTS, warnings=(WARNING,)):
    """A result built by hand from real GeoTIFFs: inputs, mask, probability, objects."""
    crs = "EPSG:32633" if georef else None
    rng = np.random.default_rng(1)
    before = rng.integers(40, 140, (3, H, W)).astype(np.uint8)
    after = before.copy()
    mask = np.zeros((H, W), np.uint8)
    for c0, r0, c1, r1 in rects:
        mask[r0:r1, c0:c1] = 1
        after[:, r0:r1, c0:c1] = 250
    mask[:, 290:] = 255
    prob = np.where(mask == 1, 0.9, 0.1).astype(np.float32)
    prob[mask == 255] = np.nan
    b = make_raster("before.tif", before, crs=crs)
    a = make_raster("after.tif", after, crs=crs)
    m = make_raster("mask.tif", mask, crs=crs, nodata=255)
    p = make_raster("prob.tif", prob, crs=crs, nodata=float("nan"))
    objects = tuple(_object(i + 1, r, georef) for i, r in enumerate(rects))
    return ChangeResult(
        method="cva",
        before=str(b),
        after=str(a),
        crs=rasterio.crs.CRS.from_string(crs).to_wkt() if crs else None,
        transform=tuple(TRANSFORM if georef else rasterio.Affine.identity())[:6],
        width=W,
        height=H,
        mask_path=m,
        probability_path=p,
        objects=objects,
        valid_pixels=int((mask != 255).sum()),
        changed_pixels=int((mask == 1).sum()),
        cloud_pixels=0,
        pixel_area=100.0 if georef else 1.0,
        area_unit="m2" if georef else "px",
        band_names=("band1", "band2", "band3"),
        bands=(1, 2, 3),
        after_bands=(1, 2, 3),
        region=(0, 0, W, H),
        warnings=warnings,
    )


def _images(html: str, section: str = "Pictures") -> dict[str, Image.Image]:
    """The pictures embedded in a section (by its heading), by their alt text."""
    part = html.split(f"<h2>{section}</h2>", 1)[1].split("</section>", 1)[0] if section else html
    found = re.findall(r'<img src="data:image/(?:png|jpeg);base64,([^"]+)" alt="([^"]*)"', part)
    return {alt: Image.open(io.BytesIO(base64.b64decode(d))).convert("RGB") for d, alt in found}


def test_report_is_one_self_contained_file(tmp_path, make_raster):
    result = _result(tmp_path, make_raster)
    out = write_report(result, tmp_path / "rep" / "report.html", max_side=128)
    assert out == tmp_path / "rep" / "report.html"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in sources)
    pics = _images(html)
    assert len(pics) == 4
    assert all(max(img.size) <= 128 for img in pics.values())
    assert ql.quicklook_shape(W, H, 128) == (85, 128)
    assert "EPSG:32633" in html and "before.tif" in html and "after.tif" in html
    assert "300 × 200 px" in html and "10 m × 10 m" in html
    assert 'class="warn"' in html and "clouds &lt;b&gt;&amp; haze&lt;/b&gt; over the east" in html
    assert "<b>&" not in html  # warning text is escaped
    assert format_area(result.changed_area, "m2") in html


def test_overlay_is_red_where_the_mask_is_changed(tmp_path, make_raster):
    result = _result(tmp_path, make_raster)
    html = write_report(result, tmp_path / "report.html", max_side=256).read_text()
    overlay = next(img for alt, img in _images(html).items() if alt.startswith("Change overlay"))
    rgb = np.asarray(overlay).astype(int)
    scale = overlay.size[0] / W
    assert overlay.size == (256, round(H * scale))
    redness = (rgb[..., 0] > rgb[..., 1] + 60) & (rgb[..., 0] > rgb[..., 2] + 60)
    c0, r0, c1, r1 = (int(v * scale) for v in RECTS[0])
    inside = redness[r0 + 2 : r1 - 2, c0 + 2 : c1 - 2]
    assert inside.mean() > 0.7
    assert redness[100:140, 20:50].mean() < 0.02  # unchanged area
    after = next(img for alt, img in _images(html).items() if alt.startswith("After"))
    assert (np.asarray(after)[r0 + 2 : r1 - 2, c0 + 2 : c1 - 2] > 200).all()  # after itself: white


def test_every_object_is_listed(tmp_path, make_raster):
    result = _result(tmp_path, make_raster)
    html = write_report(result, tmp_path / "report.html").read_text()
    for obj in result.objects:
        assert f'<td data-v="{obj.id}">{obj.id}</td>' in html
        assert obj.location in html and f"{obj.centroid_lonlat[0]:.6f}" in html
    assert html.count("<tr title=") == len(result.objects)
    assert 'class="sortable"' in html and "<script>" in html and "lon" in html
    assert ">bbox (EPSG:32633)</th>" in html and "500600.0, 4999200.0, 501200.0, 4999600.0" in html


def test_table_keeps_the_500_largest(tmp_path, make_raster):
    rects = [(c, r, c + 1, r + 1) for r in range(0, 170, 8) for c in range(0, 280, 12)]
    rects = rects[: MAX_ROWS + 10]
    assert len(rects) == MAX_ROWS + 10
    result = _result(tmp_path, make_raster, rects=rects, warnings=())
    html = write_report(result, tmp_path / "report.html", max_side=200).read_text()
    assert html.count("<tr title=") == MAX_ROWS
    assert f"Showing the {MAX_ROWS} largest of {MAX_ROWS + 10:,} objects" in html
    assert 'class="warn"' not in html


def test_pixel_space_result(tmp_path, make_raster):
    result = _result(tmp_path, make_raster, georef=False)
    html = write_report(result, tmp_path / "report.html").read_text()
    assert "none (pixel space)" in html and "x (px)" in html and "3,600 px" in html
    assert '<td data-v="90.0">90.0</td>' in html  # centroid column of object 1 in pixels
    assert ">bbox (px)</th>" in html


def test_inputs_gone_the_report_still_shows_the_results(tmp_path, make_raster):
    result = _result(tmp_path, make_raster)
    Path(result.before).unlink()
    html = write_report(result, tmp_path / "report.html").read_text()
    assert "could not be read" in html
    assert len(_images(html)) == 2  # overlay (on grey) and heat map


def test_detected_pair_report(planted_pair, tmp_path):
    before, after, truth = planted_pair
    result = detect_changes(before, after, outdir=tmp_path / "out")
    paths = result.save(tmp_path / "out")
    html = paths["report"].read_text()
    assert len(_images(html)) == 4 and "EPSG:32633" in html
    for obj in result.objects:
        assert f'<td data-v="{obj.id}">{obj.id}</td>' in html


def test_before_and_after_pictures_line_up_on_different_grids(make_raster):
    """The after image on a shifted grid is read onto the before grid's overlap."""
    rng = np.random.default_rng(3)
    before = rng.normal(90, 8, (3, 120, 160)).clip(0, 255).astype(np.uint8)
    before[:, 50:70, 80:100] = 255  # a bright roof, present on both dates
    after = rng.normal(90, 8, (3, 120, 160)).clip(0, 255).astype(np.uint8)
    # after grid: origin 20 columns east and 10 rows south of the before grid's origin
    after[:, 40:60, 60:80] = 255
    shifted = from_origin(500000.0 + 200, 5000000.0 - 100, 10.0, 10.0)
    b = make_raster("b.tif", before)
    a = make_raster("a.tif", after, transform=shifted)
    result = detect_changes(b, a, min_pixels=5)
    assert result.region == (20, 10, 140, 110)
    shape = ql.quicklook_shape(result.width, result.height, 70)
    qb, qa, label = ql.read_dates(result, shape)
    assert qb.shape == qa.shape == shape + (3,) and label == "red, green, blue"

    def spot(img):
        rows, cols = np.nonzero(img[..., 0] > 250)
        return rows.mean(), cols.mean()

    (rb, cb), (ra, ca) = spot(qb), spot(qa)
    assert abs(rb - ra) < 1 and abs(cb - ca) < 1
    # roof centre in the before grid: (60, 90); in the region (50, 70); times the scale 0.5
    assert rb == pytest.approx(25, abs=1) and cb == pytest.approx(35, abs=1)


def test_quicklook_helpers():
    data = np.stack([np.arange(100, dtype=np.float32).reshape(10, 10)] * 2)
    data[:, 0, 0] = 1e6  # a nodata-like outlier, marked invalid
    valid = np.ones((10, 10), bool)
    valid[0, 0] = False
    rgb = ql.stretch(data[:1], valid)
    assert rgb.shape == (10, 10, 3) and rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[9, 9, 0] == 255 and 100 < rgb[5, 5, 0] < 160
    heat = ql.heat_colours(np.array([[0.0, 0.5, 1.0, np.nan]], np.float32))
    assert heat[0, 0].sum() < heat[0, 1].sum() < heat[0, 2].sum()
    assert heat[0, 3].tolist() == list(ql.NODATA_GREY)
    assert crs_label(None) == "none (pixel space)"
    assert crs_label(rasterio.crs.CRS.from_epsg(4326).to_wkt()) == "EPSG:4326"
    assert format_area(12, "px") == "12 px" and format_area(2.5e6, "m2").startswith("2.50 km²")


def test_pictures_come_from_decimated_reads(tmp_path, make_raster):
    """A 2000 x 2000 scene: peak memory stays below one full-resolution float32 band."""
    import tracemalloc

    n = 2000
    img = np.tile(np.arange(n, dtype=np.uint16) % 251, (3, n, 1)).astype(np.uint8)
    mask = np.zeros((n, n), np.uint8)
    mask[500:900, 500:900] = 1
    t = TRANSFORM
    b, a = make_raster("big_b.tif", img), make_raster("big_a.tif", img)
    m = make_raster("big_m.tif", mask, nodata=255, tiled=True)
    p = make_raster("big_p.tif", mask.astype(np.float32), nodata=float("nan"), tiled=True)
    del img, mask
    result = ChangeResult(
        method="cva",
        before=str(b),
        after=str(a),
        crs=rasterio.crs.CRS.from_epsg(32633).to_wkt(),
        transform=tuple(t)[:6],
        width=n,
        height=n,
        mask_path=m,
        probability_path=p,
        objects=(_object(1, (500, 500, 900, 900), True),),
        valid_pixels=n * n,
        changed_pixels=160000,
        cloud_pixels=0,
        pixel_area=100.0,
        area_unit="m2",
        band_names=("red", "green", "blue"),
        bands=(1, 2, 3),
        after_bands=(1, 2, 3),
        region=(0, 0, n, n),
    )
    tracemalloc.start()
    try:
        html = write_report(result, tmp_path / "report.html", max_side=256).read_text()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(img.size == (256, 256) for img in _images(html).values())
    # Reading one band whole as float32 takes 16 MB, both dates 96 MB; quicklooks ~6.5 MB.
    assert peak < n * n * 4, peak


# --- views for large scenes: zoomable overlay, clips of the largest objects ------


def test_large_scene_gets_a_zoomable_overlay(tmp_path, make_raster):
    result = _result(tmp_path, make_raster)
    html = write_report(result, tmp_path / "report.html", max_side=100).read_text()
    (zoom,) = _images(html, "Change overlay to explore").values()
    assert zoom.size == (200, 133)  # twice the pictures' side, never more than the scene
    assert 'id="zoom"' in html and "addEventListener('wheel'" in html
    # Object 1 (rows 40..79, cols 60..119) is tinted red in the zoomable overlay.
    r, g, b = zoom.getpixel((48, 32))
    assert r > 180 and g < 160 and b < 160
    small = write_report(result, tmp_path / "small.html", max_side=1024).read_text()
    assert 'id="zoom"' not in small  # the pictures already show every pixel


def test_clips_of_the_largest_objects(tmp_path, make_raster):
    result = _result(tmp_path, make_raster)
    html = write_report(result, tmp_path / "report.html").read_text()
    clips = _images(html, "The 2 largest objects")
    assert sorted(clips) == [
        "after of object 1",
        "after of object 2",
        "before of object 1",
        "before of object 2",
        "change of object 1",
        "change of object 2",
    ]
    window = views.clip_window(result.objects[0], W, H)
    assert window == Window(30, 0, 120, 120)  # 2 x the object's 60 px side, inside the grid
    before, after = clips["before of object 1"], clips["after of object 1"]
    assert before.size == after.size == (120, 120)  # full resolution below 192 px
    # The clip's centre is inside object 1: bright after, not before.
    assert sum(after.getpixel((60, 60))) > sum(before.getpixel((60, 60)))
    first = result.objects[0]
    assert f"#1 · {format_area(first.area, 'm2')} · place1" in html
