"""STAC fixtures: small COGs and Item JSON served by the range server, and a STAC API stub."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

SIZE = 1024
"""10 m bands are SIZE x SIZE pixels; the 20 m band half that."""
ORIGIN = (500000.0, 5000000.0)
CHANGE = (330, 330, 30, 30)
"""(col, row, width, height) of the square planted in the after scene (10 m pixels)."""
AOI = (270, 270, 150, 150)
"""(col, row, width, height) of the small area of interest around it, inside one 256 block."""
BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}


def _cog(path: Path, data: np.ndarray, res: float) -> Path:
    """A single-band uint16 Cloud-Optimized GeoTIFF (EPSG:32633, nodata 0, 256 tiles)."""
    from rasterio.shutil import copy as rio_copy

    plain = path.with_suffix(".plain.tif")
    profile = dict(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1)
    profile.update(dtype="uint16", crs="EPSG:32633", transform=from_origin(*ORIGIN, res, res))
    with rasterio.open(plain, "w", nodata=0, **profile) as ds:
        ds.write(data, 1)
    rio_copy(plain, path, driver="COG", blocksize=256, compress="DEFLATE")
    plain.unlink()
    return path


def _wgs84(col: float, row: float, width: float, height: float) -> tuple[float, ...]:
    t = from_origin(*ORIGIN, 10.0, 10.0)
    west, north = t * (col, row)
    east, south = t * (col + width, row + height)
    return tuple(transform_bounds("EPSG:32633", "EPSG:4326", west, south, east, north))


def write_scene(folder: Path, planted: bool, seed: int) -> dict[str, Path]:
    """Four 10 m bands (blue, green, red, nir) and a 20 m swir16 band as uint16 COGs."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    base = 1500 + 600 * np.sin(xx / 60.0) * np.cos(yy / 45.0)
    files = {}
    for i, (name, key) in enumerate(BANDS.items()):
        data = base * (1 + 0.2 * i) + rng.normal(0, 40, base.shape)
        if planted:
            col, row, w, h = CHANGE
            data[row : row + h, col : col + w] += 3000
        files[name] = _cog(folder / f"{key}.tif", np.clip(data, 1, 20000).astype(np.uint16), 10.0)
    coarse = 2000 + rng.normal(0, 40, (SIZE // 2, SIZE // 2))
    files["swir16"] = _cog(folder / "B11.tif", coarse.astype(np.uint16), 20.0)
    return files


def item_json(
    item_id: str,
    when: str,
    cloud: float,
    hrefs: dict[str, str],
    collection: str = "s2-test",
    bbox: tuple[float, ...] | None = None,
    self_href: str | None = None,
) -> dict:
    """A STAC Item with one asset per band (eo:bands common names, raster:bands scale)."""
    bbox = bbox or _wgs84(0, 0, SIZE, SIZE)
    w, s, e, n = bbox
    assets = {}
    for name, href in hrefs.items():
        key = BANDS.get(name, "B11")
        assets[key] = {
            "href": href,
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
            "eo:bands": [{"name": key, "common_name": name}],
            "raster:bands": [{"scale": 0.0001, "offset": 0, "nodata": 0}],
        }
    assets["thumbnail"] = {"href": "./thumb.png", "type": "image/png", "roles": ["thumbnail"]}
    links = [{"rel": "self", "href": self_href}] if self_href else []
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": item_id,
        "collection": collection,
        "bbox": list(bbox),
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
        },
        "properties": {"datetime": when, "eo:cloud_cover": cloud},
        "links": links,
        "assets": assets,
    }


@dataclass
class StacScenes:
    """Two dates of one place served over HTTP as STAC Items."""

    server: Any
    """The range server (tests/conftest.py) serving the files."""
    before_url: str
    """Item with relative hrefs."""
    after_url: str
    """Item with absolute hrefs."""
    before_file: Path
    after_file: Path
    aoi: tuple[float, ...]
    """WGS84 box around the planted change, small beside the scene."""
    hrefs: dict[str, dict[str, str]]
    """Absolute asset URLs of each date: ``{"before": {"red": url, ...}, "after": ...}``."""

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.server.root.rglob("*.tif"))


@pytest.fixture
def stac_scenes(range_server: Any) -> StacScenes:
    root = range_server.root
    write_scene(root / "2023", planted=False, seed=1)
    write_scene(root / "2024", planted=True, seed=2)
    rel = {name: f"./{BANDS.get(name, 'B11')}.tif" for name in (*BANDS, "swir16")}
    absolute = {
        year: {n: range_server.url(f"{year}/{h[2:]}") for n, h in rel.items()}
        for year in ("2023", "2024")
    }
    before = item_json("S2_20230614", "2023-06-14T10:00:00Z", 4.0, rel)
    after = item_json("S2_20240612", "2024-06-12T10:00:00Z", 2.0, absolute["2024"])
    (root / "2023" / "S2_20230614.json").write_text(json.dumps(before))
    (root / "2024" / "S2_20240612.json").write_text(json.dumps(after))
    return StacScenes(
        server=range_server,
        before_url=range_server.url("2023/S2_20230614.json"),
        after_url=range_server.url("2024/S2_20240612.json"),
        before_file=root / "2023" / "S2_20230614.json",
        after_file=root / "2024" / "S2_20240612.json",
        aoi=_wgs84(*AOI),
        hrefs={"before": absolute["2023"], "after": absolute["2024"]},
    )


