"""The ``ms-unet`` settings tried, each scored on the three held-out folds of OSCD cities.

Each attempt trains three networks (:data:`~terrasight.training.change_ms_unet.CITY_FOLDS`:
three cities held out together, trained on the other six, threshold chosen on
those six only) and scores the held-out cities with 6 and with 4 bands, gated by
the pair's noise floor as the method answers, directly in PyTorch on the whole
city (no cloud mask; ``benchmarks/change_multispectral.py`` scores the chosen
setting through ``detect_changes``). The pooled F1 of these folds is what the
shipped setting was chosen by: for the chosen one it is a cross-validation
figure, not a held-out one.

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_ms_unet_attempts.py --name wide \\
        --set steps=3000 crop=64 'widths=[16,32,64]' --work runs/wide

Adds the attempt to ``benchmarks/results/change_ms_unet_attempts.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA  # noqa: E402

from terrasight.training.change_ms_unet import (  # noqa: E402
    CITY_FOLDS,
    UnetTrainConfig,
    leave_one_out,
)

RESULTS = Path(__file__).resolve().parent / "results" / "change_ms_unet_attempts.json"


def config(settings: list[str]) -> UnetTrainConfig:
    """``["steps=3000", "widths=[16,32,64]"]`` -> the default config with those values."""
    values = {}
    for item in settings:
        key, _, raw = item.partition("=")
        value = json.loads(raw)
        values[key] = tuple(value) if isinstance(value, list) else value
    return replace(UnetTrainConfig(), **values)


def summary(result: dict) -> dict:
    """Pooled and per-city F1 and share ratios of one attempt."""
    out: dict = {"config": result["config"], "seconds": result["seconds"]}
    for key in ("6", "4"):
        pooled = result["pooled"][key]
        ratios = {
            name: row[key]["changed_share"] / row[key]["truth_share"]
            for name, row in result["cities"].items()
        }
        out[f"{key}_bands"] = {
            "f1": pooled["f1"],
            "precision": pooled["precision"],
            "recall": pooled["recall"],
            "share_ratio": pooled["changed_share"] / pooled["truth_share"],
            "cities_within_2x": sum(0.5 <= r <= 2.0 for r in ratios.values()),
            "f1_with_threshold_on_trained_rows": result["pooled_trained_rows"][key]["f1"],
            "cities": {
                name: {"f1": row[key]["f1"], "share_ratio": round(ratios[name], 3)}
                for name, row in result["cities"].items()
            },
        }
    out["thresholds"] = {
        name: {k: row[k] for k in ("threshold", "held_rows", "trained_rows")}
        for name, row in result["cities"].items()
    }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--name", required=True)
    parser.add_argument("--set", nargs="*", default=[], help="config key=JSON value")
    parser.add_argument("--work", type=Path, required=True, help="Folder for the fold networks.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = config(args.set)
    row = summary(leave_one_out(args.data, cfg, args.work, CITY_FOLDS))
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report.setdefault(
        "what",
        "ms-unet settings tried: three folds of three OSCD cities held out together "
        "(trained on the other six, threshold chosen on those six), held-out pixels "
        "pooled, gated as the method answers, scored in PyTorch on whole cities without "
        "cloud masks. The setting shipped was chosen by these figures: they are "
        "cross-validation figures for it, not held-out ones.",
    )
    report.setdefault("attempts", {})[args.name] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    for key in ("6", "4"):
        r = row[f"{key}_bands"]
        print(
            f"{args.name} {key} bands: F1 {r['f1']:.3f} ({r['precision']:.2f}/{r['recall']:.2f}) "
            f"x{r['share_ratio']:.2f}, {r['cities_within_2x']}/9 within 2x; threshold on "
            f"trained rows: {r['f1_with_threshold_on_trained_rows']:.3f}"
        )
    return report


if __name__ == "__main__":
    main()
