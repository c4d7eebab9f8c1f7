"""Rasters in and out: reading, pairing, tiling, vectors and cloud masks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from terrasight.io.pair import RasterPair, open_pair
from terrasight.io.raster import RasterSource, open_raster
from terrasight.io.tiling import Tile, TileGrid

__all__ = ["RasterPair", "RasterSource", "Tile", "TileGrid", "open", "open_pair", "open_raster"]


def open(
    path: str | Path,
    after: str | Path | None = None,
    bands: Sequence[int | str] | None = None,
    **kwargs,
) -> RasterSource | RasterPair:
    """Open one raster, or a before/after pair put on one grid.

    Args:
        path: a raster file (the before image when ``after`` is given).
        after: the after image of a pair.
        bands: band numbers (1-based) or names (``red``, ``nir``...).
        **kwargs: passed to :func:`open_raster` or :func:`open_pair`.

    Example:
        >>> import terrasight
        >>> src = terrasight.open("scene.tif", bands=["red", "nir"])  # doctest: +SKIP
        >>> pair = terrasight.open("2019.tif", "2024.tif")            # doctest: +SKIP
        >>> pair.region, pair.band_names                               # doctest: +SKIP
    """
    if after is None:
        return open_raster(path, bands, **kwargs)
    return open_pair(path, after, bands, **kwargs)
