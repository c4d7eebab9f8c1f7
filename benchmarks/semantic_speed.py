"""What the land-cover classes add to ``terrasight change`` on a busy scene, and what the
default budget keeps of them.

Usage::

    nice -n 10 .venv/bin/python benchmarks/semantic_speed.py --sizes 2048 [8192] [--repeat 2]
        [--variants no-classes default forced] [--label after]
        [--pythonpath OTHER/src] [--out benchmarks/results/semantic_speed.json]

For each size it builds (or reuses, in ``--workdir``) the realistic busy pair of
``change_speed.py --source airchange`` (the real AirChange Szada/1 pair repeated: 42,842
change objects at 8192 px with ``cva``), then runs whole ``terrasight change BEFORE AFTER
-o OUT -q --method cva --no-facts --no-report`` processes, alternating the variants,
``--repeat`` times:

``no-classes``  ``--no-classes``: the change job alone;
``default``     no class option: the classes within the default budget;
``forced``      ``--classes``: every window and object classified, whatever it costs.
``forced-check-drop``, ``default-check-drop``: the same with ``--landcover-check drop``
                (changes of one land cover on both dates removed; not run by default).

Each run is timed from outside (imports included). The table gives the best and median
seconds, the classes' share of windows and objects, and the ratio to ``no-classes``.
``--pythonpath`` runs another source tree (e.g. an export of an earlier commit) to measure
a before; ``--label`` names the runs in the JSON, which is merged into ``--out``.
``--profile SIZE`` instead profiles ``classify_changes`` in this process (cProfile,
cumulative seconds of its parts) and stores that under ``profiles`` (key ``SIZE LABEL``,
or ``SIZE`` with the default label).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import build_scene  # noqa: E402
from _like_runs import measure_process  # noqa: E402

VARIANTS = {
    "no-classes": ["--no-classes"],
    "default": [],
    "forced": ["--classes"],
    "forced-check-drop": ["--classes", "--landcover-check", "drop"],
    "default-check-drop": ["--landcover-check", "drop"],
}
BASE = ["--method", "cva", "--no-facts", "--no-report", "-q", "--min-pixels", "20"]


def run_once(variant: str, before: Path, after: Path, out: Path) -> dict:
    """One ``terrasight change`` process of ``variant``; seconds and what the classes covered."""
    shutil.rmtree(out, ignore_errors=True)
    exe = str(Path(sys.executable).with_name("terrasight"))
    cmd = [exe, "change", str(before), str(after), "-o", str(out), *BASE, *VARIANTS[variant]]
    report = measure_process(cmd)
    report.pop("stdout", None)
    table = out / "change_classes.json"
    if table.is_file():
        data = json.loads(table.read_text())
        for key in ("windows_classified", "windows_total", "objects_classified", "objects_total"):
            if key in data:
                report[key] = data[key]
        report["classes_seconds"] = data.get("seconds")
    store = out / "change_objects.jsonl"
    if store.is_file():
        with open(store, "rb") as fh:
            report["objects"] = sum(1 for _ in fh)
    report["load"] = os.getloadavg()[0]
    return report


def summarise(runs: list[dict]) -> list[dict]:
    """Best and median seconds per (label, size, variant), and the ratio to no-classes."""
    rows = []
    keys = sorted({(r["label"], r["size"], r["variant"]) for r in runs})
    for label, size, variant in keys:
        mine = [r for r in runs if (r["label"], r["size"], r["variant"]) == (label, size, variant)]
        ok = [r["seconds"] for r in mine if r["returncode"] == 0]
        if not ok:
            continue
        last = mine[-1]
        rows.append(
            {
                "label": label,
                "size": size,
                "variant": variant,
                "runs": len(ok),
                "best_s": round(min(ok), 2),
                "median_s": round(statistics.median(ok), 2),
                "peak_rss_mib": round(max(r["peak_rss_mib"] for r in mine), 1),
                "objects": last.get("objects"),
                "windows": f"{last.get('windows_classified', '-')}/{last.get('windows_total', '-')}",
                "objects_classified": last.get("objects_classified"),
            }
        )
    for row in rows:
        base = [
            r
            for r in rows
            if (r["label"], r["size"], r["variant"]) == (row["label"], row["size"], "no-classes")
        ]
        row["ratio_to_no_classes"] = round(row["best_s"] / base[0]["best_s"], 2) if base else None
    return rows


def format_table(rows: list[dict]) -> str:
    head = f"{'label':8s} {'size':>5s} {'variant':11s} {'best s':>7s} {'median':>7s} "
    head += f"{'x plain':>7s} {'windows':>9s} {'objects':>15s}"
    lines = [head]
    for r in rows:
        objects = f"{r['objects_classified'] or '-'}/{r['objects'] or '-'}"
        lines.append(
            f"{r['label']:8s} {r['size']:5d} {r['variant']:11s} {r['best_s']:7.1f} "
            f"{r['median_s']:7.1f} {r['ratio_to_no_classes'] or 0:7.2f} {r['windows']:>9s} "
            f"{objects:>15s}"
        )
    return "\n".join(lines)


PROFILED = {
    "classify_changes": "run.py:classify_changes",
    "pixels (network, reads, writes)": "pixels.py:classify_changed_pixels",
    "network (onnxruntime)": "onnx_landcover.py:probabilities",
    "recut objects": "objects.py:recut_objects",
    "recut: classes decided and split": "pieces.py:split",
    "recut: pieces traced (shapes, per group)": "pieces.py:trace_group",
    "recut: pieces measured (records)": "pieces.py:piece_records",
    "recut: polygons burnt (rasterize, per group)": "groups.py:burn_group",
    "recut one by one: split_pieces": "split.py:split_pieces",
    "recut one by one: pieces traced (shapes, records)": "objects.py:_pieces",
    "recut one by one: polygon burnt (rasterize)": "objects.py:_burn",
}
"""Parts of ``classify_changes`` profiled (file:function); the last three are the parts of
the object-by-object recut (0 on the code that cuts a group at a time). Run an earlier
tree with ``PYTHONPATH=OTHER/src`` to profile it."""


def profile(size: int, work: Path) -> dict:
    """Where ``classify_changes`` spends its time (cProfile, cumulative seconds) on the pair."""
    import cProfile
    import pstats

    import terrasight
    from terrasight.tasks.semantic import classify_changes

    before, after = build_scene(work / f"airchange-{size}", size, "airchange")
    out = work / f"profile-{size}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = terrasight.detect_changes(before, after, method="cva", outdir=out)
    detect_s = time.perf_counter() - t0
    prof = cProfile.Profile()
    prof.enable()
    classified = classify_changes(result)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    found = {}
    for label, key in PROFILED.items():
        file, name = key.split(":")
        hits = [v for (f, _, n), v in stats.items() if f.endswith(file) and n == name]
        found[label] = round(sum(h[3] for h in hits), 2)
    return {
        "size": size,
        "objects": len(result.objects),
        "pieces": len(classified.objects),
        "detect_s": round(detect_s, 2),
        "cumulative_s": found,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2048])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS)[:3], choices=list(VARIANTS))
    p.add_argument("--label", default="after")
    p.add_argument("--pythonpath", default=None, help="run another source tree (a before)")
    p.add_argument("--workdir", default="/tmp/terrasight-semantic-speed")
    p.add_argument("--out", default=str(HERE / "results" / "semantic_speed.json"))
    p.add_argument("--note", default="")
    p.add_argument("--profile", type=int, default=None, help="profile classify_changes at SIZE")
    args = p.parse_args(argv)
    if args.pythonpath:
        os.environ["PYTHONPATH"] = args.pythonpath
    work = Path(args.workdir)
    if args.profile:
        found = profile(args.profile, work)
        print(json.dumps(found, indent=1))
        out = Path(args.out)
        data = json.loads(out.read_text()) if out.is_file() else {}
        key = f"{args.profile} {args.label}" if args.label != "after" else str(args.profile)
        data.setdefault("profiles", {})[key] = found
        out.write_text(json.dumps(data, indent=1))
        return 0
    runs = []
    for size in args.sizes:
        before, after = build_scene(work / f"airchange-{size}", size, "airchange")
        for repeat in range(args.repeat):
            for variant in args.variants:
                r = run_once(variant, before, after, work / f"out-{size}-{variant}")
                r.update(label=args.label, size=size, variant=variant, repeat=repeat)
                print(json.dumps({k: r[k] for k in ("label", "size", "variant", "seconds")}))
                runs.append(r)
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    measured = {(args.label, s, v) for s in args.sizes for v in args.variants}
    kept = [r for r in old.get("runs", []) if (r["label"], r["size"], r["variant"]) not in measured]
    all_runs = kept + runs
    data = {
        "command": "nice -n 10 .venv/bin/python benchmarks/semantic_speed.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "pair": "AirChange Szada/1 repeated (benchmarks/_common.py build_scene, airchange), "
        "cva, --min-pixels 20, --no-facts --no-report",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other work",
        "date": time.strftime("%Y-%m-%d"),
        "notes": {**old.get("notes", {}), **({args.label: args.note} if args.note else {})},
        "profiles": old.get("profiles", {}),
        "runs": all_runs,
        "summary": summarise(all_runs),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    print(format_table(data["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
