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
``cross-site``
    the same crops, the learned method with a model trained on the *other* site only
    (``--site-models Szada=ENTRY Tiszadob=ENTRY``, each made by ``terrasight train
    change --sites SITE``): Tiszadob -> Szada is the validation split, Szada ->
    Tiszadob the test split. Left out without ``--site-models``.
``simulated``
    the simulated out-of-domain pairs of ``change_accuracy.py`` (Sentinel-2, Landsat-8
    and NEON aerial cuts with planted buildings, cleared land, water and roads, per-date
    light, season, haze, blur and misregistration; seed 0): ``val`` is the validation
    split, ``test`` the held-out one.
``dubai``
    pairs made from the Dubai land-cover tiles (``terrasight.training.semantic_pairs``:
    buildings covered with nearby unpaved ground in one date, per-date jitter of light
    and colour). **Tile 1 is the validation split**, tile 4 the test split. Every
    true change there is a new or removed building: recall here is recall on real
    building changes.
``oscd``
    the 9 OSCD cities of the shared data, 4 bands at 10 m (blue, green, red,
    near-infrared): urban change. Not used to choose anything. ``oscd-rgb``: the same
    cities as red, green and blue only, where the coarse-cover rules decide water and
    vegetation (``tasks/landcover/coarse.py``).
``speed``
    ``classify_changes`` with the check off and ``drop`` on the busy 2048 px pair of
    ``semantic_speed.py`` (``cva``), alternating, with the seconds of the check's own
    parts under cProfile.
``levir-cc``
    the 3 LEVIR-CC example pairs (no change masks exist: their captions say houses and
    roads were built): only the changed share and what the check removed.

Usage::

    nice -n 10 .venv/bin/python benchmarks/change_landcover_check.py \
        --site-models Szada=runs/site-Szada/siamese-effnet-lite0.json \
                      Tiszadob=runs/site-Tiszadob/siamese-effnet-lite0.json

(the site models: ``terrasight train change --data ../shared/data/change/airchange
--sites SITE --aid ../shared/data/aid`` with the configuration recorded in
``results/change_accuracy.json``; without ``--site-models`` the cross-site section is
left out.)

Writes ``benchmarks/results/change_landcover_check.json`` with the command, date and
machine; ``--sections`` runs some sections only and replaces just those in the file
(``commands`` names the command of each section).
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
SECTIONS = (
    "airchange", "cross-site", "simulated", "dubai", "oscd", "oscd-rgb", "levir-cc", "speed",
)  # fmt: skip
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


