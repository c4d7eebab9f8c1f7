"""How right the land-cover classes of change facts are: zero-shot over the facts' vocabulary.

Two measurements, neither of them on images the image-text model trained on:

1. **AID validation scenes.** The AID images of ``terrasight-vl``'s validation split
   (a seeded hash of the file name; the model's training never saw them, its best
   epoch was chosen on them) whose class maps onto a land-cover class of
   :data:`terrasight.tasks.interpret.vocabulary.LAND_COVER` (e.g. DenseResidential ->
   built-up, Desert -> bare land, Viaduct -> road), classified with the facts'
   prompts. Accuracy of all answers and of those above each confidence threshold
   (the share kept), per-class recall. The facts' ``min_confidence`` was chosen here.
2. **Demo pair objects (smoke test).** The change objects that ``terrasight demo``
   finds in its Sentinel-2 pair, matched to the planted changes of known kind
   (flood -> water, cleared vegetation -> bare land, built-up -> built-up), and the
   after class the facts give them. Six objects at 10 m, far from the AID photos'
   0.5-8 m: a sanity check, not a score.

Usage::

    .venv/bin/python benchmarks/land_cover_accuracy.py [--data ../shared/data]

Writes ``benchmarks/results/land_cover_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
AID_TO_LAND_COVER = {
    "built-up": (
        "DenseResidential",
        "MediumResidential",
        "SparseResidential",
        "Commercial",
        "Industrial",
    ),
    "road": ("Viaduct",),
    "bare land": ("BareLand", "Desert"),
    "vegetation": ("Forest", "Meadow"),
    "water": ("River", "Pond"),
    "farmland": ("Farmland",),
}
"""AID classes that are one land-cover class as a whole (mixed ones such as Park are left out)."""
DEMO_KINDS = {"flood": "water", "cleared_vegetation": "bare land", "built_up": "built-up"}
THRESHOLDS = (0.0, 0.35, 0.5, 0.6, 0.7)


def aid_scenes(data: Path) -> dict[str, Any]:
    """Zero-shot land cover of the AID validation images, by threshold and by class."""
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.embed import embed_images, load_model
    from terrasight.tasks.interpret.facts import (
        FactsOptions,
        class_embeddings,
        class_probabilities,
    )
    from terrasight.training.vl_data import is_validation

    items = [
        (str(path), cls)
        for cls, folders in AID_TO_LAND_COVER.items()
        for folder in folders
        for path in sorted((data / "aid" / folder).glob("*.jpg"))
        if is_validation(path.name, 0.1)
    ]
    cache = ModelCache()
    model = load_model("terrasight-vl", cache=cache)
    opts = FactsOptions()
    names = list(opts.classes)
    classes = class_embeddings(opts, model, cache)
    probs = class_probabilities(embed_images([p for p, _ in items], model), classes, model)
    pred, conf = probs.argmax(axis=1), probs.max(axis=1)
    truth = np.array([names.index(c) for _, c in items])
    by_threshold = []
    for t in THRESHOLDS:
        kept = conf >= t
        by_threshold.append(
            {
                "min_confidence": t,
                "kept": round(float(kept.mean()), 3),
                "accuracy": round(float((pred[kept] == truth[kept]).mean()), 3),
            }
        )
    recall = {n: round(float((pred[truth == i] == i).mean()), 3) for i, n in enumerate(names)}
    counts = {n: int((truth == i).sum()) for i, n in enumerate(names)}
    return {"images": len(items), "by_threshold": by_threshold, "recall": recall, "counts": counts}


def demo_objects() -> list[dict[str, Any]]:
    """After class of each demo object that overlaps a planted change, against its kind."""
    from terrasight.samples.demo import DEMO_SIZE, make_demo_pair
    from terrasight.tasks.change.pipeline.detect import detect_changes
    from terrasight.tasks.interpret.facts import change_facts

    with tempfile.TemporaryDirectory() as tmp:
        pair = make_demo_pair(Path(tmp) / "inputs", size=DEMO_SIZE)
        planted = json.loads((Path(tmp) / "inputs" / "demo_changes.json").read_text())["changes"]
        result = detect_changes(pair.before, pair.after, outdir=Path(tmp) / "out")
        facts = change_facts(result)
        rows = []
        for f in facts.objects:
            for change in planted:
                if _overlap(f.pixel_bbox, change["pixel_bbox"]):
                    rows.append(
                        {
                            "object": f.id,
                            "kind": change["kind"],
                            "expected_after": DEMO_KINDS[change["kind"]],
                            "before": f.before_class,
                            "after": f.after_class,
                            "after_confidence": f.after_confidence,
                        }
                    )
                    break
        return rows


def _overlap(a: list[int] | tuple[int, ...], b: list[int] | tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "land_cover_accuracy.json",
    )
    args = parser.parse_args()
    if not (args.data / "aid").is_dir():
        raise SystemExit(f"AID not found in {args.data}; pass --data or set TERRASIGHT_SHARED_DATA")
    scenes = aid_scenes(args.data)
    print(f"AID validation scenes mapped to land cover: {scenes['images']} images")
    print(f"{'min_confidence':>15} {'kept':>6} {'accuracy':>9}")
    for row in scenes["by_threshold"]:
        print(f"{row['min_confidence']:>15.2f} {row['kept']:>6.3f} {row['accuracy']:>9.3f}")
    print("recall by class: " + ", ".join(f"{k} {v:.2f}" for k, v in scenes["recall"].items()))
    demo = demo_objects()
    right = sum(r["after"] == r["expected_after"] for r in demo)
    print(f"\ndemo pair (smoke test): {right} of {len(demo)} objects get the planted after class")
    for r in demo:
        print(
            f"  #{r['object']} {r['kind']:<19} {r['before']} -> {r['after']} "
            f"(expected {r['expected_after']})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "land_cover_accuracy",
        "model": "terrasight-vl",
        "aid_validation": scenes,
        "demo_objects": demo,
        "machine": platform.platform(),
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
