"""Semantic change on pairs with known truth made from the Dubai land-cover test tile.

Pairs: each labelled image of **tile 4** (the land-cover network's test tile:
never trained on, nor used to choose any setting; tiles 3, 6, 7, 8 trained it and
tile 1 chose its epoch and threshold, see ``landcover_accuracy.json``, and the
settings of the semantic step) gives two
pairs (:mod:`terrasight.training.semantic_pairs`): about half of its building
instances (8-connected regions of the label's building pixels, 150 px and more)
are covered with ground texture copied from nearby unpaved land, in the before
date (``built``: bare -> building) or in the after date (``removed``:
building -> bare); each date gets its own mild light and colour jitter. Images are
written as GeoTIFFs without a CRS (areas in pixels).

Each pair runs ``detect_changes`` (the default method) and ``classify_changes``
(the default options). Figures:

* from -> to accuracy: on pixels that truly changed and that the change mask found,
  the share whose ``change_classes.tif`` pair equals the truth (and each date alone);
* building count: objects with ``to_class == "building"`` and another ``from_class``
  (``built``), or the reverse (``removed``), against the buildings covered; the goal
  is within 20% on 80% of pairs;
* speed: seconds of ``detect_changes`` and of ``classify_changes`` on a 2048 x 2048
  pair (the largest tile-4 image mirrored to that size), best of two alternating runs.

Usage::

    .venv/bin/python benchmarks/semantic_change.py [--data ../shared/data] [--no-speed]
    .venv/bin/python benchmarks/semantic_change.py --tile 1 --options neck=0,smooth=3
    .venv/bin/python benchmarks/semantic_change.py --tile 1 --diagnose

The first writes ``benchmarks/results/semantic_change.json`` (the test tile with the
default options, the same figures on the validation tile 1, the speed); ``--tile``
runs one tile with the given ``SemanticOptions``, prints and writes nothing: choose
settings on tile 1 only. ``--diagnose`` adds what each counted building lies on
(:mod:`_semantic_diagnose`). Change results and land-cover probabilities are cached
under ``.cache/semantic_change/`` (:mod:`_semantic_cache`; ``--no-cache`` skips them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from _semantic_cache import CACHE, CachedNetwork, cached_change
from _semantic_diagnose import diagnose, pooled_diagnosis

from terrasight.models.onnx_landcover import load_landcover_network
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.landcover.classes import CLASSES
from terrasight.tasks.semantic import classify_changes
from terrasight.training.landcover_data import SPLIT, load_tiles
from terrasight.training.semantic_pairs import SemanticPair, semantic_pair

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
RESULTS = Path(__file__).resolve().parent / "results" / "semantic_change.json"
SPEED_SIDE = 2048


def write_pair(pair: SemanticPair, folder: Path) -> tuple[Path, Path]:
    """The pair as two uint8 GeoTIFFs (no CRS)."""
    paths = []
    for name, data in (("before", pair.before), ("after", pair.after)):
        path = folder / f"{name}.tif"
        profile = {
            "driver": "GTiff",
            "count": 3,
            "dtype": "uint8",
            "height": data.shape[1],
            "width": data.shape[2],
            "tiled": True,
            "compress": "deflate",
        }
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
        paths.append(path)
    return paths[0], paths[1]


def counted_buildings(objects: Any, direction: str) -> list[Any]:
    """Objects counted as new buildings (``built``: building after, not before) or as
    removed ones (``removed``: the reverse)."""
    if direction == "built":
        return [o for o in objects if o.to_class == "building" and o.from_class != "building"]
    return [o for o in objects if o.from_class == "building" and o.to_class != "building"]


def score_pair(
    pair: SemanticPair,
    direction: str,
    folder: Path,
    options: dict[str, Any] | None = None,
    *,
    key: str = "",
    network: Any = None,
    cache: Path | None = None,
    diagnosis: bool = False,
) -> dict[str, Any]:
    """Run change and semantic change on one pair and score them against its truth
    (the change result and the network's probabilities from ``cache`` where given)."""
    if cache is not None:
        result, detect_s = cached_change(pair, key, cache, folder, write_pair)
    else:
        before, after = write_pair(pair, folder)
        t0 = time.perf_counter()
        result = detect_changes(before, after, outdir=folder / "out", overwrite=True)
        detect_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    semantic = classify_changes(result, options=options, network=network)
    t2 = time.perf_counter()
    found = semantic.mask() == 1
    with rasterio.open(semantic.mask_path.with_name("change_classes.tif")) as ds:
        codes = ds.read()
    both = found & pair.changed
    right_from = codes[0][both] == pair.from_class
    right_to = codes[1][both] == pair.to_class
    counted = counted_buildings(semantic.objects, direction)
    truth = pair.buildings
    row = {
        "truth_buildings": truth,
        "counted_buildings": len(counted),
        "count_within_20pct": bool(abs(len(counted) - truth) <= 0.2 * truth),
        "pixels_scored": int(both.sum()),
        "pair_right": int((right_from & right_to).sum()),
        "from_right": int(right_from.sum()),
        "to_right": int(right_to.sum()),
        "truth_changed": int(pair.changed.sum()),
        "found_changed": int(found.sum()),
        "change_objects": len(result.objects),
        "semantic_objects": len(semantic.objects),
        "detect_s": round(detect_s, 2),
        "semantic_s": round(t2 - t1, 2),
        "method": result.method,
    }
    if diagnosis:
        row["diagnosis"] = diagnose(semantic, pair, direction, counted)
    return row


def pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled pixel figures and count figures over pairs."""
    scored = sum(r["pixels_scored"] for r in rows) or 1
    within = sum(r["count_within_20pct"] for r in rows)
    truth_changed = sum(r["truth_changed"] for r in rows) or 1
    found = sum(r["found_changed"] for r in rows) or 1
    out = {
        "pairs": len(rows),
        "from_to_accuracy": round(sum(r["pair_right"] for r in rows) / scored, 4),
        "from_accuracy": round(sum(r["from_right"] for r in rows) / scored, 4),
        "to_accuracy": round(sum(r["to_right"] for r in rows) / scored, 4),
        "change_recall": round(sum(r["pixels_scored"] for r in rows) / truth_changed, 4),
        "change_precision": round(sum(r["pixels_scored"] for r in rows) / found, 4),
        "count_within_20pct": f"{within} of {len(rows)}",
        "count_within_20pct_share": round(within / max(len(rows), 1), 3),
        "buildings_truth": sum(r["truth_buildings"] for r in rows),
        "buildings_counted": sum(r["counted_buildings"] for r in rows),
        "count_mean_abs_error": round(
            float(np.mean([abs(r["counted_buildings"] - r["truth_buildings"]) for r in rows])), 2
        ),
    }
    if rows and all("diagnosis" in r for r in rows):
        out["diagnosis"] = pooled_diagnosis([r["diagnosis"] for r in rows])
    return out


def accuracy(
    data: Path,
    tile: int = 4,
    options: dict[str, Any] | None = None,
    cache: Path | None = CACHE,
    diagnosis: bool = False,
) -> dict[str, Any]:
    """Every image of one land-cover tile (4, the test tile, by default) in both directions."""
    samples = load_tiles(data, (tile,))
    net = load_landcover_network(threads=2)
    network = CachedNetwork(net, cache) if cache is not None else net
    pairs: dict[str, Any] = {}
    for i, sample in enumerate(samples):
        for direction in ("built", "removed"):
            pair = semantic_pair(sample.image, sample.labels, direction, seed=i)
            if pair.buildings == 0:
                continue
            key = f"{sample.name} {direction}"
            with tempfile.TemporaryDirectory(prefix="semantic-") as tmp:
                row = score_pair(
                    pair,
                    direction,
                    Path(tmp),
                    options,
                    key=key,
                    network=network,
                    cache=cache,
                    diagnosis=diagnosis,
                )
            pairs[key] = row
            print(
                f"{sample.name:22s} {direction:8s} buildings {row['truth_buildings']:3d} "
                f"counted {row['counted_buildings']:3d}  from->to "
                f"{row['pair_right'] / max(row['pixels_scored'], 1):.3f}  "
                f"from {row['from_right'] / max(row['pixels_scored'], 1):.3f}  "
                f"to {row['to_right'] / max(row['pixels_scored'], 1):.3f}",
                flush=True,
            )
            if diagnosis:
                print("   ", json.dumps(row["diagnosis"]), flush=True)
    rows = list(pairs.values())
    summary = {
        "all": pooled(rows),
        "built": pooled([r for k, r in pairs.items() if k.endswith("built")]),
        "removed": pooled([r for k, r in pairs.items() if k.endswith("removed")]),
    }
    return {"summary": summary, "pairs": pairs}


def _speed_pair(data: Path) -> tuple[SemanticPair, str]:
    """The largest test image's "built" pair, mirrored out to ``SPEED_SIDE`` px, and its name."""
    samples = load_tiles(data, SPLIT["test"])
    big = max(samples, key=lambda s: s.image.shape[0] * s.image.shape[1])
    pair = semantic_pair(big.image, big.labels, "built", seed=0)
    reps = [
        np.pad(d, ((0, 0), *[(0, max(0, SPEED_SIDE - n)) for n in d.shape[1:]]), mode="reflect")[
            :, :SPEED_SIDE, :SPEED_SIDE
        ]
        for d in (pair.before, pair.after)
    ]
    mirrored = SemanticPair(reps[0], reps[1], pair.changed, pair.from_class, pair.to_class, 0)
    return mirrored, big.name


def speed(data: Path, repeats: int = 2) -> dict[str, Any]:
    """Seconds of detect_changes and classify_changes on a 2048 px pair, alternating."""
    mirrored, name = _speed_pair(data)
    runs = []
    with tempfile.TemporaryDirectory(prefix="semantic-speed-") as tmp:
        before, after = write_pair(mirrored, Path(tmp))
        for k in range(repeats):
            out = Path(tmp) / f"out{k}"
            t0 = time.perf_counter()
            result = detect_changes(before, after, outdir=out)
            t1 = time.perf_counter()
            semantic = classify_changes(result)
            t2 = time.perf_counter()
            runs.append(
                {
                    "detect_s": round(t1 - t0, 2),
                    "classify_changes_s": round(t2 - t1, 2),
                    "change_objects": len(result.objects),
                    "semantic_objects": len(semantic.objects),
                    "changed_fraction": round(result.changed_fraction, 4),
                }
            )
            print(runs[-1], flush=True)
    best = min(runs, key=lambda r: r["detect_s"] + r["classify_changes_s"])
    return {
        "side_px": SPEED_SIDE,
        "image": f"{name} mirrored to {SPEED_SIDE} x {SPEED_SIDE}",
        "runs": runs,
        "best": best,
        "added_share": round(best["classify_changes_s"] / max(best["detect_s"], 1e-9), 3),
    }


def cli_speed(data: Path, repeats: int = 2) -> dict[str, Any]:
    """Seconds of the whole ``terrasight change`` (facts and report included) on the 2048 px
    pair, with and without ``--no-classes``, alternating."""
    import subprocess
    import sys

    mirrored, _ = _speed_pair(data)
    runs: dict[str, list[float]] = {"classes (default)": [], "--no-classes": []}
    exe = [str(Path(sys.executable).with_name("terrasight"))]
    with tempfile.TemporaryDirectory(prefix="semantic-cli-") as tmp:
        before, after = write_pair(mirrored, Path(tmp))
        for k in range(repeats):
            for name, extra in (("classes (default)", []), ("--no-classes", ["--no-classes"])):
                out = Path(tmp) / f"{k}-{len(extra)}"
                t0 = time.perf_counter()
                cmd = [*exe, "change", str(before), str(after), "-o", str(out), "-q", *extra]
                subprocess.run(cmd, check=True, capture_output=True)
                runs[name].append(round(time.perf_counter() - t0, 2))
                print(name, runs[name][-1], flush=True)
    best = {k: min(v) for k, v in runs.items()}
    return {
        "command": "terrasight change BEFORE AFTER -o OUT -q [--no-classes]",
        "runs_s": runs,
        "best_s": best,
        "added_s": round(best["classes (default)"] - best["--no-classes"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="run only this land-cover tile (1: the validation tile, to choose settings; "
        "4: the test tile), print the summary and write nothing",
    )
    parser.add_argument(
        "--options",
        default="",
        metavar="K=V,K=V",
        help="SemanticOptions to try (with --tile; the written figures use the defaults)",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="also print what each counted building lies on and the classes of the truth",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help=f"detect and classify again instead of reusing {CACHE}",
    )
    parser.add_argument(
        "--cli-speed-only",
        action="store_true",
        help="only time the whole command with and without classes (kept in the same file)",
    )
    args = parser.parse_args()
    cache = None if args.no_cache else CACHE
    if args.tile is not None or args.options:
        options = dict(kv.split("=", 1) for kv in args.options.split(",") if kv)
        found = accuracy(args.data, args.tile or 1, options, cache, args.diagnose)
        print(f"tile {args.tile or 1} {args.options or 'defaults'}")
        for part in ("all", "built", "removed"):
            print(part, json.dumps(found["summary"][part]))
        return
    if args.cli_speed_only:
        kept = json.loads(RESULTS.read_text(encoding="utf-8"))
        kept.setdefault("speed", {})["cli"] = cli_speed(args.data)
        RESULTS.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")
        print(json.dumps(kept["speed"]["cli"], indent=1))
        return
    out: dict[str, Any] = {
        "split": "land-cover test tile 4 (tiles 3, 6, 7, 8 trained the network; tile 1 "
        "chose its settings and those of the semantic step)",
        "pairs_made": "about half the building instances of each image covered with nearby "
        "unpaved-land texture in one date; mild per-date jitter (training.semantic_pairs)",
        "classes": list(CLASSES),
        "command": "python benchmarks/semantic_change.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "date": date.today().isoformat(),
        "settings": "SemanticOptions defaults",
    }
    out["accuracy"] = accuracy(args.data, 4, None, cache, diagnosis=True)
    validation = accuracy(args.data, 1, None, cache, diagnosis=True)
    out["validation_tile1"] = {
        "note": "the same figures on the validation tile (1), where the settings were chosen",
        "summary": validation["summary"],
    }
    if not args.no_speed:
        out["speed"] = speed(args.data)
    old = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    if "cli" in old.get("speed", {}) and "speed" in out:
        out["speed"]["cli"] = old["speed"]["cli"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out["accuracy"]["summary"], indent=1))
    if "speed" in out:
        print(json.dumps(out["speed"]["best"], indent=1))


if __name__ == "__main__":
    main()
