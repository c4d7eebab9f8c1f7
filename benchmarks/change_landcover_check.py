"""The land-cover check on change, side by side: with and without it, on the same change masks.

Every pair is detected once with the default (``detect_changes`` defaults, the
learned method on RGB), then classified (``classify_changes``) once per variant
of the check on a fresh copy of that result, and each mask is scored against the
truth: precision, recall, F1 pooled over pixels, and the changed share against the
truth's. Variants: ``off`` (classes, no check: the mask is the plain change mask),
``drop`` at sure same-class shares 0.3, 0.5 and 0.7, and ``drop`` with
``building -> building`` checked too. (``flag`` leaves the mask as ``off``.)

Sections and splits (every figure names its split):

``airchange``
    the 13 AirChange test crops (top-left 784 x 448 px; the shipped learned model
    never trained on them). **Szada (7 crops) is the validation split** on which
    the variant is chosen; Tiszadob (5) and Archieve (1) are the test split.
``dubai``
    pairs made from the Dubai land-cover tiles (``terrasight.training.semantic_pairs``:
    buildings covered with nearby unpaved ground in one date, per-date jitter of light
    and colour). **Tile 1 is the validation split**, tile 4 the test split. Every
    true change there is a new or removed building: recall here is recall on real
    building changes.
``oscd``
    the 9 OSCD cities of the shared data, 4 bands at 10 m (blue, green, red,
    near-infrared): urban change. Not used to choose anything.
``levir-cc``
    the 3 LEVIR-CC example pairs (no change masks exist: their captions say houses and
    roads were built): only the changed share and what the check removed.

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_landcover_check.py

Writes ``benchmarks/results/change_landcover_check.json`` with the command, date and
machine; ``--sections`` runs some sections only (then ``--out`` another file).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _semantic_cache import CACHE, CachedNetwork  # noqa: E402

from terrasight.eval.metrics import ConfusionMatrix, scores  # noqa: E402
from terrasight.tasks.change.names import STORE_NAME  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402
from terrasight.tasks.change.result import ChangeResult  # noqa: E402
from terrasight.tasks.change.store import ObjectsView  # noqa: E402
from terrasight.tasks.semantic import classify_changes  # noqa: E402

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
RESULTS = Path(__file__).resolve().parent / "results" / "change_landcover_check.json"
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "off": ("off", {}),
    "drop 0.3": ("drop", {"check_share": 0.3}),
    "drop 0.5": ("drop", {"check_share": 0.5}),
    "drop 0.7": ("drop", {"check_share": 0.7}),
    "drop 0.5 +building": ("drop", {"check_share": 0.5, "check_building": 1}),
}
SECTIONS = ("airchange", "dubai", "oscd", "levir-cc")
Truth = Callable[[ChangeResult], np.ndarray | None]
"""The truth (bool) on a result's grid, or None where there is none."""


