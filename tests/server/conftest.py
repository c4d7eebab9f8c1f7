"""A real uvicorn server on a free loopback port, and small rasters for its jobs."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the server extra is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")

import rasterio  # noqa: E402
from rasterio.transform import from_origin  # noqa: E402

from terrasight.server import ServerConfig, create_app  # noqa: E402

TOKEN = "test-token-0123456789"
SERIES_DATES = ("2019-06-01", "2020-06-01", "2021-06-01")
CHROMIUM = Path(os.environ.get("TERRASIGHT_CHROMIUM", "/usr/bin/chromium"))


def write_raster(path: Path, data: np.ndarray, crs: str | None = "EPSG:32633") -> Path:
    """A GeoTIFF of ``data`` (bands, h, w); 10 m pixels, or no CRS at all."""
    count, h, w = data.shape
    profile = dict(driver="GTiff", width=w, height=h, count=count, dtype=data.dtype.name)
    if crs:
        profile.update(crs=crs, transform=from_origin(500000.0, 5000000.0, 10.0, 10.0))
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A server running in a thread: its base URL and the app's context."""

    def __init__(self, config: ServerConfig) -> None:
        self.app = create_app(config)
        self.context = self.app.state.context
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(conf)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def running(config: ServerConfig) -> Iterator[Running]:
    server = Running(config).start()
    try:
        yield server
    finally:
        server.stop()


def wait_done(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["finished"]:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder with a 4-band 128 x 160 pair (EPSG:32633) and a planted change."""
    rng = np.random.default_rng(7)
    base = rng.normal(1000, 60, size=(4, 128, 160)).clip(0, 4000)
    after = base * 0.95 + rng.normal(0, 10, size=base.shape)
    after[:, 40:70, 90:130] = 3500
    folder = tmp_path / "data"
    (folder / "site").mkdir(parents=True)
    write_raster(folder / "site" / "before.tif", base.astype(np.uint16))
    write_raster(folder / "site" / "after.tif", after.clip(0, 4000).astype(np.uint16))
    return folder


@pytest.fixture
def config_for(tmp_path: Path, data_dir: Path) -> Callable[..., ServerConfig]:
    """Settings for a test server: token, data folder, no land-cover classification."""

    def make(**changes) -> ServerConfig:
        base = dict(
            jobs=tmp_path / "jobs",
            data=data_dir,
            token=TOKEN,
            classify=False,
            sample_size=256,
            max_upload_mb=1,
        )
        return ServerConfig(**{**base, **changes})

    return make


@pytest.fixture
def server(config_for) -> Iterator[Running]:
    with running(config_for()) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (the page tests skip without either), started
    once per module; each test opens its own page."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def series_dir(data_dir):
    """Three dates of one place; a block changes from the second date on."""
    rng = np.random.default_rng(3)
    base = rng.normal(1000, 40, size=(4, 128, 160)).clip(0, 4000)
    (data_dir / "series").mkdir()
    for i, date in enumerate(SERIES_DATES):
        image = base + rng.normal(0, 8, size=base.shape)
        if i >= 1:
            image[:, 30:70, 40:90] = 3200
        write_raster(data_dir / "series" / f"s2_{date}.tif", image.astype(np.uint16))
    return data_dir / "series"
