"""How often the changed share of a scene is within a factor 2 of the truth's, per method.

Reads the per-pair confusion counts already committed by ``change_accuracy.py``
(``results/change_accuracy.json``: AirChange, cross-site, the simulated
held-out pairs; ``results/change_accuracy_sensors.json``: OSCD cities, the
Landsat pair, the SAR pairs) and scores each pair's predicted changed share,
``(tp + fp) / n``, against the true share, ``(tp + fn) / n``. A pair is within
2x when ``0.5 <= predicted / true <= 2``; pairs with no true change are counted
apart (within when less than 0.5% of the scene is called changed). No method
is run here: rerun ``change_accuracy.py`` to refresh the counts.

    python benchmarks/change_share.py [--save]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
EMPTY_LIMIT = 0.005


def share_ratio(row: dict[str, Any]) -> float | None:
    """Predicted over true changed share of one pair (None when the truth has no change)."""
    n = row["tp"] + row["fp"] + row["fn"] + row["tn"]
    true, pred = (row["tp"] + row["fn"]) / n, (row["tp"] + row["fp"]) / n
    return None if true == 0 else pred / true


def within(row: dict[str, Any]) -> bool:
    ratio = share_ratio(row)
    if ratio is None:
        n = row["tp"] + row["fp"] + row["fn"] + row["tn"]
        return (row["tp"] + row["fp"]) / n < EMPTY_LIMIT
    return 0.5 <= ratio <= 2.0


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [share_ratio(r) for r in rows]
    return {
        "pairs": len(rows),
        "within_2x": sum(within(r) for r in rows),
        "share_within_2x": sum(within(r) for r in rows) / len(rows) if rows else 0.0,
        "ratios": {
            r["name"]: None if q is None else round(q, 3) for r, q in zip(rows, ratios, strict=True)
        },
    }


def _sections() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Section -> method -> per-pair rows with confusion counts and a name."""
    acc = json.loads((RESULTS / "change_accuracy.json").read_text())
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    out["airchange (test crops)"] = {m: v["pairs"] for m, v in acc["airchange"].items()}
    for split in ("test",):
        out[f"simulated ({split})"] = {m: v["pairs"] for m, v in acc["simulated"][split].items()}
    for direction, methods in acc["cross_site"].items():
        out[f"cross-site {direction}"] = {
            m: v["pairs"] for m, v in methods.items() if isinstance(v, dict) and "pairs" in v
        }
    sensors = json.loads((RESULTS / "change_accuracy_sensors.json").read_text())
    for section in ("landsat", "sar", "oscd"):
        out[section] = {}
        for method, value in sensors[section].items():
            cases = value.get("cities", value) if isinstance(value, dict) else {}
            rows = [{"name": k, **v} for k, v in cases.items() if isinstance(v, dict) and "tp" in v]
            if rows:
                out[section][method] = rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write results/change_share.json")
    args = parser.parse_args()
    table = {s: {m: summarise(r) for m, r in ms.items()} for s, ms in _sections().items()}
    print(f"{'section':38s} {'method':58s} {'within 2x':>10s}")
    for section, methods in table.items():
        for method, s in methods.items():
            print(f"{section:38s} {method[:58]:58s} {s['within_2x']:>4d}/{s['pairs']:<4d}")
    if args.save:
        doc = {
            "command": "python benchmarks/change_share.py --save",
            "source": ["results/change_accuracy.json", "results/change_accuracy_sensors.json"],
            "rule": "0.5 <= predicted share / true share <= 2; no true change: predicted < 0.5%",
            "sections": table,
        }
        (RESULTS / "change_share.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