class StacApi:
    """A STAC API stub: landing page, one collection, ``/search`` (GET and POST), items.

    ``items`` holds the Item JSON it serves; ``searches`` the search bodies received.
    """

    def __init__(self, items: list[dict], collection: str = "s2-test") -> None:
        import http.server

        self.items, self.collection, self.searches = items, collection, []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/search":
                    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    return self._send(api.search(params))
                return self._send(api.page(parts.path))

            def do_POST(self) -> None:  # noqa: N802
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}")
                return self._send(api.search(body) if self.path.startswith("/search") else None)

            def _send(self, data: dict | None) -> None:
                raw = json.dumps(data).encode() if data is not None else b'{"code": "NotFound"}'
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", "application/geo+json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def page(self, path: str) -> dict | None:
        root = {"rel": "root", "href": self.url + "/", "type": "application/json"}
        if path in ("", "/"):
            search = {"rel": "search", "type": "application/geo+json"}
            return {
                "type": "Catalog",
                "stac_version": "1.0.0",
                "id": "stub",
                "description": "a STAC API stub",
                "conformsTo": [
                    "https://api.stacspec.org/v1.0.0/core",
                    "https://api.stacspec.org/v1.0.0/item-search",
                ],
                "links": [
                    {**root, "rel": "self"},
                    root,
                    {**search, "href": self.url + "/search", "method": "GET"},
                    {**search, "href": self.url + "/search", "method": "POST"},
                ],
            }
        if path == f"/collections/{self.collection}":
            return {"type": "Collection", "id": self.collection, "links": [root]}
        found = [i for i in self.items if path == f"/collections/{i['collection']}/items/{i['id']}"]
        return found[0] if found else None

    def search(self, params: dict) -> dict:
        self.searches.append(params)
        wanted = params.get("collections") or []
        wanted = wanted.split(",") if isinstance(wanted, str) else wanted
        box = params.get("bbox")
        box = [float(v) for v in box.split(",")] if isinstance(box, str) else box
        start, _, end = str(params.get("datetime") or "../..").partition("/")
        out = []
        for item in self.items:
            when = datetime.fromisoformat(item["properties"]["datetime"])
            if wanted and item["collection"] not in wanted:
                continue
            if box and not _meets(box, item["bbox"]):
                continue
            if start not in ("", "..") and when < datetime.fromisoformat(start):
                continue
            if end not in ("", "..") and when > datetime.fromisoformat(end):
                continue
            out.append(item)
        return {"type": "FeatureCollection", "features": out, "links": []}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _meets(a: list[float], b: list[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


CATALOGUE = [
    # id, datetime, cloud, date folder of its assets, collection, somewhere else
    ("S2_20230606", "2023-06-06T10:00:00Z", 35.0, "2023", "s2-test", False),
    ("S2_20230609", "2023-06-09T10:00:00Z", 4.0, "2023", "s2-test", False),
    ("S2_20230614", "2023-06-14T10:00:00Z", 4.0, "2023", "s2-test", False),
    ("S2_20230619", "2023-06-19T10:00:00Z", 60.0, "2023", "s2-test", False),
    ("S2_20230616_far", "2023-06-16T10:00:00Z", 0.0, "2023", "s2-test", True),
    ("L8_20230615", "2023-06-15T10:00:00Z", 0.0, "2023", "landsat-test", False),
    ("S2_20240601", "2024-06-01T10:00:00Z", 12.0, "2024", "s2-test", False),
    ("S2_20240612", "2024-06-12T10:00:00Z", 2.0, "2024", "s2-test", False),
    ("S2_20240625", "2024-06-25T10:00:00Z", 9.0, "2024", "s2-test", False),
]
"""The stub's Items: near 2023-06-15 the clearest is S2_20230614 (4%, tied with 06-09 but
nearer); near 2024-06-15 it is S2_20240612; one clear scene lies elsewhere, one in another
collection."""


@pytest.fixture
def stac_api(stac_scenes: StacScenes):
    api = StacApi([])
    for item_id, when, cloud, year, collection, far in CATALOGUE:
        bbox = (100.0, 10.0, 100.1, 10.1) if far else None
        self_href = f"{api.url}/collections/{collection}/items/{item_id}"
        api.items.append(
            item_json(
                item_id,
                when,
                cloud,
                stac_scenes.hrefs["before" if year == "2023" else "after"],
                collection,
                bbox,
                self_href,
            )
        )
    yield api
    api.close()
