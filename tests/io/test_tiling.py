import numpy as np
import pytest
from rasterio.windows import Window

from terrasight.io.tiling import TileGrid


@pytest.mark.parametrize("size,overlap", [(16, 0), (16, 5), (7, 3), (64, 10)])
def test_cores_cover_region_exactly_once(size, overlap):
    region = Window(3, 5, 50, 37)
    grid = TileGrid(region, size, overlap)
    hits = np.zeros((37, 50), dtype=int)
    for tile in grid:
        c = tile.relative_core(region)
        hits[c.row_off : c.row_off + c.height, c.col_off : c.col_off + c.width] += 1
        # the read window contains the core and stays inside the region
        assert tile.read.col_off <= tile.core.col_off
        assert tile.read.row_off <= tile.core.row_off
        assert tile.read.col_off + tile.read.width >= tile.core.col_off + tile.core.width
        assert tile.read.col_off >= region.col_off
        assert tile.read.row_off + tile.read.height <= region.row_off + region.height
    assert (hits == 1).all()


def test_core_slices_cut_the_core_out_of_the_read_array():
    region = Window(0, 0, 40, 40)
    full = np.arange(1600).reshape(40, 40)
    out = np.full_like(full, -1)
    for tile in TileGrid(region, 16, 6):
        r, c = tile.read, tile.core
        block = full[r.row_off : r.row_off + r.height, r.col_off : r.col_off + r.width]
        out[c.row_off : c.row_off + c.height, c.col_off : c.col_off + c.width] = block[
            tile.core_slices
        ]
    assert (out == full).all()


def test_sample_spreads_and_caps():
    grid = TileGrid(Window(0, 0, 1000, 1000), 10)
    picked = grid.sample(20)
    assert 10 <= len(picked) <= 20
    rows = {t.core.row_off for t in picked}
    assert max(rows) - min(rows) > 500  # spread over the scene, not clustered
    assert len(TileGrid(Window(0, 0, 20, 20), 10).sample(20)) == 4


def test_bad_grid_arguments():
    with pytest.raises(ValueError):
        TileGrid(Window(0, 0, 10, 10), 0)
