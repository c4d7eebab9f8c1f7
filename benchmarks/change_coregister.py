"""cva with and without its global co-registration, on real pairs as shipped and moved apart.

Each OSCD city (the four 10 m bands) is scored
twice: as shipped, and with the after date moved by (1, 1) px (both dates
cropped by 2 px so no wrapped edge is scored; the truth follows the before
date). ``cva`` is run at tolerance 0 (``auto``'s Sentinel-2 row) and at its
default tolerance 1, each with ``coregister`` on (the default) and off. The
rows as shipped are the same pairs the other benchmarks score: the
co-registration was not tuned on them (its shift search and margin are those
``irmad`` has used since before these data shipped).

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_coregister.py

Writes ``benchmarks/results/change_coregister.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _oscd_stack import stack_city  # noqa: E402

from terrasight.eval.metrics import ConfusionMatrix, scores  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).parent / "results"
BANDS = ("B02", "B03", "B04", "B08")
SHIFT = (1, 1)
CROP = 2
VARIANTS = {
    "cva tol 0": {"tolerance": 0},
    "cva tol 0, coregister off": {"tolerance": 0, "coregister": False},
    "cva tol 1": {"tolerance": 1},
    "cva tol 1, coregister off": {"tolerance": 1, "coregister": False},
}


def _write(path: Path, data: np.ndarray, like: Path) -> Path:
    with rasterio.open(like) as src:
        profile = src.profile.copy()
        names = src.descriptions
        transform = src.transform * src.transform.translation(CROP, CROP)
    profile.update(width=data.shape[2], height=data.shape[1], transform=transform)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = names
    return path


def moved_pair(
    before: Path, after: Path, truth: np.ndarray, out: Path
) -> tuple[Path, Path, np.ndarray]:
    """Both dates cropped by :data:`CROP` px, the after date's content moved by :data:`SHIFT`."""
    with rasterio.open(before) as b, rasterio.open(after) as a:
        bd, ad = b.read(), a.read()
    dy, dx = SHIFT
    h, w = bd.shape[1:]
    inner = (slice(CROP, h - CROP), slice(CROP, w - CROP))
    moved = (slice(CROP - dy, h - CROP - dy), slice(CROP - dx, w - CROP - dx))
    out.mkdir(parents=True, exist_ok=True)
    pb = _write(out / f"{before.stem}_in.tif", bd[:, inner[0], inner[1]], before)
    pa = _write(out / f"{after.stem}_moved.tif", ad[:, moved[0], moved[1]], after)
    return pb, pa, truth[inner]


def _score(
    before: Path, after: Path, truth: np.ndarray, options: dict[str, Any], out: Path
) -> dict[str, Any]:
    """Every pixel scored (no answer counts as no change), as the OSCD rows elsewhere."""
    res = detect_changes(before, after, "cva", outdir=out, overwrite=True, method_options=options)
    cm = ConfusionMatrix.from_arrays(res.mask() == 1, truth)
    return {**scores(cm), "tp": cm.tp, "fp": cm.fp, "fn": cm.fn, "shift": res.params.get("shift")}


def _pool(rows: list[dict[str, Any]]) -> dict[str, float]:
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}


def pairs(data: Path, work: Path) -> dict[str, tuple[Path, Path, np.ndarray]]:
    """OSCD cities (4 bands) as shipped."""
    out = {}
    for folder in sorted((data / "change" / "oscd").iterdir()):
        if (folder / "cm").is_dir():
            out[f"oscd/{folder.name}"] = stack_city(folder, BANDS, work / "oscd")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RESULTS / "change_coregister.json")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (b, a, truth) in pairs(args.data, work).items():
            mb, ma, mt = moved_pair(b, a, truth, work / "moved")
            for variant, options in VARIANTS.items():
                for case, (pb, pa, t) in (
                    ("as shipped", (b, a, truth)),
                    ("moved 1,1 px", (mb, ma, mt)),
                ):
                    row = _score(pb, pa, t, options, work / "out")
                    rows.setdefault(variant, {}).setdefault(case, {}).setdefault(
                        "pairs", []
                    ).append({"pair": name, **row})
                    print(
                        f"{variant:<28} {case:<13} {name:<18} F1 {row['f1']:.3f} shift {row['shift']}"
                    )
    pooled = {v: {c: _pool(r["pairs"]) for c, r in cases.items()} for v, cases in rows.items()}
    print(f"\n{'OSCD 9 cities, 4 bands, pooled':<30} {'as shipped':>11} {'moved 1,1 px':>13}")
    for v, cases in pooled.items():
        print(f"{v:<30} {cases['as shipped']['f1']:>11.3f} {cases['moved 1,1 px']['f1']:>13.3f}")
    report = {
        "what": __doc__.splitlines()[0],
        "data": "OSCD 9 shipped cities, bands B02 B03 B04 B08, every pixel scored (no answer = no change)",
        "shift": list(SHIFT),
        "crop": CROP,
        "command": "nice -n 10 .venv/bin/python benchmarks/change_coregister.py",
        "date": datetime.date.today().isoformat(),
        "pooled_f1": pooled,
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")
    return report


if __name__ == "__main__":
    main()
