"""One GDAL VRT per STAC Item and band choice: the chosen assets stacked as bands.

The VRT names each band by its common name, carries the Item's reflectance
scale and offset (``raster:bands``), and puts assets of coarser resolution
(Sentinel-2's 20 m bands) on the finest asset's grid. Remote assets stay
``/vsicurl/`` (or ``/vsis3/``, ``/vsigs/``) sources, so reading a window of the
VRT fetches only that window's tiles. The file lives in
``$TERRASIGHT_CACHE/stac`` (else ``~/.cache/terrasight/stac``) under a name made
from the Item's location and the band choice, and is rewritten only when the
Item's content changes: its size and time then tell a job's journal so.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from terrasight.errors import RasterReadError, RemoteReadError, StacError
from terrasight.io.cachedir import user_cache
from terrasight.io.download import accepts_ranges, whole_file
from terrasight.io.remote import gdal_options, gdal_path, is_remote, source_name
from terrasight.io.stac import (
    BandAsset,
    ItemDocument,
    StacScene,
    choose_bands,
    item_scene,
    parse_item,
)

DIGEST_KEY = "STAC_ITEM_SHA256"
"""VRT metadata item holding the digest of the Item's JSON the VRT was made from."""


@dataclass(frozen=True)
class StacImage:
    """An Item made openable: the VRT to open, the scene, and the GDAL settings its reads need."""

    path: Path
    scene: StacScene
    gdal_env: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    """Assets downloaded whole (their server answers no range requests), in words."""


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    transform: Affine
    crs: Any
    dtype: str
    nodata: float | None
    block: tuple[int, int]

    @property
    def res(self) -> float:
        return abs(self.transform.a)


def stac_cache_dir() -> Path:
    """Folder of the Items' VRTs: ``$TERRASIGHT_CACHE/stac``, else ``$XDG_CACHE_HOME``
    (or ``~/.cache``) ``/terrasight/stac``.

    Example:
        >>> stac_cache_dir().name
        'stac'
    """
    return user_cache("stac")


def stac_image(doc: ItemDocument, bands: Sequence[int | str] | None = None) -> StacImage:
    """The VRT of an Item with the bands asked for by name (the default choice otherwise).

    Band numbers select from the default choice; names (``red``, ``nir``,
    ``B04``...) make a VRT of exactly those bands, in that order.

    Raises:
        StacError: no raster asset, or assets in different CRSs.
        BandSelectionError: a name no asset has.
        RemoteReadError, RasterReadError: an asset that cannot be read (its href named).

    Example:
        >>> image = stac_image(load_item("S2A_20230615.json"), ["red", "nir"])  # doctest: +SKIP
        >>> image.path.suffix, image.scene.cloud_cover  # doctest: +SKIP
        ('.vrt', 3.2)
    """
    item = parse_item(doc)
    names = _names(bands)
    chosen, defaulted = choose_bands(item, names, doc.href)
    env = _network_env([b.href for b in chosen])
    choice = ",".join(names) if names is not None else "*"
    key = hashlib.sha256(f"{doc.href}\n{choice}".encode()).hexdigest()[:16]
    path = stac_cache_dir() / f"{_safe(item.id)}-{key}.vrt"
    scene = item_scene(item, doc.href)
    digest, sources = vrt_inputs(path)
    missing = any(not is_remote(s) and not Path(s).is_file() for s in sources)
    if digest != doc.digest or missing:
        chosen, headers = _headers(chosen, env, doc.href)
        if defaulted:
            finest = min(h.res for h in headers.values())
            chosen = [b for b in chosen if _close(headers[b.href].res, finest)]
        xml = vrt_xml(chosen, headers, scene, doc.digest)
        _write(path, xml)
        sources = vrt_inputs(path)[1]
    return StacImage(path, scene, tuple(sorted(env.items())), _download_notes(sources, doc.href))


def _download_notes(sources: Sequence[str], where: str) -> tuple[str, ...]:
    """One note per asset the VRT reads from the downloads cache."""
    downloads = user_cache("downloads")
    return tuple(
        f"asset {source_name(s)} of STAC item {where}: its server does not answer range "
        f"requests, so the whole file was downloaded to {s}."
        for s in sources
        if not is_remote(s) and downloads in Path(s).parents
    )


def _names(bands: Sequence[int | str] | None) -> list[str] | None:
    if bands is None:
        return None
    texts = [str(b).strip() for b in bands]
    if all(t and not t.isdigit() for t in texts):
        return texts
    return None  # numbers select among the default bands


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "item"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(a, b)