def run_pair(
    before: Path,
    after: Path,
    truth: Truth,
    work: Path,
    network: Any,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Detect once (the default method, with ``options`` for it), then every variant of the
    check on a copy; a row per variant."""
    base = work / "base"
    t0 = time.perf_counter()
    extra = {"method_options": options} if options else {}
    result = detect_changes(before, after, outdir=base, overwrite=True, **extra)
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


def section_airchange(
    data: Path, tmp: Path, network: Any, site_models: dict[str, Path] | None = None
) -> dict[str, Any]:
    from terrasight.eval.change import prepare_inputs, read_truth
    from terrasight.eval.datasets import list_pairs

    pairs: dict[str, Any] = {}
    if site_models is not None:  # cross-site: a model trained on the other site only
        return _cross_site(data, tmp, network, site_models)
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


def _cross_site(
    data: Path, tmp: Path, network: Any, site_models: dict[str, Path]
) -> dict[str, Any]:
    """Test crops of each site, learned with a model trained on the other site only."""
    from _accuracy import describe_entry, learned_variant

    from terrasight.eval.change import prepare_inputs, read_truth
    from terrasight.eval.datasets import list_pairs

    crops = list_pairs(data / "change" / "airchange", "airchange", crop="test")
    pairs: dict[str, Any] = {}
    splits: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for test_site, split in (("Szada", "validation"), ("Tiszadob", "test")):
        train_site = "Tiszadob" if test_site == "Szada" else "Szada"
        if train_site not in site_models:
            continue
        opts = learned_variant(site_models[train_site], tmp / f"model-{train_site}")
        models[train_site] = describe_entry(site_models[train_site])
        names = []
        for i, pair in enumerate(p for p in crops if p.name.startswith(test_site)):
            work = tmp / f"{test_site}{i}"
            before, after = prepare_inputs(pair, work / "in")
            truth = lambda r, p=pair: read_truth(p, r)  # noqa: E731
            pairs[pair.name] = run_pair(before, after, truth, work / "run", network, opts)
            names.append(pair.name)
            _progress("cross", pair.name, pairs[pair.name])
        splits[f"{split} ({train_site} -> {test_site})"] = pooled(pairs, names)
    return {"splits": splits, "pairs": pairs, "site_models": models}


def section_simulated(data: Path, tmp: Path, network: Any, seed: int = 0) -> dict[str, Any]:
    """The simulated out-of-domain pairs of ``change_accuracy.py`` (val and test splits)."""
    from _accuracy import neon_folder

    from terrasight.eval.change import prepare_inputs, read_truth
    from terrasight.eval.datasets import list_pairs
    from terrasight.eval.simulated import build_simulated

    cache = Path(__file__).resolve().parents[1] / ".cache" / "accuracy"
    folder = cache / f"simulated-seed{seed}"
    build_simulated(folder, neon_folder(cache), seed)
    pairs: dict[str, Any] = {}
    splits: dict[str, list[str]] = {}
    for split, label in (("val", "validation (val)"), ("test", "test (held out)")):
        splits[label] = []
        for i, pair in enumerate(list_pairs(folder, "levir", split=split)):
            work = tmp / f"{split}{i}"
            before, after = prepare_inputs(pair, work / "in")
            truth = lambda r, p=pair: read_truth(p, r)  # noqa: E731
            name = f"{split}/{pair.name}"
            pairs[name] = run_pair(before, after, truth, work / "run", network)
            splits[label].append(name)
            _progress("simulated", name, pairs[name])
    return {"splits": {s: pooled(pairs, n) for s, n in splits.items()}, "pairs": pairs}


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


def section_oscd(
    data: Path, tmp: Path, network: Any, bands: tuple[str, ...] | None = None
) -> dict[str, Any]:
    from terrasight.eval.sensors import OSCD_BANDS, oscd_cities, oscd_pair

    root = data / "change" / "oscd"
    pairs: dict[str, Any] = {}
    for city in oscd_cities(root):
        pair = oscd_pair(root, city, tmp / city / "in", bands or OSCD_BANDS)
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


CHECK_PARTS = ("_same_cover", "finish", "recut_objects", "classify_changed_pixels")
"""Functions whose cumulative seconds the speed section records."""


def section_speed(data: Path, tmp: Path, network: Any, repeat: int = 2) -> dict[str, Any]:
    """``classify_changes`` (every window) with the check off and ``drop``, alternating, on
    the busy 2048 px pair of ``semantic_speed.py`` (``cva``); the check's own parts timed
    by cProfile (cumulative seconds)."""
    import cProfile
    import pstats

    from _common import build_scene

    from terrasight.models.onnx_landcover import load_landcover_network

    before, after = build_scene(tmp / "scene", 2048, "airchange")
    base = tmp / "base"
    result = detect_changes(before, after, "cva", outdir=base, min_pixels=20, overwrite=True)
    net = load_landcover_network(threads=2)  # the real network: no cache
    runs = []
    for rep in range(repeat):
        for mode in ("off", "drop"):
            copy = _copy(result, base, tmp / mode)
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            sem = classify_changes(copy, network=net, landcover_check=mode)
            prof.disable()
            seconds = time.perf_counter() - t0
            stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
            parts = {k[2]: round(v[3], 3) for k, v in stats.items() if k[2] in CHECK_PARTS}
            runs.append(
                {
                    "mode": mode,
                    "repeat": rep,
                    "seconds": round(seconds, 2),
                    "parts": parts,
                    "objects_before": len(result.objects),
                    "objects_after": len(sem.objects),
                    "taken": (sem.params.get("landcover_check") or {}).get("objects", 0),
                    "load": round(os.getloadavg()[0], 2),
                }
            )
            print(json.dumps(runs[-1]), flush=True)
    return {"pair": "AirChange Szada/1 repeated to 2048 px, cva, --min-pixels 20", "runs": runs}


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
        for split, rows in data.get("splits", {}).items():
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
    parser.add_argument(
        "--site-models",
        nargs="*",
        default=[],
        help="SITE=ENTRY.json, models trained on one AirChange site (terrasight train change "
        "--sites SITE) for the cross-site section",
    )
    args = parser.parse_args(argv)
    sites = {k: Path(v) for k, v in (s.split("=", 1) for s in args.site_models)}
    from terrasight.models.onnx_landcover import load_landcover_network

    network = CachedNetwork(load_landcover_network(threads=2), CACHE)
    runs = {
        "airchange": section_airchange,
        "cross-site": lambda d, t, n: section_airchange(d, t, n, sites),
        "dubai": section_dubai,
        "simulated": section_simulated,
        "oscd": section_oscd,
        "oscd-rgb": lambda d, t, n: section_oscd(d, t, n, ("B04", "B03", "B02")),
        "levir-cc": section_levir_cc,
        "speed": section_speed,
    }
    results: dict[str, Any] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="terrasight-lccheck-") as tmp:
        for name in args.sections:
            if name == "cross-site" and not sites:
                print("cross-site: no --site-models given, section left out")
                continue
            results[name] = runs[name](args.data, Path(tmp) / name, network)
    print(table(results))
    command = "python benchmarks/change_landcover_check.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    before = json.loads(args.out.read_text()) if args.out.is_file() else {}
    commands = {**before.get("commands", {}), **{name: command for name in results}}
    results = {**before.get("results", {}), **results}  # sections run now replace their own
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "commands": commands,
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
