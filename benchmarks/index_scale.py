"""The archive index at scale: build throughput, query latency, recall against exact search, size.

1. Throughput: ``terrasight.index.build`` of ``--images`` AID photos (150 px, one
   224-px tile each) in this process (1 worker) and on a Dask LocalCluster of 2
   worker processes, each into a new folder; tiles per second over the whole build
   (model loading and cluster start included).
2. Scale: tables of 10^5 and 10^6 rows with the index's full schema. The vectors
   are the real ``terrasight-vl`` embeddings of the AID photos from step 1, each
   repeated with Gaussian noise (sigma ``--noise`` per dimension, then made unit
   length), so neighbourhoods are as clustered as real archives, not uniform.
   Queries: ``--queries`` other noisy copies of random photos. Exact top-10 from
   numpy (every vector compared); the table then gets the approximate index a
   build would add (``terrasight.index.store.create_vector_index``), and each
   query runs once to warm up and is then timed through
   ``terrasight.index.Index.search(vector=...)``: p50/p99 latency, recall@10 against
   the exact top-10, size on disk after compaction.

Writes ``benchmarks/results/index_scale.json``.

Example:
    nice .venv/bin/python benchmarks/index_scale.py --images 600 --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, peak_rss_mib  # noqa: E402

from terrasight import index  # noqa: E402
from terrasight.index import store  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "index_scale.json"


def aid_photos(n: int, seed: int = 0) -> list[Path]:
    """``n`` AID photos spread evenly over the classes."""
    paths = sorted((SHARED_DATA / "aid").glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"no AID photos in {SHARED_DATA / 'aid'}; set TERRASIGHT_SHARED_DATA")
    pick = np.random.default_rng(seed).choice(len(paths), size=min(n, len(paths)), replace=False)
    return [paths[i] for i in sorted(pick)]


def throughput(photos: list[Path], work: Path) -> list[dict]:
    """Build the photos' index with 1 worker (this process) and 2 (LocalCluster)."""
    out = []
    for workers in (1, 2):
        db = work / f"aid-{workers}"
        shutil.rmtree(db, ignore_errors=True)
        report = index.build(photos, db, tile=224, overlap=32, workers=workers)
        row = {
            "workers": workers,
            "runner": "this process" if workers == 1 else "Dask LocalCluster",
            "tiles": report.tiles_added,
            "seconds": round(report.seconds, 2),
            "tiles_per_second": round(report.tiles_per_second, 2),
        }
        print(row, flush=True)
        out.append(row)
    return out


def noisy(base: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors: random rows of ``base`` plus Gaussian noise."""
    out = base[rng.integers(0, len(base), n)] + rng.normal(0, noise, (n, base.shape[1]))
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def scale_table(template, vectors: np.ndarray, db: Path, batch: int = 100_000):
    """A table of ``len(vectors)`` rows: the template rows' metadata repeated, these vectors."""
    import pyarrow as pa

    ident = store.table_model(template)
    shutil.rmtree(db, ignore_errors=True)
    table = store.open_or_create(db, ident)
    meta = template.to_arrow().drop_columns(["vector"])
    dim = vectors.shape[1]
    for start in range(0, len(vectors), batch):
        part = vectors[start : start + batch]
        idx = np.arange(start, start + len(part)) % meta.num_rows
        rows = meta.take(pa.array(idx))
        rows = rows.set_column(
            rows.schema.get_field_index("tile"),
            "tile",
            pa.array(np.arange(start, start + len(part), dtype=np.int32)),
        )
        vec = pa.FixedSizeListArray.from_arrays(pa.array(part.ravel()), dim)
        table.add(rows.add_column(0, "vector", vec).select(store.schema(ident).names))
    return table


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def scale(template, base: np.ndarray, n: int, args: argparse.Namespace, work: Path) -> dict:
    rng = np.random.default_rng(n)
    vectors = noisy(base, n, args.noise, rng)
    queries = noisy(base, args.queries, args.noise, rng)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    db = work / f"scale-{n}"
    t0 = time.perf_counter()
    table = scale_table(template, vectors, db)
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.create_vector_index(table, n, kind=args.kind)
    build_s = time.perf_counter() - t0
    table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
    idx = index.open(db)
    lat, recalls = [], []
    for q, truth in zip(queries, exact, strict=True):
        idx.search(vector=q, k=10)  # warm
        t = time.perf_counter()
        hits = idx.search(vector=q, k=10)
        lat.append(1000 * (time.perf_counter() - t))
        got = {h.tile for h in hits}
        recalls.append(len(got & set(truth.tolist())) / 10)
    row = {
        "vectors": n,
        "index": args.kind,
        "ingest_s": round(ingest, 1),
        "index_build_s": round(build_s, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "disk_mib": round(folder_mib(db), 1),
        "peak_rss_mib": round(peak_rss_mib(), 0),
    }
    print(row, flush=True)
    shutil.rmtree(db, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.03)
    parser.add_argument("--kind", default=store.ANN_INDEX, help="IVF_HNSW_SQ, IVF_PQ...")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "terrasight-index-bench"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    photos = aid_photos(args.images)
    result: dict = {"cpus": os.cpu_count(), "load": os.getloadavg(), "images": len(photos)}
    if not args.skip_throughput or not (args.workdir / "aid-1").is_dir():
        result["throughput"] = throughput(photos, args.workdir)
    template = store.open_table(args.workdir / "aid-1")
    base = np.array(template.to_arrow()["vector"].to_pylist(), np.float32)
    result["noise"], result["queries"] = args.noise, args.queries
    result["scale"] = [scale(template, base, n, args, args.workdir) for n in args.sizes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
