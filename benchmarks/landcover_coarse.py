"""Land cover at 10 m from RGB alone: the aerial network with and without the coarse-cover rules.

The OSCD cities held out from the coarse-cover network's training (Mumbai and
Rennes, both dates; ``terrasight.training.landcover_coarse.VALIDATION``) are
written as 8-bit RGB GeoTIFFs at 10 m in two renderings (all bands by one 1-99 %
range; each band by its own 2-98 %), classified by ``terrasight.landcover`` with
``coarse`` off and on, and the classes folded into other / water / vegetation are
scored against labels from the scenes' own near-infrared and SWIR bands
(``index_labels``; unsure pixels left out). These cities chose the network
(``WATER_DOUBT`` and the choice between trained candidates), so the figures are
validation figures, not a test.

Usage::

    nice .venv/bin/python benchmarks/landcover_coarse.py   # prints, writes results/landcover_coarse.json
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA  # noqa: E402

from terrasight.tasks.landcover import landcover  # noqa: E402
from terrasight.training.landcover_coarse import IGNORE, VALIDATION, load_scenes, shown  # noqa: E402

NAMES = ("other", "water", "vegetation")
FOLD = np.array([0, 0, 1, 2, 0, 0] + [0] * 250)  # building road water vegetation bare unknown


def renderings(tmp: Path) -> list[tuple[str, Path, np.ndarray]]:
    out = []
    for s in load_scenes(SHARED_DATA, list(VALIDATION)):
        lo, hi = np.percentile(s.rgb, [1, 99])
        for how, pic in (("one range", np.clip((s.rgb - lo) / (hi - lo), 0, 1) * 255),
                         ("per band", shown(s.rgb))):  # fmt: skip
            path = tmp / f"{s.name.replace('/', '_')}_{how.replace(' ', '_')}.tif"
            profile = dict(driver="GTiff", width=pic.shape[2], height=pic.shape[1], count=3,
                           dtype="uint8", crs="EPSG:32633",
                           transform=from_origin(500000, 5000000, 10, 10))  # fmt: skip
            with rasterio.open(path, "w", **profile) as ds:
                ds.write(pic.astype(np.uint8))
            out.append((f"{s.name} {how}", path, s.labels))
    return out


def score(cm: np.ndarray) -> dict:
    recall = np.diag(cm) / np.maximum(cm.sum(1), 1)
    precision = np.diag(cm) / np.maximum(cm.sum(0), 1)
    f1 = 2 * recall * precision / np.maximum(recall + precision, 1e-9)
    return {
        "accuracy": round(float(np.trace(cm) / cm.sum()), 4),
        "recall": {n: round(float(v), 4) for n, v in zip(NAMES, recall, strict=True)},
        "precision": {n: round(float(v), 4) for n, v in zip(NAMES, precision, strict=True)},
        "f1": {n: round(float(v), 4) for n, v in zip(NAMES, f1, strict=True)},
        "confusion_truth_rows": cm.tolist(),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        items = renderings(Path(tmp))
        runs = {}
        for name, opts in (
            ("aerial network alone", {"coarse": False}),
            ("with coarse rules", None),
        ):
            cm = np.zeros((3, 3), np.int64)
            for _, path, labels in items:
                classes = landcover(path, options=opts).classes
                ok = labels != IGNORE
                np.add.at(cm, (labels[ok], FOLD[classes[ok]]), 1)
            runs[name] = score(cm)
    print(
        f"{'run':24s} {'accuracy':>8s} {'veg recall':>10s} {'water F1':>9s} {'other recall':>12s}"
    )
    for name, r in runs.items():
        print(f"{name:24s} {r['accuracy']:8.3f} {r['recall']['vegetation']:10.3f} "
              f"{r['f1']['water']:9.3f} {r['recall']['other']:12.3f}")  # fmt: skip
    result = {
        "command": "python benchmarks/landcover_coarse.py",
        "date": datetime.date.today().isoformat(),
        "split": f"OSCD cities {', '.join(VALIDATION)} (held out from training; they chose the "
        "shipped network and its settings: validation figures)",
        "labels": "from each scene's own NIR and SWIR (index_labels); unsure pixels left out",
        "scenes": [name for name, _, _ in items],
        "runs": runs,
    }
    out = Path(__file__).resolve().parent / "results" / "landcover_coarse.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
