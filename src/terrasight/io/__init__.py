"""Rasters in and out: reading, pairing, tiling, vectors and cloud masks."""

from terrasight.io.pair import RasterPair, open_pair
from terrasight.io.raster import RasterSource, open_raster
from terrasight.io.tiling import Tile, TileGrid

__all__ = ["RasterPair", "RasterSource", "Tile", "TileGrid", "open_pair", "open_raster"]
