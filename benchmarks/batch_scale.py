"""A batch of 20 real pairs on one process and on a 2-worker Dask LocalCluster, side by side.

The pairs are the 13 SZTAKI AirChange pairs (``../shared/data/change/airchange``, the
Szada and Tiszadob sites, 952 x 640 px at about 1.5 m) cut into left and right halves:
26 pairs, the first 20 of them, written as GeoTIFFs (EPSG:32634, 1.5 m). Each mode runs
``terrasight.tasks.batch.run_batch`` with the given method (``learned`` by default, with
facts and report) in a fresh subprocess, the two modes alternating, ``--repeat`` times
each. The outputs of the two modes are compared pair by pair (mask pixels, object count).

Peak memory: for one process its VmHWM; for the cluster each worker's VmHWM, read from
the workers before the cluster closes.

Usage::

    .venv/bin/python benchmarks/batch_scale.py --repeat 2 --save

Writes ``benchmarks/results/batch_scale.json`` with ``--save``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, peak_rss_mib  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def make_pairs(folder: Path, count: int) -> Path:
    """Write ``count`` half-pairs of AirChange as GeoTIFFs and the CSV table naming them."""
    root = SHARED_DATA / "change" / "airchange"
    if not root.is_dir():
        sys.exit(f"AirChange not found at {root} (set TERRASIGHT_SHARED_DATA)")
    lines = ["before,after,name"]
    for pair in sorted(p for p in root.glob("*/*") if (p / "im1.png").is_file()):
        for side in ("left", "right"):
            if len(lines) > count:
                break
            name = f"{pair.parent.name}-{pair.name}-{side}"
            for date in ("im1", "im2"):
                rgb = np.asarray(Image.open(pair / f"{date}.png").convert("RGB"))
                half = rgb.shape[1] // 2
                part = rgb[:, :half] if side == "left" else rgb[:, half:]
                with rasterio.open(
                    folder / f"{name}_{date}.tif",
                    "w",
                    driver="GTiff",
                    width=part.shape[1],
                    height=part.shape[0],
                    count=3,
                    dtype="uint8",
                    crs="EPSG:32634",
                    transform=from_origin(400000.0, 5200000.0, 1.5, 1.5),
                ) as ds:
                    ds.write(part.transpose(2, 0, 1))
            lines.append(f"{name}_im1.tif,{name}_im2.tif,{name}")
    table = folder / "pairs.csv"
    table.write_text("\n".join(lines) + "\n")
    return table


def run_mode(table: Path, out: Path, mode: str, method: str) -> dict:
    """One timed batch in this process (called in a subprocess by :func:`main`)."""
    from terrasight.tasks.batch import read_pairs, run_batch

    pairs = read_pairs(table)
    change = {"method": method}
    start = time.perf_counter()
    if mode == "local":
        batch = run_batch(pairs, out, change)
        peaks = [peak_rss_mib()]
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            batch = run_batch(pairs, out, change, scheduler=cluster.scheduler_address)
            peaks = list(client.run(peak_rss_mib).values())
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "seconds": round(seconds, 2),
        "pairs": len(batch.pairs),
        "failed": len(batch.failed),
        "objects": [p.objects for p in batch.pairs],
        "peak_mib_per_process": [round(p) for p in peaks],
    }


def masks_equal(a: Path, b: Path, names: list[str]) -> bool:
    for name in names:
        with (
            rasterio.open(a / name / "change_mask.tif") as x,
            rasterio.open(b / name / "change_mask.tif") as y,
        ):
            if not np.array_equal(x.read(), y.read()):
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--method", default="learned")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--_child", nargs=3, metavar=("TABLE", "OUT", "MODE"), help="internal")
    args = parser.parse_args()
    if args._child:
        table, out, mode = args._child
        print(json.dumps(run_mode(Path(table), Path(out), mode, args.method)))
        return
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        table = make_pairs(work, args.pairs)
        for r in range(args.repeat):
            for mode in ("local", "dask"):
                out = work / f"{mode}-{r}"
                child = [sys.executable, __file__, "--method", args.method, "--_child"]
                done = subprocess.run(
                    [*child, str(table), str(out), mode], capture_output=True, text=True, check=True
                )
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(
                    f"{mode:6s} run {r + 1}: {runs[-1]['seconds']:7.1f} s, peak MiB "
                    f"{runs[-1]['peak_mib_per_process']}",
                    flush=True,
                )
        names = [line.split(",")[2] for line in table.read_text().splitlines()[1:]]
        same = masks_equal(work / "local-0", work / "dask-0", names)
    best = {m: min(r["seconds"] for r in runs if r["mode"] == m) for m in ("local", "dask")}
    print(f"\n{'mode':8s} {'best s':>8s} {'pairs/min':>10s} {'peak MiB per process':>22s}")
    for mode in ("local", "dask"):
        peak = max(max(r["peak_mib_per_process"]) for r in runs if r["mode"] == mode)
        print(f"{mode:8s} {best[mode]:8.1f} {60 * args.pairs / best[mode]:10.1f} {peak:22d}")
    print(f"speed-up {best['local'] / best['dask']:.2f}x; identical masks: {same}")
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        record = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.node()} {platform.machine()}",
            "command": " ".join(sys.argv),
            "data": f"{args.pairs} AirChange half-pairs (Szada, Tiszadob), 476x640 px each",
            "method": args.method,
            "runs": runs,
            "best_seconds": best,
            "identical_masks": same,
        }
        (RESULTS / "batch_scale.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
