"""Small pictures of a change result for the report: decimated reads, never whole rasters.

Every picture covers the result's output grid (``result.region`` of the before
image) at one common reduced size, so before, after, overlay and probability
line up pixel for pixel. The after image is read through the pair reader,
which puts it on the before grid first.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from PIL import Image, ImageDraw, ImageFont
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.io.rgb import display_bands, stretch
from terrasight.tasks.change.names import MASK_NODATA
from terrasight.tasks.change.objects.outlines import Outline, outlines
from terrasight.tasks.change.output.decimate import read_averages

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeResult

RED = (255, 0, 0)
OUTLINE = (255, 221, 0)
NODATA_GREY = (110, 110, 110)
CHANGE_ALPHA = 0.55
MAX_LABELS = 500
"""Objects (largest first) outlined and labelled on the overlay."""

# Anchors of the "inferno" colour map (dark purple -> yellow), interpolated linearly.
HEAT_ANCHORS = np.array(
    [
        (0, 0, 4),
        (40, 11, 84),
        (101, 21, 110),
        (159, 42, 99),
        (212, 72, 66),
        (245, 125, 21),
        (250, 193, 39),
        (252, 255, 164),
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Quicklooks:
    """The report's pictures as RGB uint8 arrays ``(h, w, 3)``, all of one size.

    ``scale`` is quicklook pixels per output-grid pixel; ``display`` names the
    bands shown (``"red, green, blue"``, ``"band1"``...). ``before`` and
    ``after`` are None when the input images can no longer be read.
    ``zoom_after`` is the after image at the larger size :func:`render` was
    asked for (``zoom_shape``), read in the same pass; None when not asked for or unreadable.
    """

    before: np.ndarray | None
    after: np.ndarray | None
    overlay: np.ndarray
    heat: np.ndarray
    scale: float
    display: str
    zoom_after: np.ndarray | None = None


def quicklook_shape(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``(height, width)`` of a picture of a ``width`` x ``height`` grid, longest side <= max_side.

    Never enlarges. Example:
        >>> quicklook_shape(4000, 2000, 1024)
        (512, 1024)
        >>> quicklook_shape(300, 200, 1024)
        (200, 300)
    """
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def heat_colours(prob: np.ndarray) -> np.ndarray:
    """Probability ``(h, w)`` in [0, 1] to RGB uint8 on the inferno scale; NaN is grey.

    Example:
        >>> heat_colours(np.array([[0.0, 1.0, np.nan]], np.float32))[0].tolist()
        [[0, 0, 4], [252, 255, 164], [110, 110, 110]]
    """
    finite = np.isfinite(prob)
    pos = np.clip(np.where(finite, prob, 0), 0, 1) * (len(HEAT_ANCHORS) - 1)
    i0 = np.minimum(pos.astype(int), len(HEAT_ANCHORS) - 2)
    frac = (pos - i0)[..., None]
    rgb = HEAT_ANCHORS[i0] * (1 - frac) + HEAT_ANCHORS[i0 + 1] * frac
    rgb = np.rint(rgb).astype(np.uint8)
    rgb[~finite] = NODATA_GREY
    return rgb


def heat_gradient_css() -> str:
    """A CSS ``linear-gradient`` of the heat colour map, for the colour bar."""
    stops = ", ".join(
        f"rgb({r:.0f},{g:.0f},{b:.0f}) {100 * i / (len(HEAT_ANCHORS) - 1):.0f}%"
        for i, (r, g, b) in enumerate(HEAT_ANCHORS)
    )
    return f"linear-gradient(to right, {stops})"


