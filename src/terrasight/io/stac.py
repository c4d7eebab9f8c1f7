"""STAC Items as images: read an Item (a local ``.json`` or a URL) and pick its bands.

An Item names its images as assets; a band is found by its common name
(``eo:bands`` / ``bands`` ``common_name``), else by the asset key (``red``,
``B04``...). :func:`terrasight.io.stac_vrt.stac_image` stacks the chosen
assets into one GDAL VRT that the rest of the package opens like any raster.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from terrasight.errors import (
    BandSelectionError,
    MissingDependencyError,
    RasterReadError,
    RemoteReadError,
    StacError,
)
from terrasight.io.bands import BAND_ALIASES, common_name
from terrasight.io.remote import NETWORK_DEFAULTS, http_url, is_remote

if TYPE_CHECKING:
    import pystac

DEFAULT_BANDS = ("blue", "green", "red", "nir")
"""Bands an Item gives by default when it has them all (cloud masks and spectral rules need them)."""
NARROW_FOR = {"nir": "nir08"}
"""A band that stands in for a common name an Item lacks (Landsat's only near infrared is nir08)."""
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".png", ".jpg", ".jpeg")
_RASTER_TYPES = ("image/tiff", "image/jp2", "image/vnd.stac.geotiff", "application/x-hdf")
_NOT_DATA = {"thumbnail", "overview", "visual", "metadata", "rendered_preview", "snow-ice"}
MAX_ITEM_BYTES = 32 * 2**20


@dataclass(frozen=True)
class StacScene:
    """One STAC Item as a scene: its id, where it is, when it was taken and how cloudy.

    ``href`` opens with every image argument (``terrasight change HREF ...``).
    """

    id: str
    href: str
    datetime: datetime | None
    cloud_cover: float | None = None
    collection: str | None = None
    bbox: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The scene as JSON-ready data.

        Example:
            >>> StacScene("S2A_1", "https://h/S2A_1.json", None, 3.5).to_dict()["cloud_cover"]
            3.5
        """
        return {
            "id": self.id,
            "datetime": self.datetime.isoformat() if self.datetime else None,
            "cloud_cover": self.cloud_cover,
            "collection": self.collection,
            "href": self.href,
            "bbox": list(self.bbox) if self.bbox else None,
        }


@dataclass(frozen=True)
class ItemDocument:
    """An Item's JSON as read: where it is (absolute), its content, and its content's digest."""

    href: str
    data: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class BandAsset:
    """One band of an Item: its name, the asset holding it and how to read it."""

    name: str
    """Common name (``red``...) or, without one, the asset key."""
    key: str
    href: str
    """Absolute: a URL or a local path."""
    band: int = 1
    """1-based band inside the asset's file."""
    scale: float | None = None
    offset: float | None = None
    nodata: float | None = None


def network_setting(name: str) -> float:
    """A GDAL network setting as a number: the environment's value, else the default.

    Example:
        >>> network_setting("GDAL_HTTP_TIMEOUT") > 0
        True
    """
    try:
        return float(os.environ.get(name, NETWORK_DEFAULTS[name]))
    except ValueError:
        return float(NETWORK_DEFAULTS[name])