def _copy(result: ChangeResult, base: Path, out: Path) -> ChangeResult:
    """The result in ``base`` copied to ``out`` (objects read from the copy)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(base, out)
    return dataclasses.replace(
        result,
        mask_path=out / Path(result.mask_path).name,
        probability_path=out / Path(result.probability_path).name,
        objects=ObjectsView.open(out / STORE_NAME),
    )


def run_pair(before: Path, after: Path, truth: Truth, work: Path, network: Any) -> dict[str, Any]:
    """Detect once, then every variant of the check on a copy; a row per variant."""
    base = work / "base"
    t0 = time.perf_counter()
    result = detect_changes(before, after, outdir=base, overwrite=True)
    detect_s = time.perf_counter() - t0
    rows: dict[str, Any] = {"detect_s": round(detect_s, 2), "method": result.method}
    for label, (mode, opts) in VARIANTS.items():
        copy = _copy(result, base, work / label.replace(" ", "_"))
        t1 = time.perf_counter()
        sem = classify_changes(copy, options=opts, network=network, landcover_check=mode)
        seconds = time.perf_counter() - t1
        with rasterio.open(sem.mask_path) as ds:
            mask = ds.read(1)
        found = mask == 1
        checked = sem.params.get("landcover_check") or {}
        row: dict[str, Any] = {
            "classes_s": round(seconds, 2),
            "objects": len(sem.objects),
            "removed_objects": int(checked.get("objects", 0)),
            "removed_pixels": int(checked.get("pixels", 0)),
            "removed_by_class": checked.get("by_class", {}),
            "valid_pixels": int((mask != 255).sum()),
            "found_pixels": int(found.sum()),
        }
        known = truth(sem)
        if known is not None:
            valid = mask != 255
            labelled = known != 255 if known.dtype == np.uint8 else np.ones_like(valid)
            cm = ConfusionMatrix.from_arrays(
                found, known.astype(bool) & (known != 255), valid & labelled
            )
            row.update(cm.to_dict())
        rows[label] = row
    shutil.rmtree(work, ignore_errors=True)
    return rows


def pooled(pairs: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Per variant, scores pooled over the pairs ``names``."""
    out: dict[str, Any] = {}
    for label in VARIANTS:
        rows = [pairs[n][label] for n in names if label in pairs[n]]
        found = sum(r["found_pixels"] for r in rows)
        valid = max(sum(r["valid_pixels"] for r in rows), 1)
        entry: dict[str, Any] = {
            "pairs": len(rows),
            "changed_share": round(found / valid, 5),
            "removed_objects": sum(r["removed_objects"] for r in rows),
            "removed_pixels": sum(r["removed_pixels"] for r in rows),
            "classes_s": round(sum(r["classes_s"] for r in rows), 1),
        }
        if rows and all("tp" in r for r in rows):
            cm = ConfusionMatrix(*(sum(int(r[k]) for r in rows) for k in ("tp", "fp", "fn", "tn")))
            entry.update({k: round(v, 4) for k, v in scores(cm).items()})
            entry["truth_share"] = round((cm.tp + cm.fn) / max(cm.total, 1), 5)
        out[label] = entry
    return out


def section_airchange(data: Path, tmp: Path, network: Any) -> dict[str, Any]:
    from terrasight.eval.change import prepare_inputs, read_truth
    from terrasight.eval.datasets import list_pairs

    pairs: dict[str, Any] = {}
    for i, pair in enumerate(list_pairs(data / "change" / "airchange", "airchange", crop="test")):
        work = tmp / f"air{i}"
        before, after = prepare_inputs(pair, work / "in")
        pairs[pair.name] = run_pair(
            before, after, lambda r, p=pair: read_truth(p, r), work / "run", network
        )
        _progress("airchange", pair.name, pairs[pair.name])
    val = [n for n in pairs if n.startswith("Szada")]
    test = [n for n in pairs if not n.startswith("Szada")]
    return {
        "splits": {
            "validation (Szada)": pooled(pairs, val),
            "test (Tiszadob, Archieve)": pooled(pairs, test),
        },
        "pairs": pairs,
    }


def section_dubai(data: Path, tmp: Path, network: Any) -> dict[str, Any]:
    from semantic_change import write_pair

    from terrasight.training.landcover_data import load_tiles
    from terrasight.training.semantic_pairs import semantic_pair

    pairs: dict[str, Any] = {}
    splits: dict[str, list[str]] = {"validation (tile 1)": [], "test (tile 4)": []}
    for tile, split in ((1, "validation (tile 1)"), (4, "test (tile 4)")):
        for i, sample in enumerate(load_tiles(data, (tile,))):
            for direction in ("built", "removed"):
                pair = semantic_pair(sample.image, sample.labels, direction, seed=i)
                if pair.buildings == 0:
                    continue
                name = f"tile{tile} {sample.name} {direction}"
                work = tmp / f"dubai{len(pairs)}"
                (work / "in").mkdir(parents=True)
                before, after = write_pair(pair, work / "in")
                pairs[name] = run_pair(
                    before, after, lambda r, p=pair: p.changed, work / "run", network
                )
                splits[split].append(name)
                _progress("dubai", name, pairs[name])
    return {"splits": {s: pooled(pairs, names) for s, names in splits.items()}, "pairs": pairs}


