"""Change detection accuracy of cva, irmad and learned on the AirChange test crops.

Protocol: the top-left 784 x 448 px of each of the 13 AirChange pairs (the
usual test set; the learned model never trained or validated on it), run
through ``detect_changes`` with its defaults on cropped GeoTIFF copies
(``terrasight.eval.change.evaluate_change``); precision, recall, F1 and IoU
of the confusion matrix pooled over all pixels of all pairs, plus the mean
per-pair F1.

Smoke test: the three LEVIR-CC example pairs (256 x 256, no masks): the
changed fraction each method reports.

Usage::

    .venv/bin/python benchmarks/change_accuracy.py                 # needs ../shared/data
    .venv/bin/python benchmarks/change_accuracy.py --methods cva learned --data DIR

Writes ``benchmarks/results/change_accuracy.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
METHODS = ("cva", "irmad", "learned")
LEVIR_EXAMPLES = ("train_000016", "train_000051", "train_000054")


def airchange_scores(data: Path, method: str) -> dict[str, Any]:
    """Pooled scores, mean per-pair F1 and per-pair rows of one method on the test crops."""
    from terrasight.eval.change import evaluate_change

    start = time.perf_counter()
    report = evaluate_change(data / "change" / "airchange", "airchange", method, crop="test")
    out = report.to_dict()
    out["seconds"] = round(time.perf_counter() - start, 2)
    print(report.table(), file=sys.stderr)
    return out


def levir_smoke(data: Path, method: str) -> dict[str, float]:
    """Changed fraction per LEVIR-CC example pair (no truth: a smoke test)."""
    from terrasight.tasks.change.detect import detect_changes

    folder = data / "levir-cc" / "examples"
    out = {}
    with tempfile.TemporaryDirectory(prefix="terrasight-levir-") as tmp:
        for name in LEVIR_EXAMPLES:
            before, after = folder / "A" / f"{name}.png", folder / "B" / f"{name}.png"
            if not before.is_file():
                continue
            result = detect_changes(before, after, method, outdir=Path(tmp) / name)
            out[name] = round(result.changed_pixels / max(result.valid_pixels, 1), 4)
    return out


def table(results: dict[str, Any]) -> str:
    """Plain-text table of the pooled scores, one row per method."""
    head = (
        f"{'method':<8} {'precision':>9} {'recall':>7} {'f1':>6} {'iou':>6} {'pair F1':>8} {'s':>6}"
    )
    lines = [head, "-" * len(head)]
    for method, r in results.items():
        p = r["pooled"]
        lines.append(
            f"{method:<8} {p['precision']:>9.3f} {p['recall']:>7.3f} {p['f1']:>6.3f} "
            f"{p['iou']:>6.3f} {r['mean_pair_f1']:>8.3f} {r['seconds']:>6.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "change_accuracy.json"
    )
    args = parser.parse_args(argv)
    if not (args.data / "change" / "airchange").is_dir():
        print(f"AirChange not found under {args.data} (set --data or TERRASIGHT_SHARED_DATA)")
        return 1
    results, smoke = {}, {}
    for method in args.methods:
        results[method] = airchange_scores(args.data, method)
        smoke[method] = levir_smoke(args.data, method)
    print("AirChange test crops (top-left 784x448 of 13 pairs), pooled over all pixels")
    print(table(results))
    print("\nLEVIR-CC examples, changed fraction (smoke test, no truth)")
    for method, fractions in smoke.items():
        print(f"{method:<8} " + "  ".join(f"{k}: {v:.3f}" for k, v in fractions.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "protocol": "AirChange test crops: top-left 784x448 of each of the 13 pairs; "
        "detect_changes defaults; scores of the pooled confusion matrix",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "airchange": results,
        "levir_cc_examples_changed_fraction": smoke,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
