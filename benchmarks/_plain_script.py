"""The script a user would write for what ``terrasight change --method cva --no-facts
--no-report`` writes: mask, probability, GeoJSON, GeoPackage and summary.

Usage::

    python benchmarks/_plain_script.py BEFORE AFTER OUTDIR [--min-pixels 20]

Whole arrays in memory, one pass of numpy each step:

1. both images read whole with rasterio, float32 per-band standardisation of
   each date, Euclidean distance (change vector analysis), Otsu's threshold on
   a 256-bin histogram;
2. the distance scaled to 0-1 as the probability, the mask ``distance > threshold``;
3. ``rasterio.features.sieve`` at ``--min-pixels`` (8-connected) drops the small
   specks, the mask is re-applied so sieving only removes change;
4. objects: ``scipy.ndimage.label`` (8-connected), pixels and mean probability
   per object with ``numpy.bincount``, outlines with ``rasterio.features.shapes``;
5. both rasters written as the command writes them (tiled 512; mask deflate,
   probability float32 ZSTD level 1), the objects with geopandas through
   pyogrio as ``changes.gpkg`` (image CRS) and ``changes.geojson`` (WGS84),
   a ``summary.json``.

It prints one JSON line: the object count and the changed pixels.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio import features
from scipy import ndimage
from shapely.geometry import shape


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of ``values`` on a 256-bin histogram."""
    hist, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][int(np.argmax(between[:-1]))])


def run(before: Path, after: Path, out: Path, min_pixels: int) -> dict:
    """Write the five products into ``out`` and return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    with rasterio.open(before) as ds:
        b = ds.read().astype(np.float32)
        profile, transform, crs = ds.profile, ds.transform, ds.crs
    with rasterio.open(after) as ds:
        a = ds.read().astype(np.float32)
    for x in (b, a):
        for band in x:
            band -= band.mean()
            band /= max(float(band.std()), 1e-6)
    dist = np.sqrt(((a - b) ** 2).sum(axis=0))
    del a, b
    threshold = otsu(dist)
    prob = (dist / max(float(dist.max()), 1e-6)).astype(np.float32)
    mask = (dist > threshold).astype(np.uint8)
    del dist
    mask = features.sieve(mask, size=min_pixels, connectivity=8) & mask

    base = dict(profile, count=1, tiled=True, blockxsize=512, blockysize=512)
    with rasterio.open(
        out / "change_mask.tif", "w", **dict(base, dtype="uint8", nodata=255, compress="deflate")
    ) as ds:
        ds.write(mask, 1)
    with rasterio.open(
        out / "change_probability.tif",
        "w",
        **dict(base, dtype="float32", nodata=float("nan"), compress="zstd", zstd_level=1),
    ) as ds:
        ds.write(prob, 1)

    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    pixels = np.bincount(labels.ravel(), minlength=n + 1)
    mean_prob = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=n + 1) / np.maximum(
        pixels, 1
    )
    del prob
    ids, geoms = [], []
    for geom, value in features.shapes(
        labels, mask=labels > 0, connectivity=8, transform=transform
    ):
        ids.append(int(value))
        geoms.append(shape(geom))
    pixel_area = abs(transform.a * transform.e)
    ids_arr = np.asarray(ids, dtype=np.int64)
    gdf = gpd.GeoDataFrame(
        {
            "id": ids_arr,
            "pixels": pixels[ids_arr],
            "area": pixels[ids_arr] * pixel_area,
            "mean_probability": mean_prob[ids_arr],
        },
        geometry=geoms,
        crs=crs,
    )
    gdf.to_file(out / "changes.gpkg", layer="changes", driver="GPKG", engine="pyogrio")
    gdf.to_crs(4326).to_file(out / "changes.geojson", driver="GeoJSON", engine="pyogrio")
    summary = {
        "objects": int(n),
        "polygons": int(len(gdf)),
        "changed_pixels": int(mask.sum()),
        "changed_area": float(mask.sum()) * pixel_area,
        "threshold": threshold,
        "changed_fraction": float(mask.mean()),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("outdir", type=Path)
    p.add_argument("--min-pixels", type=int, default=20)
    args = p.parse_args()
    print(json.dumps(run(args.before, args.after, args.outdir, args.min_pixels)))


if __name__ == "__main__":
    main()
