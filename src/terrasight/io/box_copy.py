"""Local copies of the part of remote images that an area of interest covers.

A job over a box (``bbox``) of remote images reads the same pixels several times: the
fit sample, the windows, then the facts' crops and the report's pictures, each on
handles of their own, and what GDAL keeps of earlier network reads does not hold them.
So the box's windows of each remote input are copied once, block by block, into a
local tiled GeoTIFF, and the whole job reads the copy.

A STAC Item (a local VRT stacking remote assets) is copied the same way, as one
multi-band file over the VRT's grid: the VRT already puts every asset on one grid, so
its window is the job's window, and a copy of it reads like the VRT (band names,
scales and offsets, nodata).

The copy has the remote file's grid (size, CRS, transform), band count, names, tags,
scales and offsets, nodata and mask, so every pixel coordinate of the job stays that of
the remote file; only the blocks over the box are written (a sparse GeoTIFF: the others
take no space and read as nodata, or 0). Only the bands the job selected are copied. A
finished copy is reused while the remote file's size, ETag and Last-Modified (for an
Item: its JSON's digest and each remote asset's), the window and the bands are
unchanged (recorded beside it).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import from_bounds as window_from_bounds

from terrasight.errors import RemoteReadError
from terrasight.io.pair import RasterPair
from terrasight.io.raster import RasterSource
from terrasight.io.remote import is_remote, remote_identity
from terrasight.io.stac_vrt import vrt_inputs

COPY_DIR = ".terrasight-inputs"
"""Folder of the local copies inside a job folder (``before/`` and ``after/`` under it)."""
RESAMPLING_MARGIN = 8
"""Pixels copied around the window of an image resampled onto another grid (the
resampling kernel reads a few pixels beyond the window it fills)."""
BLOCK = 256
"""Block side of a copy when the remote file is not tiled."""


def box_windows(pair: RasterPair, margin: int = RESAMPLING_MARGIN) -> tuple[Window, Window]:
    """The windows of the before and after files that a job over ``pair.region`` reads.

    The before window is the region itself (every read of the job is clipped to it).
    The after window is the same when both share a grid, else the region's bounds in
    the after file's grid, ``margin`` pixels wider on each side for the resampling.

    Example:
        >>> before, after = box_windows(pair)  # doctest: +SKIP
        >>> before == pair.region  # doctest: +SKIP
        True
    """
    region = _whole(pair.region, pair.before.width, pair.before.height, 0)
    if pair.same_grid:
        return region, region
    b, a = pair.before, pair.after
    bounds = window_bounds(region, b.transform)
    if b.crs != a.crs:
        bounds = transform_bounds(b.crs, a.crs, *bounds, densify_pts=21)
    window = window_from_bounds(*bounds, transform=a.transform)
    return region, _whole(window, a.width, a.height, margin)


def _whole(window: Window, width: int, height: int, margin: int) -> Window:
    """``window`` rounded outward to whole pixels, ``margin`` wider, inside the file."""
    c0 = max(0, math.floor(window.col_off + 1e-6) - margin)
    r0 = max(0, math.floor(window.row_off + 1e-6) - margin)
    c1 = min(width, math.ceil(window.col_off + window.width - 1e-6) + margin)
    r1 = min(height, math.ceil(window.row_off + window.height - 1e-6) + margin)
    return Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))


def localize_pair(pair: RasterPair, folder: Path, progress: bool = False) -> RasterPair:
    """``pair`` with each remote image replaced by a local copy of its box's window.

    The pair's region, grids, bands, nodata and warnings are unchanged; only the files
    read are local. Local images are kept as they are.

    Example:
        >>> local = localize_pair(open_pair(url_a, url_b, bbox=box), Path("job"))  # doctest: +SKIP
        >>> local.before.remote, local.region == pair.region  # doctest: +SKIP
        (False, True)
    """
    windows = box_windows(pair)
    sources = []
    for role, source, window in zip(
        ("before", "after"), (pair.before, pair.after), windows, strict=True
    ):
        if reads_network(source):
            source = copy_window(source, window, copy_path(folder, role, source), progress)
        sources.append(source)
    return replace(pair, before=sources[0], after=sources[1])


def reads_network(source: RasterSource) -> bool:
    """Whether reading ``source`` fetches over the network: a URL, or an Item with remote assets.

    Example:
        >>> reads_network(open_raster("https://host/a.tif"))  # doctest: +SKIP
        True
    """
    if source.remote:
        return True
    if source.scene is None:
        return False
    return any(is_remote(href) for href in vrt_inputs(Path(source.path))[1])


def copy_path(folder: Path, role: str, source: RasterSource) -> Path:
    """Where the copy of ``source`` goes in the job ``folder``: ``COPY_DIR/role/NAME``
    (an Item's VRT is copied to a GeoTIFF: ``NAME.tif``).

    Example:
        >>> copy_path(Path("job"), "before", open_raster("https://h/2019.tif"))  # doctest: +SKIP
        PosixPath('job/.terrasight-inputs/before/2019.tif')
    """
    name = source.name
    if source.scene is not None:
        name = Path(name).stem + ".tif"
    return folder / COPY_DIR / role / name


def source_identity(source: RasterSource) -> dict[str, Any]:
    """What identifies the content of ``source`` cheaply, for reusing a copy of it.

    A URL: its size, ETag and Last-Modified (one ``HEAD``); an Item's VRT: the digest of
    the Item's JSON and the same of each remote asset; a local file: its path.

    Example:
        >>> source_identity(open_raster("https://host/a.tif"))["size"]  # doctest: +SKIP
        1234567
    """
    if source.remote:
        return remote_identity(str(source.path))
    if source.scene is None:
        return {"path": str(source.path)}
    digest, hrefs = vrt_inputs(Path(source.path))
    assets = [remote_identity(h) if is_remote(h) else {"path": h} for h in hrefs]
    return {"path": str(source.path), "item_sha256": digest, "assets": assets}


def copy_window(
    source: RasterSource, window: Window, dest: Path, progress: bool = False
) -> RasterSource:
    """Copy ``window`` of ``source``'s selected bands into ``dest``; the source read from it.

    Written to ``dest`` + ``.part`` first, then renamed, with ``dest`` + ``.json``
    recording what was copied; a finished copy of the same file, window and bands is
    reused. ``progress`` shows a bar on stderr (when it is a terminal). The source read
    from the copy keeps the name given (:attr:`~terrasight.io.raster.RasterSource.given`).

    Example:
        >>> local = copy_window(open_raster(url), Window(0, 0, 512, 512), Path("job/a.tif"))  # doctest: +SKIP
        >>> local.path  # doctest: +SKIP
        PosixPath('job/a.tif')
    """
    record = {
        "source": source_identity(source),
        "window": [int(v) for v in window.flatten()],
        "bands": list(source.bands),
    }
    done = dest.with_name(dest.name + ".json")
    if dest.is_file() and done.is_file() and _read_json(done) == record:
        return replace(source, path=dest, gdal_env=(), origin=str(source.given))
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done.unlink(missing_ok=True)
    with source.open() as src:
        profile = _profile(src)
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(part, "w", **profile) as out:
            _copy_metadata(src, out)
            _copy_blocks(src, out, source, window, progress)
    part.replace(dest)
    done.write_text(json.dumps(record))
    return replace(source, path=dest, gdal_env=(), origin=str(source.given))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _profile(src: Any) -> dict[str, Any]:
    """A sparse, tiled, band-interleaved GeoTIFF of ``src``'s grid and bands."""
    bh, bw = src.block_shapes[0]
    tiled = bw < src.width and bw % 16 == 0 and bh % 16 == 0
    return dict(
        driver="GTiff",
        width=src.width,
        height=src.height,
        count=src.count,
        dtype=src.dtypes[0],
        crs=src.crs,
        transform=src.transform,
        nodata=src.nodata,
        tiled=True,
        blockxsize=bw if tiled else BLOCK,
        blockysize=bh if tiled else BLOCK,
        interleave="band",
        compress="deflate",
        zlevel=1,
        sparse_ok=True,
        bigtiff="if_safer",
    )


def _copy_metadata(src: Any, out: Any) -> None:
    out.update_tags(**src.tags())
    for b in range(1, src.count + 1):
        out.update_tags(b, **src.tags(b))
        if src.descriptions[b - 1]:
            out.set_band_description(b, src.descriptions[b - 1])
        if src.units[b - 1]:
            out.set_band_unit(b, src.units[b - 1])
    out.scales, out.offsets = src.scales, src.offsets
    out.colorinterp = src.colorinterp


def _copy_blocks(src: Any, out: Any, source: RasterSource, window: Window, progress: bool) -> None:
    """Copy ``window`` one row of blocks at a time (each remote block fetched once)."""
    from tqdm import tqdm

    bands = list(source.bands)
    step = out.block_shapes[0][0]
    c0, r0, w, h = (int(v) for v in window.flatten())
    first = r0 // step * step
    rows = [(max(r0, top), min(r0 + h, top + step)) for top in range(first, r0 + h, step)]
    bar = tqdm(
        total=w * h,
        unit="px",
        unit_scale=True,
        desc=f"copy {source.name}",
        leave=False,
        disable=None if progress else True,
    )
    with bar:
        for top, bottom in rows:
            part = Window(c0, top, w, bottom - top)
            try:
                data = src.read(bands, window=part)
                masks = src.read_masks(bands, window=part) if source.has_mask else None
            except RasterioError as exc:
                raise RemoteReadError(
                    f"{source.path}: copying rows {top}..{bottom} of the area of interest "
                    f"failed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}). "
                    "Run the job again with the same output folder: the copy starts again."
                ) from None
            out.write(data, bands, window=part)
            if masks is not None:
                out.write_mask(np.minimum.reduce(masks, axis=0), window=part)
            bar.update(w * (bottom - top))
