"""Why the semantic change benchmark counts what it counts: each counted building against
the covered buildings (the truth instances), and the classes the network gave the truth's
changed pixels in each date.

``python benchmarks/semantic_change.py --tile 1 --diagnose`` prints, per pair and pooled:

* ``counted``: objects counted as new (or removed) buildings; of them ``on_truth``
  (half or more of their pixels on a covered building), ``off_truth`` (less; by their
  from -> to pair);
* truth instances found by 0, 1 or 2+ counted objects (missed, one, split);
* ``from_codes`` / ``to_codes``: the classes ``change_classes.tif`` holds on the truth's
  changed pixels that the mask found, in the date that should be bare / building.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize
from scipy import ndimage

from terrasight.tasks.landcover.classes import CLASSES


def diagnose(semantic: Any, pair: Any, direction: str, counted: list[Any]) -> dict[str, Any]:
    """Counted objects against the truth instances, and the classes on truly changed pixels."""
    truth, n_truth = ndimage.label(pair.changed, structure=np.ones((3, 3), bool))
    shape = pair.changed.shape
    hits: Counter[int] = Counter()
    on, off, uncounted = 0, Counter(), Counter()
    chosen = {o.id for o in counted}
    for obj in semantic.objects:
        geom = shapely.geometry.shape(obj.geometry)
        own = rasterize([(geom, 1)], out_shape=shape, transform=semantic.affine) == 1
        ids = truth[own]
        share = float((ids > 0).mean()) if ids.size else 0.0
        if obj.id not in chosen:
            if share >= 0.5:
                uncounted[f"{obj.from_class}->{obj.to_class}"] += 1
            continue
        if share >= 0.5:
            on += 1
            hits[int(np.bincount(ids[ids > 0]).argmax())] += 1
        else:
            off[f"{obj.from_class}->{obj.to_class} ({obj.pixels} px)"] += 1
    per_truth = [hits.get(i, 0) for i in range(1, n_truth + 1)]
    with rasterio.open(semantic.mask_path.with_name("change_classes.tif")) as ds:
        codes = ds.read()
    mask = semantic.mask() == 1
    found = mask & pair.changed
    seen = ndimage.mean(mask, truth, index=np.arange(1, n_truth + 1)) if n_truth else []
    names = [*CLASSES, "none"]
    return {
        "counted": len(counted),
        "on_truth": on,
        "off_truth": sum(off.values()),
        "off_truth_kinds": dict(off),
        "truth": n_truth,
        "truth_missed": sum(k == 0 for k in per_truth),
        "truth_one": sum(k == 1 for k in per_truth),
        "truth_split": sum(k >= 2 for k in per_truth),
        "truth_undetected": int(sum(v < 0.2 for v in seen)),
        "uncounted_on_truth": dict(uncounted),
        "from_codes": _shares(codes[0][found], names),
        "to_codes": _shares(codes[1][found], names),
    }


def _shares(codes: np.ndarray, names: list[str]) -> dict[str, int]:
    c = np.where(codes == 255, len(names) - 1, codes)
    counts = np.bincount(c.ravel(), minlength=len(names))
    return {names[i]: int(counts[i]) for i in range(len(names)) if counts[i]}


def pooled_diagnosis(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums of the per-pair diagnoses."""
    out: dict[str, Any] = {}
    for key in ("counted", "on_truth", "off_truth", "truth", "truth_missed", "truth_one"):
        out[key] = sum(r[key] for r in rows)
    out["truth_split"] = sum(r["truth_split"] for r in rows)
    out["truth_undetected"] = sum(r["truth_undetected"] for r in rows)
    left: Counter[str] = Counter()
    for r in rows:
        left.update(r["uncounted_on_truth"])
    out["uncounted_on_truth"] = dict(left.most_common())
    for key in ("from_codes", "to_codes"):
        total: Counter[str] = Counter()
        for r in rows:
            total.update(r[key])
        n = sum(total.values()) or 1
        out[key] = {k: round(v / n, 3) for k, v in total.most_common()}
    kinds: Counter[str] = Counter()
    for r in rows:
        for k, v in r["off_truth_kinds"].items():
            kinds[k.split(" (")[0]] += v
    out["off_truth_kinds"] = dict(kinds.most_common())
    return out