def section_oscd(data: Path, tmp: Path, network: Any) -> dict[str, Any]:
    from terrasight.eval.sensors import oscd_cities, oscd_pair

    root = data / "change" / "oscd"
    pairs: dict[str, Any] = {}
    for city in oscd_cities(root):
        pair = oscd_pair(root, city, tmp / city / "in")
        pairs[city] = run_pair(
            pair.before, pair.after, lambda r, p=pair: p.read_truth(), tmp / city / "run", network
        )
        _progress("oscd", city, pairs[city])
    return {
        "splits": {"all 9 cities (not used to choose)": pooled(pairs, list(pairs))},
        "pairs": pairs,
    }


def section_levir_cc(data: Path, tmp: Path, network: Any) -> dict[str, Any]:
    from PIL import Image

    folder = data / "levir-cc" / "examples"
    pairs: dict[str, Any] = {}
    for path in sorted((folder / "A").glob("*.png")):
        work = tmp / path.stem
        (work / "in").mkdir(parents=True)
        files = []
        for date in ("A", "B"):
            rgb = np.asarray(Image.open(folder / date / path.name).convert("RGB"))
            out = work / "in" / f"{date}.tif"
            profile = dict(
                driver="GTiff", width=rgb.shape[1], height=rgb.shape[0], count=3, dtype="uint8"
            )
            with rasterio.open(out, "w", **profile) as ds:
                ds.write(np.moveaxis(rgb, -1, 0))
            files.append(out)
        pairs[path.stem] = run_pair(files[0], files[1], lambda r: None, work / "run", network)
        _progress("levir-cc", path.stem, pairs[path.stem])
    return {"splits": {"3 examples (no masks)": pooled(pairs, list(pairs))}, "pairs": pairs}


def _progress(section: str, name: str, rows: dict[str, Any]) -> None:
    parts = []
    for label in VARIANTS:
        r = rows[label]
        f1 = 2 * r["tp"] / max(2 * r["tp"] + r["fp"] + r["fn"], 1) if "tp" in r else float("nan")
        parts.append(f"{label}: F1 {f1:.3f} -{r['removed_objects']}")
    print(f"{section:9s} {name:40s} " + "  ".join(parts), flush=True)


def table(results: dict[str, Any]) -> str:
    lines = [
        "| section | split | variant | precision | recall | F1 | changed share (truth) | objects removed | classes s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for section, data in results.items():
        for split, rows in data["splits"].items():
            for label, r in rows.items():
                truth = f" ({r['truth_share']:.3f})" if "truth_share" in r else ""
                p, rc, f = (f"{r[k]:.3f}" if k in r else "-" for k in ("precision", "recall", "f1"))
                lines.append(
                    f"| {section} | {split} | {label} | {p} | {rc} | {f} | "
                    f"{r['changed_share']:.3f}{truth} | {r['removed_objects']} | {r['classes_s']} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from terrasight.models.onnx_landcover import load_landcover_network

    network = CachedNetwork(load_landcover_network(threads=2), CACHE)
    runs = {
        "airchange": section_airchange,
        "dubai": section_dubai,
        "oscd": section_oscd,
        "levir-cc": section_levir_cc,
    }
    results: dict[str, Any] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="terrasight-lccheck-") as tmp:
        for name in args.sections:
            results[name] = runs[name](args.data, Path(tmp) / name, network)
    print(table(results))
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/change_landcover_check.py "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()),
        },
        "variants": {k: {"mode": m, "options": o} for k, (m, o) in VARIANTS.items()},
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
