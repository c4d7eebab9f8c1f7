"""Network faults on STAC inputs: timeouts and retries apply, and the message names the URL."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

import terrasight
from terrasight.errors import RemoteReadError
from terrasight.io.rgb import read_rgb
from terrasight.io.stac import fetch_bytes, load_item


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first ``fails`` requests, then the item."""

    fails = 2
    seen: list[str] = []
    body = b""

    def log_message(self, fmt: str, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(self.path)
        status = 503 if len(self.seen) <= self.fails else 200
        body = self.body if status == 200 else b"busy"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def flaky(stac_scenes):
    handler = type("Handler", (_Flaky,), {"seen": [], "body": stac_scenes.after_file.read_bytes()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/item.json", handler
    httpd.shutdown()
    httpd.server_close()


def test_a_busy_server_is_retried_and_a_silent_one_times_out(flaky, monkeypatch):
    url, handler = flaky
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0")
    assert load_item(url).data["id"] == "S2_20240612" and len(handler.seen) == 3
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    handler.seen.clear()
    with pytest.raises(RemoteReadError, match="HTTP 503") as err:
        load_item(url)
    assert url in str(err.value) and len(handler.seen) == 2
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "0.5")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    quiet = f"http://127.0.0.1:{silent.getsockname()[1]}/item.json"
    start = time.monotonic()
    with pytest.raises(RemoteReadError, match="timed out") as err:
        fetch_bytes(quiet, "STAC item")
    assert quiet in str(err.value) and time.monotonic() - start < 5
    silent.close()


def test_items_open_through_the_package_doors(stac_scenes):
    src = terrasight.open(stac_scenes.after_url, bands=["red", "nir"])
    assert src.band_names == ("red", "nir") and src.scene.cloud_cover == 2.0
    pair = terrasight.open(stac_scenes.before_url, stac_scenes.after_url, bbox=stac_scenes.aoi)
    assert pair.band_names == ("blue", "green", "red", "nir") and pair.same_grid
    rgb = read_rgb(stac_scenes.before_url, max_side=128)
    assert rgb.shape == (128, 128, 3) and rgb.dtype.name == "uint8" and rgb.std() > 5
    assert pair.region.width < 160 and pair.bbox is not None
