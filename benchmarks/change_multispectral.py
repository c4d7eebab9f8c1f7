"""Multispectral change on real Sentinel-2: the OSCD cities, each held out in turn.

For every one of the nine OSCD cities in the shared data folder
(``change/oscd``), ``learned-ms`` is trained on the other eight
(``terrasight.training.change_ms``, the shipped settings, threshold chosen on
those eight only) and run on the held-out city through ``detect_changes``
(one uint16 GeoTIFF per date, bands named B02 ... B08, default options, cloud
masks included, a ``weights=`` option pointing at the fold's model); ``cva``
and ``irmad`` need no training and run the same way on the same files. Scores
come from the confusion matrix of each city and pooled over all cities'
pixels; a pixel with no answer (cloud) counts as unchanged. The changed share
of each city is shown against its truth share.

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_multispectral.py [--bands 4|6] [--methods ...]

Writes ``benchmarks/results/change_multispectral.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA  # noqa: E402
from _oscd_stack import stack_city  # noqa: E402

from terrasight.tasks.change.methods.learned_ms import save_weights  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402
from terrasight.training.change_ms import (  # noqa: E402
    MsTrainConfig,
    leave_one_out,
    scores,
)
from terrasight.training.oscd import SWIR, TEN_M, city_names, find_root  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "change_multispectral.json"
KEYS = ("f1", "precision", "recall", "changed_share", "truth_share")


def _run(before: Path, after: Path, method: str, options: dict) -> tuple[np.ndarray, dict]:
    t = time.perf_counter()
    result = detect_changes(before, after, method=method, method_options=options)
    mask = result.mask()
    info = {
        "seconds": round(time.perf_counter() - t, 2),
        "cloud_pixels": result.cloud_pixels,
        "warnings": list(result.warnings),
    }
    return mask == 1, info


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--bands", choices=["4", "6"], default="4")
    parser.add_argument("--methods", nargs="+", default=["learned-ms", "irmad", "cva"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="Folder for the stacked cities and fold models (fold models found there are reused).",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="rasterio")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = find_root(args.data)
    bands = TEN_M if args.bands == "4" else TEN_M + SWIR
    work = args.work or Path(tempfile.mkdtemp(prefix="oscd-bench-"))
    cfg = MsTrainConfig(bands=bands)
    names = city_names(root)
    loco: dict = {"cities": {}}
    if "learned-ms" in args.methods and not all(_fold(work, n).exists() for n in names):
        t = time.perf_counter()
        loco = leave_one_out(args.data, cfg)
        for name, net in loco["networks"].items():
            save_weights(_fold(work, name), net, bands, {"held_out": name})
        print(f"leave-one-city-out training: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    rows: dict = {m: {} for m in args.methods}
    pooled: dict = {m: [] for m in args.methods}
    for name in names:
        before, after, truth = stack_city(root / name, bands, work)
        for method in args.methods:
            options = {}
            if method == "learned-ms":
                options = {"weights": str(_fold(work, name))}
            try:
                pred, info = _run(before, after, method, options)
            except Exception as exc:  # noqa: BLE001 - a failing method is a result too
                print(
                    f"{name:12s} {method:11s} failed: {type(exc).__name__}: {exc}", file=sys.stderr
                )
                pred, info = np.zeros_like(truth), {"error": f"{type(exc).__name__}: {exc}"}
            row = scores(pred, truth)
            rows[method][name] = {**{k: row[k] for k in KEYS}, **info}
            pooled[method].append((pred.ravel(), truth.ravel()))
            print(
                f"{name:12s} {method:11s} "
                + " ".join(f"{k} {row[k]:.3f}" for k in KEYS[:3])
                + f"  changed {row['changed_share']:.4f} truth {row['truth_share']:.4f}",
                file=sys.stderr,
            )
    summary = {}
    for method, parts in pooled.items():
        row = scores(np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts]))
        summary[method] = {k: row[k] for k in KEYS}
    _print(rows, summary)
    report = {
        "what": "OSCD cities in the shared data, each held out in turn (learned-ms trained on "
        "the other eight; cva and irmad untrained), detect_changes defaults, F1 pooled over "
        "held-out pixels",
        "bands": list(bands),
        "config": {k: v for k, v in cfg.__dict__.items()},
        "cities": rows,
        "pooled": summary,
        "per_pixel_loco": {
            k: {m: v[m] for m in ("f1", "threshold", "max_probability")}
            for k, v in loco["cities"].items()
        },
    }
    if args.out.exists():  # methods run separately are merged into one file
        old = json.loads(args.out.read_text())
        for key in ("cities", "pooled"):
            report[key] = {**old.get(key, {}), **report[key]}
        if not loco["cities"]:
            report["per_pixel_loco"] = old.get("per_pixel_loco", {})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    return report


def _fold(work: Path, name: str) -> Path:
    return work / f"learned-ms-without-{name}.npz"


def _print(rows: dict, summary: dict) -> None:
    methods = list(rows)
    print(
        "| city | "
        + " | ".join(f"{m} F1 (P/R)" for m in methods)
        + " | changed share ("
        + ", ".join(methods)
        + ") | truth share |"
    )
    print("|---" * (len(methods) + 3) + "|")
    for name in next(iter(rows.values())):
        cells = [
            f"{rows[m][name]['f1']:.3f} ({rows[m][name]['precision']:.2f}/"
            f"{rows[m][name]['recall']:.2f})"
            for m in methods
        ]
        shares = ", ".join(f"{rows[m][name]['changed_share']:.4f}" for m in methods)
        truth = next(iter(rows.values()))[name]["truth_share"]
        print(f"| {name} | " + " | ".join(cells) + f" | {shares} | {truth:.4f} |")
    cells = [
        f"**{summary[m]['f1']:.3f}** ({summary[m]['precision']:.2f}/{summary[m]['recall']:.2f})"
        for m in methods
    ]
    shares = ", ".join(f"{summary[m]['changed_share']:.4f}" for m in methods)
    print(
        "| pooled | " + " | ".join(cells) + f" | {shares} | "
        f"{summary[methods[0]]['truth_share']:.4f} |"
    )


if __name__ == "__main__":
    main()