def fetch_bytes(url: str, what: str, limit: int = MAX_ITEM_BYTES) -> bytes:
    """GET ``url`` with the network settings' timeout and retries (5xx and no answer retried).

    Raises:
        RemoteReadError: one line naming ``what`` and the URL, and why.

    Example:
        >>> fetch_bytes("https://host/item.json", "STAC item")  # doctest: +SKIP
    """
    timeout = network_setting("GDAL_HTTP_TIMEOUT")
    retries = int(network_setting("GDAL_HTTP_MAX_RETRY"))
    delay = network_setting("GDAL_HTTP_RETRY_DELAY")
    reason = ""
    for attempt in range(retries + 1):
        try:
            request = urllib.request.Request(url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read(limit + 1)[:limit]
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500:
                break
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", exc)) or type(exc).__name__
        if attempt < retries:
            time.sleep(delay)
    raise RemoteReadError(
        f"{what} {url}: cannot be read over the network ({reason}). Check the URL and that "
        "the server is reachable."
    )


def is_item_name(source: str | Path) -> bool:
    """Whether ``source`` is named like a STAC Item (``.json`` / ``.geojson``).

    Example:
        >>> is_item_name("https://h/items/S2A_1.json"), is_item_name("a.tif")
        (True, False)
    """
    text = str(source)
    path = urlsplit(text).path if is_remote(text) else text
    return PurePosixPath(path).suffix.lower() in (".json", ".geojson")


def sniff_item(source: str | Path) -> ItemDocument | None:
    """The Item at ``source`` when it is one, else ``None`` (a raster: let GDAL read it).

    A ``.json`` name is an Item or an error; a local file or an ``http(s)`` URL
    without a raster suffix is read and is an Item when its JSON says so
    (``"type": "Feature"`` and ``stac_version``).

    Raises:
        StacError, RasterReadError, RemoteReadError: a ``.json`` source that is no Item.

    Example:
        >>> sniff_item("scene.tif") is None
        True
    """
    if is_item_name(source):
        return load_item(source)
    text = str(source)
    if text.startswith(("http://", "https://")):
        if PurePosixPath(urlsplit(text).path).suffix.lower() in RASTER_SUFFIXES:
            return None
        raw = _peek_json(text)
        return _document(text, raw) if raw is not None and _looks_like_item(raw) else None
    path = Path(text)
    if is_remote(text) or path.suffix.lower() in RASTER_SUFFIXES or not path.is_file():
        return None
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.lstrip().startswith(b"{") or b"stac_version" not in head:
        return None
    return load_item(path)


def _peek_json(url: str) -> bytes | None:
    """The body at ``url`` when it starts like JSON; ``None`` after its first bytes otherwise
    (an image without a suffix is not downloaded) or when it cannot be read (GDAL says why)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=network_setting("GDAL_HTTP_TIMEOUT")) as r:
            head = r.read(256)
            if not head.lstrip().startswith(b"{"):
                return None
            return head + r.read(MAX_ITEM_BYTES)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _looks_like_item(raw: bytes) -> bool:
    return raw.lstrip().startswith(b"{") and b"stac_version" in raw


def load_item(source: str | Path) -> ItemDocument:
    """Read a STAC Item from a local file or a URL, and check that it is one.

    ``s3://`` and ``gs://`` Items are read from their public HTTPS address.

    Raises:
        RasterReadError: a local file that is missing.
        RemoteReadError: a URL that cannot be read.
        StacError: not JSON, or JSON that is not a STAC Item (a Collection, a search result...).

    Example:
        >>> load_item("items/S2A_20230615.json").data["id"]  # doctest: +SKIP
        'S2A_20230615'
    """
    text = str(source)
    if is_remote(text):
        url = http_url(text)
        if url is None:
            raise StacError(
                f"STAC item {text}: only local files, http(s) URLs and public s3:// or gs:// "
                "objects are read as items."
            )
        return _document(url, fetch_bytes(url, "STAC item"))
    path = Path(text)
    if not path.is_file():
        raise RasterReadError(f"STAC item {path}: file not found. Check the path and try again.")
    return _document(str(path.resolve()), path.read_bytes())


def _document(href: str, raw: bytes) -> ItemDocument:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StacError(f"{href}: is not JSON, so not a STAC Item.") from None
    kind = data.get("type") if isinstance(data, dict) else type(data).__name__
    if not isinstance(data, dict) or kind != "Feature" or "stac_version" not in data:
        found = {
            "FeatureCollection": "a FeatureCollection (a search result); pass one of its items",
            "Collection": "a STAC Collection; pass one of its items",
            "Catalog": "a STAC Catalog; pass one of its items",
        }.get(str(kind), f"JSON of type {kind!r}")
        if kind == "Feature":
            found = "a GeoJSON Feature without stac_version"
        raise StacError(f"{href}: not a STAC Item: it is {found}.")
    return ItemDocument(href, data, hashlib.sha256(raw).hexdigest())


def load_pystac() -> Any:
    """The ``pystac`` module, imported on first use (it comes with the ``stac`` extra).

    Raises:
        MissingDependencyError: pystac is not installed; the message names the extra.
    """
    try:
        import pystac
    except ImportError:
        raise MissingDependencyError(
            "reading STAC Items needs pystac: pip install 'terrasight[stac]'."
        ) from None
    return pystac


def parse_item(doc: ItemDocument) -> pystac.Item:
    """The :class:`pystac.Item` of a document, with its own location as self link.

    Raises:
        StacError: the JSON is an Item in name but cannot be parsed.

    Example:
        >>> parse_item(load_item("S2A_20230615.json")).id  # doctest: +SKIP
        'S2A_20230615'
    """
    item_class = load_pystac().Item
    try:
        item = item_class.from_dict(doc.data, preserve_dict=True)
    except Exception as exc:  # noqa: BLE001 - pystac raises KeyError, TypeError, STACError...
        raise StacError(
            f"{doc.href}: not a valid STAC Item ({type(exc).__name__}: {exc})."
        ) from None
    item.set_self_href(doc.href)
    return item


def item_scene(item: pystac.Item, href: str | None = None) -> StacScene:
    """The :class:`StacScene` of an Item: id, datetime, ``eo:cloud_cover``, collection, bbox.

    Example:
        >>> item_scene(parse_item(load_item("S2A_20230615.json"))).cloud_cover  # doctest: +SKIP
        3.2
    """
    when = item.datetime or item.common_metadata.start_datetime
    cloud = item.properties.get("eo:cloud_cover")
    return StacScene(
        id=item.id,
        href=href or item.get_self_href() or item.id,
        datetime=when,
        cloud_cover=float(cloud) if isinstance(cloud, int | float) else None,
        collection=item.collection_id,
        bbox=tuple(item.bbox) if item.bbox else None,
    )


def item_bands(item: pystac.Item) -> list[BandAsset]:
    """Every band of the Item's raster data assets; single-band data assets come first.

    Example:
        >>> [b.name for b in item_bands(item)]  # doctest: +SKIP
        ['blue', 'green', 'red', 'nir', 'swir16', 'scl']
    """
    found: list[tuple[int, BandAsset]] = []
    for key, asset in item.assets.items():
        if not _is_raster(key, asset):
            continue
        href = asset.get_absolute_href() or asset.href
        infos = asset.extra_fields.get("eo:bands") or asset.extra_fields.get("bands") or []
        rasters = asset.extra_fields.get("raster:bands") or []
        count = max(len(infos), len(rasters), 1)
        rank = (0 if "data" in (asset.roles or []) else 1) + (0 if count == 1 else 2)
        for i in range(count):
            info = _get(infos, i)
            raster = {**info, **_get(rasters, i)}
            name = _band_name(key, info, i, count)
            scale = raster.get("scale", raster.get("raster:scale"))
            offset = raster.get("offset", raster.get("raster:offset"))
            nodata = raster.get("nodata")
            band = BandAsset(name, key, href, i + 1, _num(scale), _num(offset), _num(nodata))
            found.append((rank, band))
    return [band for _, band in sorted(found, key=lambda pair: pair[0])]


def _get(items: Any, i: int) -> dict[str, Any]:
    if isinstance(items, list) and i < len(items) and isinstance(items[i], dict):
        return items[i]
    return {}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _band_name(key: str, info: dict[str, Any], i: int, count: int) -> str:
    declared = info.get("common_name") or info.get("eo:common_name")
    if declared:
        return common_name(str(declared))
    named = info.get("name")
    for text in (key, named) if count == 1 else (named,):
        if text and common_name(str(text)) in BAND_ALIASES:
            return common_name(str(text))
    if count == 1:
        return key.lower()
    return common_name(str(named)) if named else f"{key.lower()}_{i + 1}"


def _is_raster(key: str, asset: pystac.Asset) -> bool:
    roles = set(asset.roles or [])
    if roles & _NOT_DATA or key.lower() in _NOT_DATA | {"tci", "preview"}:
        return False
    media = (asset.media_type or "").lower()
    if media:
        return any(media.startswith(t) for t in _RASTER_TYPES)
    suffix = PurePosixPath(urlsplit(asset.href).path).suffix.lower()
    return suffix in RASTER_SUFFIXES


def choose_bands(
    item: pystac.Item, names: Sequence[str] | None, where: str = ""
) -> tuple[list[BandAsset], bool]:
    """The Item's bands asked for by name, in that order; ``(bands, True)`` when defaulted.

    Without names: blue, green, red and nir when the Item has them all (nir08 as nir
    when it has no nir), else every raster band (the caller keeps those of the finest
    resolution).

    Raises:
        StacError: the Item has no raster asset.
        BandSelectionError: no band has a requested name (the message lists those it has).

    Example:
        >>> [b.key for b in choose_bands(item, ["red", "nir"])[0]]  # doctest: +SKIP
        ['B04', 'B08']
    """
    where = where or item.get_self_href() or item.id
    bands = item_bands(item)
    if not bands:
        keys = ", ".join(item.assets) or "none"
        raise StacError(f"STAC item {where}: no raster asset to read (its assets: {keys}).")
    if names is None:
        picked = [_find(bands, n) for n in DEFAULT_BANDS]
        if all(p is not None for p in picked):
            return [p for p in picked if p is not None], False
        return _unique(bands), True
    out = []
    for name in names:
        band = _find(bands, name)
        if band is None:
            have = ", ".join(sorted({b.name for b in bands}))
            raise BandSelectionError(
                f"STAC item {where}: no asset with the band {name!r}; it has {have}."
            )
        out.append(band)
    return out, False


def _find(bands: Sequence[BandAsset], name: str) -> BandAsset | None:
    wanted = common_name(name.strip())
    match = next((b for b in bands if b.name == wanted), None)
    match = match or next((b for b in bands if b.key.lower() == name.strip().lower()), None)
    if match is None and wanted in NARROW_FOR:
        narrow = next((b for b in bands if b.name == NARROW_FOR[wanted]), None)
        return replace(narrow, name=wanted) if narrow is not None else None
    return match


def _unique(bands: Sequence[BandAsset]) -> list[BandAsset]:
    seen: set[str] = set()
    out = []
    for band in bands:
        if band.name not in seen:
            seen.add(band.name)
            out.append(band)
    return out