def _network_env(hrefs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for href in hrefs:
        env.update(gdal_options(href))
    env.pop("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", None)  # asset URLs may carry no suffix
    return env


def _digest_of(path: Path) -> str | None:
    """The Item digest recorded in an existing VRT, or ``None``."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    for mdi in root.iter("MDI"):
        if mdi.get("key") == DIGEST_KEY:
            return mdi.text
    return None


def vrt_inputs(path: Path) -> tuple[str | None, list[str]]:
    """The Item digest an Item's VRT records and the files it reads (GDAL names, each once).

    Example:
        >>> vrt_inputs(image.path)  # doctest: +SKIP
        ('9f2c...', ['/vsicurl/https://host/B04.tif', '/vsicurl/https://host/B08.tif'])
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None, []
    names = [node.text or "" for node in root.iter("SourceFilename")]
    return _digest_of(path), list(dict.fromkeys(n for n in names if n))


def _headers(
    chosen: Sequence[BandAsset], env: dict[str, str], where: str
) -> tuple[list[BandAsset], dict[str, _Header]]:
    """Each asset's grid, read once per file (a URL: a few range requests for its header).

    An asset whose server answers no range requests is downloaded whole into the cache,
    as an image URL is (:func:`terrasight.io.download.whole_file`, within its size
    limit), and the bands returned read it there.
    """
    out: dict[str, _Header] = {}
    moved: dict[str, str] = {}
    with rasterio.Env(**env), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        for band in chosen:
            if band.href in out or band.href in moved:
                continue
            try:
                out[band.href] = _header(band, where)
            except RemoteReadError:
                if accepts_ranges(band.href) is not False:
                    raise
                local = str(whole_file(band.href, f"asset {band.key!r} of STAC item {where}"))
                moved[band.href] = local
                out[local] = _header(replace(band, href=local), where)
    chosen = [replace(b, href=moved.get(b.href, b.href)) for b in chosen]
    crss = {str(h.crs) for h in out.values()}
    if len(crss) > 1:
        raise StacError(
            f"STAC item {where}: the chosen assets are in different CRSs ({', '.join(sorted(crss))}); "
            "choose bands of one CRS with --bands."
        )
    return chosen, out


def _header(band: BandAsset, where: str) -> _Header:
    try:
        with rasterio.open(gdal_path(band.href)) as ds:
            return _Header(
                ds.width,
                ds.height,
                ds.transform,
                ds.crs,
                ds.dtypes[band.band - 1],
                ds.nodata,
                tuple(ds.block_shapes[band.band - 1]),
            )
    except (RasterioIOError, IndexError) as exc:
        reason = " ".join(str(exc.__cause__ or exc).split())[:300] or type(exc).__name__
        error = RemoteReadError if is_remote(band.href) else RasterReadError
        raise error(
            f"asset {band.key!r} of STAC item {where}: {band.href} cannot be read ({reason})."
        ) from None


def vrt_xml(
    chosen: Sequence[BandAsset], headers: dict[str, _Header], scene: StacScene, digest: str
) -> str:
    """The VRT stacking ``chosen`` on the grid of the finest asset.

    Example:
        >>> vrt_xml(bands, headers, scene, "ab12")[:11]  # doctest: +SKIP
        '<VRTDataset'
    """
    grid = min(headers.values(), key=lambda h: h.res)
    dtype = np.result_type(*[headers[b.href].dtype for b in chosen]).name
    root = ET.Element("VRTDataset", rasterXSize=str(grid.width), rasterYSize=str(grid.height))
    if grid.crs is not None:
        ET.SubElement(root, "SRS", dataAxisToSRSAxisMapping="1,2").text = grid.crs.to_wkt()
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(v) for v in grid.transform.to_gdal())
    meta = ET.SubElement(root, "Metadata")
    tags = {DIGEST_KEY: digest, "STAC_ITEM": scene.href, "STAC_ID": scene.id}
    if scene.datetime is not None:
        tags["ACQUISITION_DATE"] = scene.datetime.isoformat()
    for key, value in tags.items():
        ET.SubElement(meta, "MDI", key=key).text = value
    for i, band in enumerate(chosen, start=1):
        _band_xml(root, i, band, headers[band.href], grid, _gdal_type(dtype))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _band_xml(
    root: ET.Element, index: int, band: BandAsset, src: _Header, grid: _Header, dtype: str
) -> None:
    node = ET.SubElement(root, "VRTRasterBand", dataType=dtype, band=str(index))
    ET.SubElement(node, "Description").text = band.name
    nodata = band.nodata if band.nodata is not None else src.nodata
    if nodata is not None:
        ET.SubElement(node, "NoDataValue").text = repr(float(nodata))
    if band.scale is not None:
        ET.SubElement(node, "Scale").text = repr(band.scale)
    if band.offset is not None:
        ET.SubElement(node, "Offset").text = repr(band.offset)
    source = ET.SubElement(node, "ComplexSource", resampling="nearest")
    ET.SubElement(source, "SourceFilename", relativeToVRT="0").text = str(gdal_path(band.href))
    ET.SubElement(source, "SourceBand").text = str(band.band)
    ET.SubElement(
        source,
        "SourceProperties",
        RasterXSize=str(src.width),
        RasterYSize=str(src.height),
        DataType=_gdal_type(src.dtype),
        BlockXSize=str(src.block[1]),
        BlockYSize=str(src.block[0]),
    )
    rect = {"xOff": "0", "yOff": "0", "xSize": str(src.width), "ySize": str(src.height)}
    ET.SubElement(source, "SrcRect", rect)
    ET.SubElement(source, "DstRect", _dst_rect(src, grid))
    if nodata is not None:
        ET.SubElement(source, "NODATA").text = repr(float(nodata))


def _dst_rect(src: _Header, grid: _Header) -> dict[str, str]:
    """Where the source's pixels fall on the grid, in grid pixels (fractions allowed)."""
    col, row = ~grid.transform * (src.transform.c, src.transform.f)
    width = src.width * abs(src.transform.a) / grid.res
    height = src.height * abs(src.transform.e) / abs(grid.transform.e)
    return {
        k: repr(round(float(v), 9))
        for k, v in zip(("xOff", "yOff", "xSize", "ySize"), (col, row, width, height), strict=True)
    }


_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


def _gdal_type(dtype: str) -> str:
    return _GDAL_TYPES.get(dtype, "Float64")


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (two processes may make the same VRT)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