def _read_decimated(
    ds, indexes: list[int], window: Window, shape: tuple[int, int], resampling: Resampling
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``indexes`` of ``window`` at ``shape``: ``(n, h, w)`` (integers stay integers,
    floats become float32) and a valid mask."""
    out = (len(indexes),) + shape
    data = ds.read(indexes, window=window, out_shape=out, resampling=resampling)
    masks = ds.read_masks(indexes, window=window, out_shape=out, resampling=Resampling.nearest)
    valid = (masks > 0).all(axis=0)
    if data.dtype.kind == "f":
        data = data.astype(np.float32, copy=False)
        valid &= np.isfinite(data).all(axis=0)
    return data, valid


def _read_averaged(
    ds, indexes: list[int], window: Window, shapes: Sequence[tuple[int, int]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`_read_decimated` (average) at each shape: one pass over the pixels when the
    shapes divide the window (:func:`~terrasight.tasks.change.output.decimate.read_averages`)."""
    pictures = read_averages(ds, indexes, window, shapes)
    if pictures is None:
        pictures = [_read_decimated(ds, indexes, window, s, Resampling.average) for s in shapes]
    return pictures


def read_dates(
    result: ChangeResult,
    shape: tuple[int, int],
    window: Window | None = None,
    dates: tuple[str, ...] = ("before", "after"),
) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Before and after images of the output grid at ``shape``, stretched to RGB uint8.

    Args:
        result: the change result (its inputs are opened again).
        shape: ``(height, width)`` of the pictures.
        window: part of the output grid to read (all of it when None).
        dates: which of ``"before"`` and ``"after"`` to read; the other is None.

    Raises:
        RasterReadError, PairAlignmentError: an input image cannot be read any more.
    """
    images, label = read_pictures(result, [shape], dates, window)
    before, after = (images[d][0] if d in images else None for d in ("before", "after"))
    return before, after, label


def read_pictures(
    result: ChangeResult,
    shapes: Sequence[tuple[int, int]],
    dates: tuple[str, ...] = ("before", "after"),
    window: Window | None = None,
) -> tuple[dict[str, list[np.ndarray]], str]:
    """Each date's pictures of the output grid at each of ``shapes``, stretched to RGB uint8.

    The dates are read at the same time, on a thread each, and each date's
    pixels once for all the shapes when they divide the grid. Returns
    ``{date: [picture per shape]}`` and the bands shown.

    Raises:
        RasterReadError, PairAlignmentError: an input image cannot be read any more.
    """
    pair = result.open_inputs()
    picks, label = display_bands(result.band_names or pair.band_names)
    full = Window(*result.region) if result.region[2] else pair.region
    if window is not None:
        full = Window(
            full.col_off + window.col_off,
            full.row_off + window.row_off,
            window.width,
            window.height,
        )

    def read(date: str) -> list[np.ndarray]:
        with pair.readers() as reader:
            ds, image = (
                (reader.before_ds, pair.before)
                if date == "before"
                else (reader.after_ds, pair.after)
            )
            bands = [image.bands[i] for i in picks]
            pictures = read_averages(ds, bands, full, shapes)
            if pictures is not None:
                return [stretch(d, v) for d, v in pictures]
            return [  # one size at a time: each is stretched before the next is read
                stretch(*_read_decimated(ds, bands, full, s, Resampling.average)) for s in shapes
            ]

    with ThreadPoolExecutor(max_workers=max(1, len(dates))) as pool:
        images = dict(zip(dates, pool.map(read, dates), strict=True))
    return images, label


def read_mask(result: ChangeResult, shape: tuple[int, int]) -> np.ndarray:
    """The change mask at ``shape`` (mode resampling keeps the classes 0, 1, 255)."""
    with rasterio.open(result.mask_path) as ds:
        return ds.read(1, out_shape=shape, resampling=Resampling.mode)


def read_probability(result: ChangeResult, shape: tuple[int, int]) -> np.ndarray:
    """The probability at ``shape`` (averaged; NaN where no data)."""
    with rasterio.open(result.probability_path) as ds:
        window = Window(0, 0, ds.width, ds.height)
        (prob, valid), *_ = _read_averaged(ds, [1], window, [shape])
    return np.where(valid, prob[0], np.float32(np.nan))


def change_overlay(
    base: np.ndarray,
    mask: np.ndarray,
    objects: Sequence[Outline],
    result: ChangeResult,
    scale: float,
) -> np.ndarray:
    """``base`` RGB with changed pixels tinted red, no-data greyed, object outlines and ids.

    Args:
        base: RGB uint8 ``(h, w, 3)`` (the after image, or grey when unreadable).
        mask: the change mask at the same size (1 changed, 255 no data).
        objects: outlines of the objects to draw and label (largest first; see
            :func:`~terrasight.tasks.change.objects.outlines.outlines`).
        result: gives the grid transform to place the objects.
        scale: quicklook pixels per output-grid pixel.
    """
    rgb = np.array(base, dtype=np.uint8)  # only the tinted pixels go through floats
    for where, keep, colour in (
        (mask == 1, 1 - CHANGE_ALPHA, RED),
        (mask == MASK_NODATA, 0.4, NODATA_GREY),
    ):
        tinted = rgb[where].astype(np.float32) * keep + np.array(colour) * (1 - keep)
        rgb[where] = np.rint(tinted.astype(np.float32)).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    _draw_objects(img, objects[:MAX_LABELS], result, scale)
    return np.asarray(img)


def _to_quicklook(
    result: ChangeResult, scale: float
) -> Callable[[Sequence | np.ndarray], np.ndarray]:
    """A function mapping points ``(n, 2)`` in the grid's CRS (or pixels) to quicklook pixels."""
    inv = ~result.affine
    m = np.array([[inv.a, inv.b], [inv.d, inv.e]]) * scale
    off = np.array([inv.c, inv.f]) * scale

    def convert(points: Sequence | np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64).reshape(-1, 2) @ m.T + off

    return convert


def _draw_objects(
    img: Image.Image, objects: Sequence[Outline], result: ChangeResult, scale: float
) -> None:
    """Outline every object; write the ids of the largest ones where they do not overlap."""
    draw = ImageDraw.Draw(img)
    convert = _to_quicklook(result, scale)
    for obj in objects:
        for ring in obj.rings:
            pts = [tuple(p) for p in convert(ring).tolist()]
            if len(pts) >= 2:
                draw.line(pts + [pts[0]], fill=OUTLINE, width=1)
    font = _font(12 if max(img.size) >= 600 else 10)
    taken: list[tuple[float, float, float, float]] = []
    for obj in objects:
        x, y = convert(obj.centroid)[0].tolist()
        box = draw.textbbox((x, y), str(obj.id), font=font, anchor="mm", stroke_width=2)
        if any(_overlaps(box, other) for other in taken):
            continue
        taken.append(box)
        draw.text(
            (x, y),
            str(obj.id),
            fill=(255, 255, 255),
            font=font,
            anchor="mm",
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def render(
    result: ChangeResult,
    max_side: int = 1024,
    zoom_shape: tuple[int, int] | None = None,
    objects: Sequence[Outline] | None = None,
) -> tuple[Quicklooks, list[str]]:
    """All the report's pictures of ``result``, longest side at most ``max_side``.

    The dates and the probability are read at the same time (a thread each).
    With ``zoom_shape`` the after image is also made at that size, from the
    same read. ``objects`` are the outlines to draw (by default those of the
    :data:`MAX_LABELS` largest objects). Returns the pictures and notes for
    the reader (e.g. an input that could not be read).

    Example:
        >>> looks, notes = render(result, max_side=512)  # doctest: +SKIP
        >>> looks.overlay.shape  # doctest: +SKIP
        (384, 512, 3)
    """
    from terrasight.errors import TerrasightError

    shape = quicklook_shape(result.width, result.height, max_side)
    scale = shape[1] / result.width
    shapes = [shape] if zoom_shape is None else [shape, zoom_shape]
    notes: list[str] = []
    images: Mapping[str, Sequence[np.ndarray | None]]
    with ThreadPoolExecutor(max_workers=1) as pool:
        heat_future = pool.submit(read_probability, result, shape)
        try:
            images, label = read_pictures(result, shapes)
        except (TerrasightError, rasterio.errors.RasterioError) as exc:
            images, label = {"before": [None] * len(shapes), "after": [None] * len(shapes)}, ""
            notes.append(f"the input images could not be read for the pictures: {exc}")
        heat = heat_colours(heat_future.result())
    before, after = images["before"][0], images["after"][0]
    mask = read_mask(result, shape)
    base = after if after is not None else np.full(shape + (3,), 160, np.uint8)
    top = outlines(result.objects, MAX_LABELS) if objects is None else objects
    overlay = change_overlay(base, mask, top, result, scale)
    zoom = images["after"][1] if zoom_shape is not None else None
    return Quicklooks(before, after, overlay, heat, scale, label, zoom), notes


def png_data_uri(rgb: np.ndarray, colours: int | None = 256) -> str:
    """Encode an RGB uint8 array as a ``data:image/png;base64,...`` URI.

    With ``colours`` the picture is reduced to a palette of that many colours
    (dithered), which makes photographs about three times smaller.

    Example:
        >>> png_data_uri(np.zeros((2, 2, 3), np.uint8))[:22]
        'data:image/png;base64,'
    """
    img = Image.fromarray(rgb, "RGB")
    if colours:
        img = img.quantize(colours, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
