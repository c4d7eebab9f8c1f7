"""The series and STAC inputs of ``remote_bytes.py``: a third date, and Items of single-band COGs.

A series of three dates is the benchmark pair and the after image of the same scene
built with another seed (other planted changes), all tiled GeoTIFFs that are not COGs.
A STAC Item pair is each date of the pair split into three single-band COGs (512 px
blocks, deflate, overviews: what STAC catalogues serve), with an Item JSON per date
whose assets point at the served files by absolute URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import rasterio
from _common import build_scene
from rasterio.warp import transform_bounds

BANDS = ("red", "green", "blue")
"""Common names of the scene's bands 1..3, one asset each."""
SERIES_DATES = ("2019-06-01", "2020-06-01", "2021-06-01")


def series_files(folder: Path, size: int) -> list[Path]:
    """The three dates of the series, served from ``folder / "www"``."""
    before, after = build_scene(folder / "scene", size)
    _, third = build_scene(folder / "scene_seed1", size, seed=1)
    www = folder / "www"
    out = []
    for date, src in zip(SERIES_DATES, (before, after, third), strict=True):
        dest = www / f"series_{date}.tif"
        if not dest.exists():
            dest.write_bytes(src.read_bytes())
        out.append(dest)
    return out


def stac_assets(folder: Path, size: int) -> dict[str, list[Path]]:
    """Single-band COGs of each date of the pair: ``{"2019": [red, green, blue], ...}``."""
    from rasterio.shutil import copy as rio_copy

    before, after = build_scene(folder / "scene", size)
    www = folder / "www"
    out: dict[str, list[Path]] = {}
    for year, src in (("2019", before), ("2024", after)):
        out[year] = []
        for band, name in enumerate(BANDS, start=1):
            dest = www / f"stac_{year}_{name}.tif"
            if not dest.exists():
                plain = dest.with_suffix(".plain.tif")
                with rasterio.open(src) as ds:
                    profile = {**ds.profile, "count": 1}
                    with rasterio.open(plain, "w", **profile) as one:
                        one.write(ds.read(band), 1)
                rio_copy(plain, dest, driver="COG", blocksize=512, compress="DEFLATE")
                plain.unlink()
            out[year].append(dest)
    return out


def write_item(path: Path, item_id: str, when: str, assets: list[str], ref: Path) -> Path:
    """A STAC Item JSON at ``path`` with one asset per band (URLs ``assets``, in BANDS order)."""
    with rasterio.open(ref) as ds:
        w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": item_id,
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": when},
        "links": [],
        "assets": {
            name: {
                "href": href,
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "eo:bands": [{"name": name, "common_name": name}],
            }
            for name, href in zip(BANDS, assets, strict=True)
        },
    }
    path.write_text(json.dumps(item))
    return path


def stac_items(
    assets: dict[str, list[Path]], tag: str, url: Callable[[str], str]
) -> tuple[list[str], list[Path]]:
    """Items of both dates on fresh asset names (hard links under ``tag``): their URLs and
    the files made (to remove afterwards)."""
    urls, made = [], []
    for year, files in assets.items():
        links = []
        for path in files:
            link = path.with_name(f"{tag}_{path.name}")
            link.unlink(missing_ok=True)
            link.hardlink_to(path)
            links.append(link)
        item = files[0].with_name(f"{tag}_item_{year}.json")
        write_item(item, f"S_{year}_{tag}", f"{year}-06-14T10:00:00Z",
                   [url(p.name) for p in links], files[0])  # fmt: skip
        made += [*links, item]
        urls.append(url(item.name))
    return urls, made
