"""Small RGB pictures of a change result's objects, before and after, read by window.

Crops show an object with context around it (an image-text model recognises
land cover from its surroundings as much as from the object). Each date is
stretched with one scene-wide stretch, computed once from a decimated read, so
a dark crop stays dark instead of being stretched to look like anything else;
8-bit images are used as they are. Only the windows asked for are read, so a
scene larger than memory stays on disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from terrasight.io.pair import PairReader
from terrasight.io.raster import DECIMATED_READ_CACHE_MB, RasterSource
from terrasight.io.reflectance import scaling_from_metadata
from terrasight.io.rgb import display_bands, grey_inputs
from terrasight.tasks.interpret.spectral import dominant_group, has_spectral_bands

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeResult

CROP_SIDE = 160
"""Longest side, in pixels, of a crop handed to the image-text model."""
MIN_CONTEXT = 48
"""Smallest crop window, in output-grid pixels."""
CONTEXT = 1.5
"""Crop window side as a multiple of the object's larger bounding-box side."""
STRETCH_SIDE = 512
"""Longest side of the decimated read the scene-wide stretch is computed from."""


def context_window(
    pixel_bbox: Sequence[int], width: int, height: int, context: float = CONTEXT
) -> Window:
    """A square window around an object's ``(col0, row0, col1, row1)``, inside the grid.

    Example:
        >>> context_window((10, 10, 14, 12), 100, 100)
        Window(col_off=0, row_off=0, width=48, height=48)
        >>> context_window((40, 40, 80, 60), 100, 100)
        Window(col_off=30, row_off=20, width=60, height=60)
    """
    c0, r0, c1, r1 = (int(v) for v in pixel_bbox)
    side = max(MIN_CONTEXT, int(round(context * max(c1 - c0, r1 - r0))))
    side_w, side_h = min(side, width), min(side, height)
    col = min(max(0, (c0 + c1) // 2 - side_w // 2), width - side_w)
    row = min(max(0, (r0 + r1) // 2 - side_h // 2), height - side_h)
    return Window(col, row, side_w, side_h)


@dataclass(frozen=True)
class Stretch:
    """Per-band (low, high) display limits of one date; ``None`` limits: 8-bit data as is."""

    low: np.ndarray | None
    high: np.ndarray | None

    def apply(self, data: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """``(bands, h, w)`` to uint8 ``(h, w, 3)``; invalid pixels black.

        Example:
            >>> s = Stretch(np.array([0.0]), np.array([10.0]))
            >>> s.apply(np.full((1, 2, 2), 5.0), np.ones((2, 2), bool))[0, 0].tolist()
            [127, 127, 127]
        """
        if self.low is None or self.high is None:
            rgb = np.clip(data, 0, 255)
        else:
            span = np.where(self.high > self.low, self.high - self.low, 1.0)
            rgb = np.clip((data - self.low[:, None, None]) / span[:, None, None] * 255.0, 0, 255)
        out = np.where(valid, rgb, 0).astype(np.uint8).transpose(1, 2, 0)
        return np.repeat(out, 3, axis=2) if out.shape[2] == 1 else np.ascontiguousarray(out)


class CropReader:
    """Reads before and after crops of a result's grid; open with :func:`open_crops`."""

    def __init__(
        self,
        datasets: dict[str, tuple],
        region: Window,
        stretches: dict[str, Stretch],
        spectra: SpectrumReader | None = None,
        grey: bool = False,
    ):
        self._datasets = datasets
        self._region = region
        self._stretches = stretches
        self.spectra = spectra
        self.grey = grey
        """Whether the inputs have no colour (see :func:`grey_result`)."""

    def crop(self, date: str, window: Window, side: int = CROP_SIDE) -> np.ndarray:
        """uint8 ``(h, w, 3)`` of ``window`` (output-grid pixels) of ``"before"`` or ``"after"``,
        its longest side at most ``side`` (read decimated by averaging)."""
        ds, indexes = self._datasets[date]
        scale = min(1.0, side / max(window.width, window.height))
        shape = (max(1, round(window.height * scale)), max(1, round(window.width * scale)))
        src = Window(
            self._region.col_off + window.col_off,
            self._region.row_off + window.row_off,
            window.width,
            window.height,
        )
        data, valid = _read(ds, indexes, src, shape)
        return self._stretches[date].apply(data, valid)


class SpectrumReader:
    """Mean reflectance of an object's own changed pixels, per date (all selected bands)."""

    def __init__(self, reader: PairReader, mask, region: Window, names, scalings) -> None:
        self._reader, self._mask, self._region = reader, mask, region
        self._names, self._scalings = names, scalings

    def groups(self, pixel_bbox: Sequence[int]) -> dict[str, str | None]:
        """``{"before": group, "after": group}``: the spectral group most of the object's
        changed, valid pixels belong to in each date (None when none is valid)."""
        c0, r0, c1, r1 = (int(v) for v in pixel_bbox)
        window = Window(c0, r0, c1 - c0, r1 - r0)
        changed = self._mask.read(1, window=window) == 1
        src = Window(self._region.col_off + c0, self._region.row_off + r0, c1 - c0, r1 - r0)
        before, after, vb, va = self._reader.read_dates(src)
        out = {}
        for date, data, valid in (("before", before, vb), ("after", after, va)):
            scale, offset = self._scalings[date]
            out[date] = dominant_group(data, valid & changed, self._names, scale, offset)
        return out


def grey_result(result: ChangeResult) -> bool:
    """Whether ``result`` was measured on images without colour: one or two bands, or three
    identical ones (a grey image stored as RGB).

    Example:
        >>> grey_result(load_result("bern-changes/"))  # doctest: +SKIP
        True
    """
    pair = result.open_inputs()
    picks, _ = display_bands(result.band_names or pair.band_names)
    return len(picks) < 3 or grey_inputs(pair, picks)


@contextlib.contextmanager
def open_crops(result: ChangeResult) -> Iterator[CropReader]:
    """Open both inputs of ``result`` for reading crops (the after image on the before grid).

    Raises:
        RasterReadError, PairAlignmentError: an input image cannot be read any more.

    Example:
        >>> with open_crops(result) as crops:  # doctest: +SKIP
        ...     picture = crops.crop("after", Window(0, 0, 64, 64))
    """
    pair = result.open_inputs()
    picks, _ = display_bands(result.band_names or pair.band_names)
    grey = len(picks) < 3 or grey_inputs(pair, picks)
    region = Window(*result.region) if result.region[2] else pair.region
    with rasterio.Env(GDAL_CACHEMAX=DECIMATED_READ_CACHE_MB), pair.readers() as reader:
        datasets = {
            "before": (reader.before_ds, [pair.before.bands[i] for i in picks]),
            "after": (reader.after_ds, [pair.after.bands[i] for i in picks]),
        }
        stretches = {date: _scene_stretch(ds, idx, region) for date, (ds, idx) in datasets.items()}
        with contextlib.ExitStack() as stack:
            spectra = None
            if has_spectral_bands(pair.band_names):
                mask = stack.enter_context(rasterio.open(result.mask_path))
                scalings = {"before": _scaling(pair.before), "after": _scaling(pair.after)}
                spectra = SpectrumReader(reader, mask, region, pair.band_names, scalings)
            yield CropReader(datasets, region, stretches, spectra, grey)


def _scaling(image: RasterSource) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(scale, offset) to reflectance from the file's metadata; (1, 0) when it says nothing."""
    found = scaling_from_metadata(image.path, image.bands)
    if found is None:
        return (1.0,) * len(image.bands), (0.0,) * len(image.bands)
    return found.scale, found.offset


def _read(ds, indexes: list[int], window: Window, shape: tuple[int, int]):
    out = (len(indexes), *shape)
    data = ds.read(indexes, window=window, out_shape=out, resampling=Resampling.average)
    masks = ds.read_masks(indexes, window=window, out_shape=out, resampling=Resampling.nearest)
    data = data.astype(np.float32)
    return data, (masks > 0).all(axis=0) & np.isfinite(data).all(axis=0)


def _scene_stretch(ds, indexes: list[int], region: Window) -> Stretch:
    """2-98 % limits per band over a decimated read of the region (none for 8-bit data)."""
    if all(ds.dtypes[i - 1] == "uint8" for i in indexes):
        return Stretch(None, None)
    scale = min(1.0, STRETCH_SIDE / max(region.width, region.height))
    shape = (max(1, round(region.height * scale)), max(1, round(region.width * scale)))
    data, valid = _read(ds, indexes, region, shape)
    low, high = np.zeros(len(indexes)), np.ones(len(indexes))
    for i, band in enumerate(data):
        values = band[valid]
        if values.size:
            low[i], high[i] = np.percentile(values, [2, 98])
    return Stretch(low, high)
