"""Fold networks of an ``ms-unet`` attempt scored again with another noise gate.

The threshold of each fold is chosen again, with the new gate, on the rows of
its training cities kept out of the crops (as in training); the held-out cities
are then scored (ONNX Runtime, whole cities, no cloud mask).

Usage::

    nice -n 10 .venv/bin/python benchmarks/_ms_unet_rescore.py --work runs/wide3 --gate 0.001 \\
        --name wide-3level-gate0.001 --from wide-3level
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA  # noqa: E402
from change_ms_unet_attempts import RESULTS, config  # noqa: E402

from terrasight.tasks.change.methods.ms_unet_net import UnetRunner, unet_inputs  # noqa: E402
from terrasight.training.change_ms import scores  # noqa: E402
from terrasight.training.change_ms_unet import CITY_FOLDS, _load, fold_path  # noqa: E402
from terrasight.training.change_ms_unet_eval import gated, gated_threshold  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--gate", type=float, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--from", dest="source", required=True, help="the attempt trained")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--write",
        type=Path,
        default=None,
        help="Folder for the fold networks with the new threshold and gate",
    )
    args = parser.parse_args(argv)
    report = json.loads(args.out.read_text())
    source = report["attempts"][args.source]
    cfg = replace(config([]), **{k: v for k, v in source["config"].items() if k != "widths"})
    cities = {c.name: c for c in _load(args.data, None)}
    parts: dict = {"6": [], "4": []}
    rows: dict = {}
    for group in CITY_FOLDS:
        runner = UnetRunner(fold_path(args.work, group[0]))
        probs, truths, masks = [], [], []
        for name, c in cities.items():
            if name in group:
                continue
            keep = np.arange(c.truth.shape[0])[:, None] >= round(
                c.truth.shape[0] * (1 - cfg.val_share)
            )
            for n in (6, 4):
                p = runner.probability(unet_inputs(c.before[:n], c.after[:n]))
                probs.append(gated(p, c.before[:n], c.after[:n], args.gate))
                truths.append(c.truth)
                masks.append(np.broadcast_to(keep, c.truth.shape))
        threshold = gated_threshold(probs, truths, masks)
        for name in group:
            c = cities[name]
            if args.write is not None:
                _rewrite(
                    fold_path(args.work, name), fold_path(args.write, name), threshold, args.gate
                )
            rows[name] = {"threshold": threshold}
            for n in (6, 4):
                p = runner.probability(unet_inputs(c.before[:n], c.after[:n]))
                pred = gated(p, c.before[:n], c.after[:n], args.gate) >= threshold
                row = scores(pred, c.truth)
                rows[name][f"{n}_bands"] = {
                    "f1": row["f1"],
                    "share_ratio": round(row["changed_share"] / row["truth_share"], 3),
                }
                parts[str(n)].append((pred.ravel(), c.truth.ravel()))
        print(group, threshold, flush=True)
    out = {
        "rescored_from": args.source,
        "gate": args.gate,
        "config": source["config"],
        "cities": rows,
    }
    for n, v in parts.items():
        row = scores(np.concatenate([p for p, _ in v]), np.concatenate([t for _, t in v]))
        within = sum(0.5 <= r[f"{n}_bands"]["share_ratio"] <= 2 for r in rows.values())
        out[f"{n}_bands"] = {
            "f1": row["f1"],
            "precision": row["precision"],
            "recall": row["recall"],
            "share_ratio": row["changed_share"] / row["truth_share"],
            "cities_within_2x": within,
        }
        print(
            f"{args.name} {n} bands: F1 {row['f1']:.3f} ({row['precision']:.2f}/{row['recall']:.2f}) "
            f"x{out[f'{n}_bands']['share_ratio']:.2f}, {within}/9 within 2x"
        )
    report = json.loads(args.out.read_text())
    report["attempts"][args.name] = out
    args.out.write_text(json.dumps(report, indent=2, default=str))
    return out


def _rewrite(src: Path, dst: Path, threshold: float, gate: float) -> None:
    """``src`` with its threshold and gate metadata replaced, written to ``dst``."""
    import onnx

    model = onnx.load(str(src))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(threshold=f"{threshold:.2f}", gate=json.dumps(gate))
    del model.metadata_props[:]
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))


if __name__ == "__main__":
    main()
