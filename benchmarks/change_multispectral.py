"""Multispectral change on real Sentinel-2: the OSCD cities, each held out in turn.

For every one of the nine OSCD cities in the shared data folder
(``change/oscd``), ``ms-unet`` is trained without it (three folds of three
cities, :data:`FOLDS`: each city is scored by a network trained on the other
six, with a threshold chosen on those six only; ``terrasight.training.change_ms_unet``),
``learned-ms`` is trained on the other eight
(``terrasight.training.change_ms``, the shipped settings, threshold chosen on
those eight only) and run on the held-out city through ``detect_changes``
(one uint16 GeoTIFF per date, bands named B02 ... B08, default options, cloud
masks included, a ``weights=`` option pointing at the fold's model); ``cva``
and ``irmad`` need no training and run the same way on the same files. A method
may carry options: ``cva:tolerance=0`` is what ``auto`` runs, ``ms-unet:gate=0``
the network without its noise gate. Scores
come from the confusion matrix of each city and pooled over all cities'
pixels; a pixel with no answer (cloud) counts as unchanged. The changed share
of each city is shown against its truth share.

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_multispectral.py [--bands 4|6] [--methods ...]

Writes ``benchmarks/results/change_multispectral.json`` (``_6band.json`` with
``--bands 6``; ``--out`` to change).
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
from terrasight.training import change_ms_unet  # noqa: E402
from terrasight.training.change_ms import (  # noqa: E402
    MsTrainConfig,
    leave_one_out,
    scores,
)
from terrasight.training.oscd import SWIR, TEN_M, city_names, find_root  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "change_multispectral.json"
KEYS = ("f1", "precision", "recall", "changed_share", "truth_share")
FOLDS = change_ms_unet.CITY_FOLDS
"""The cities ``ms-unet`` holds out together (balanced by pixels; a CPU-sized protocol)."""


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
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["ms-unet", "ms-unet:gate=0", "learned-ms", "irmad", "cva", "cva:tolerance=0"],
        help="Method names, each with options if any: cva:tolerance=0.",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="Folder for the stacked cities and fold models (fold models found there are reused).",
    )
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = RESULTS if args.bands == "4" else RESULTS.with_name(RESULTS.stem + "_6band.json")
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
    unet: dict = {}
    if any(m.startswith("ms-unet") for m in args.methods):
        if not all(change_ms_unet.fold_path(work, n).exists() for n in names):
            t = time.perf_counter()
            unet = change_ms_unet.leave_one_out(
                args.data, change_ms_unet.UnetTrainConfig(), work, FOLDS
            )
            print(f"ms-unet fold training: {time.perf_counter() - t:.0f} s", file=sys.stderr)
        unet = {n: _fold_scores(work, n) for n in names}
    rows: dict = {m: {} for m in args.methods}
    pooled: dict = {m: [] for m in args.methods}
    for name in names:
        before, after, truth = stack_city(root / name, bands, work)
        for method in args.methods:
            base, options = _parse(method)
            if base == "learned-ms":
                options["weights"] = str(_fold(work, name))
            if base == "ms-unet":
                options["weights"] = str(change_ms_unet.fold_path(work, name))
            try:
                pred, info = _run(before, after, base, options)
            except Exception as exc:  # noqa: BLE001 - a failing method is a result too
                print(
                    f"{name:12s} {method:11s} failed: {type(exc).__name__}: {exc}", file=sys.stderr
                )
                pred, info = np.zeros_like(truth), {"error": f"{type(exc).__name__}: {exc}"}
            row = scores(pred, truth)
            rows[method][name] = {**{k: row[k] for k in KEYS}, "share_ratio": _ratio(row), **info}
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
        summary[method] = {
            **{k: row[k] for k in KEYS},
            "share_ratio": _ratio(row),
            "cities_within_2x": sum(
                0.5 <= rows[method][n]["share_ratio"] <= 2.0 for n in rows[method]
            ),
        }
    report = {
        "what": "OSCD cities in the shared data, each held out (ms-unet: three folds of three "
        "cities, trained on the other six; learned-ms trained on the other eight; cva and "
        "irmad untrained), detect_changes defaults unless options are named, F1 pooled over "
        "held-out pixels; share_ratio = predicted changed share / true share",
        "bands": list(bands),
        "config": {k: v for k, v in cfg.__dict__.items()},
        "ms_unet_folds": [list(f) for f in FOLDS],
        "ms_unet_config": change_ms_unet.UnetTrainConfig().__dict__,
        "ms_unet_direct": unet,
        "cities": rows,
        "pooled": summary,
        "per_pixel_loco": {
            k: {m: v[m] for m in ("f1", "threshold", "max_probability")}
            for k, v in loco["cities"].items()
        },
    }
    if args.out.exists():  # methods run separately are merged into one file
        old = json.loads(args.out.read_text())
        for key in ("cities", "pooled", "ms_unet_direct"):
            report[key] = {**old.get(key, {}), **report[key]}
        report = {**old, **report}  # keys of earlier runs (older networks' settings) stay
        if not loco["cities"]:
            report["per_pixel_loco"] = old.get("per_pixel_loco", {})
        _complete(report)
    _print(report["cities"], report["pooled"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    return report


def _complete(report: dict) -> None:
    """Share ratios and the count of cities within 2x for rows merged from an older file."""
    for method, cities in report["cities"].items():
        for row in cities.values():
            row.setdefault("share_ratio", _ratio(row))
        report["pooled"][method]["share_ratio"] = _ratio(report["pooled"][method])
        report["pooled"][method]["cities_within_2x"] = sum(
            0.5 <= row["share_ratio"] <= 2.0 for row in cities.values()
        )


def _parse(method: str) -> tuple[str, dict]:
    """``"cva:tolerance=0"`` -> ``("cva", {"tolerance": "0"})``."""
    base, _, rest = method.partition(":")
    return base, dict(kv.split("=", 1) for kv in rest.split(",") if kv)


def _ratio(row: dict) -> float:
    return row["changed_share"] / row["truth_share"] if row["truth_share"] else float("nan")


def _fold_scores(work: Path, name: str) -> dict:
    """The fold's own scores of the held-out city (whole city in torch, no gate)."""
    path = change_ms_unet.fold_path(work, name).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else {}


def _fold(work: Path, name: str) -> Path:
    return work / f"learned-ms-without-{name}.npz"


def _print(rows: dict, summary: dict) -> None:
    methods = list(rows)
    print(
        "| city | " + " | ".join(f"{m} F1 (P/R) share ratio" for m in methods) + " | truth share |"
    )
    print("|---" * (len(methods) + 2) + "|")
    for name in next(iter(rows.values())):
        cells = [
            f"{rows[m][name]['f1']:.3f} ({rows[m][name]['precision']:.2f}/"
            f"{rows[m][name]['recall']:.2f}) x{rows[m][name]['share_ratio']:.2f}"
            for m in methods
        ]
        truth = next(iter(rows.values()))[name]["truth_share"]
        print(f"| {name} | " + " | ".join(cells) + f" | {truth:.4f} |")
    cells = [
        f"**{summary[m]['f1']:.3f}** ({summary[m]['precision']:.2f}/{summary[m]['recall']:.2f}) "
        f"x{summary[m]['share_ratio']:.2f}, {summary[m]['cities_within_2x']}/9 within 2x"
        for m in methods
    ]
    print("| pooled | " + " | ".join(cells) + f" | {summary[methods[0]]['truth_share']:.4f} |")


if __name__ == "__main__":
    main()
