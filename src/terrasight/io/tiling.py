"""A grid of overlapping windows over a region, and how to stitch their results.

The grid yields windows (queries), not data: reading stays with the caller.
Each tile has a *read* window (core plus ``overlap`` pixels of context on every
side, clipped to the region) and a *core* window; results of the core windows
tile the region exactly once, so stitching is seam-free and never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window


@dataclass(frozen=True)
class Tile:
    """One tile: its index, the window to read and the core window it owns."""

    index: int
    read: Window
    core: Window

    @property
    def core_slices(self) -> tuple[slice, slice]:
        """Slices that cut the core out of an array read with :attr:`read`."""
        r0 = int(self.core.row_off - self.read.row_off)
        c0 = int(self.core.col_off - self.read.col_off)
        return (slice(r0, r0 + int(self.core.height)), slice(c0, c0 + int(self.core.width)))

    def relative_core(self, region: Window) -> Window:
        """The core window relative to ``region``'s origin (for output files of the region)."""
        return Window(
            int(self.core.col_off - region.col_off),
            int(self.core.row_off - region.row_off),
            int(self.core.width),
            int(self.core.height),
        )


@dataclass(frozen=True)
class TileGrid:
    """Tiles of ``size`` x ``size`` pixels with ``overlap`` pixels of context over ``region``.

    Example:
        >>> grid = TileGrid(Window(0, 0, 1000, 600), size=512, overlap=16)
        >>> len(grid), grid[0].core
        (4, Window(col_off=0, row_off=0, width=512, height=512))
    """

    region: Window
    size: int = 1024
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.size < 1 or self.overlap < 0:
            raise ValueError(
                f"tile size must be >= 1 and overlap >= 0, got {self.size}, {self.overlap}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """Number of tile rows and columns."""
        h, w = int(self.region.height), int(self.region.width)
        return (-(-h // self.size), -(-w // self.size))

    def __len__(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def __getitem__(self, index: int) -> Tile:
        rows, cols = self.shape
        if not 0 <= index < rows * cols:
            raise IndexError(index)
        r, c = divmod(index, cols)
        x0, y0 = int(self.region.col_off), int(self.region.row_off)
        x1, y1 = x0 + int(self.region.width), y0 + int(self.region.height)
        cx, cy = x0 + c * self.size, y0 + r * self.size
        cw, ch = min(self.size, x1 - cx), min(self.size, y1 - cy)
        rx, ry = max(x0, cx - self.overlap), max(y0, cy - self.overlap)
        rw = min(x1, cx + cw + self.overlap) - rx
        rh = min(y1, cy + ch + self.overlap) - ry
        return Tile(index, Window(rx, ry, rw, rh), Window(cx, cy, cw, ch))

    def __iter__(self) -> Iterator[Tile]:
        return (self[i] for i in range(len(self)))

    def sample(self, max_tiles: int, seed: int = 0) -> list[Tile]:
        """Up to ``max_tiles`` tiles spread evenly over the grid (all of them when it is small)."""
        n = len(self)
        if n <= max_tiles:
            return list(self)
        idx = np.linspace(0, n - 1, max_tiles).round().astype(int)
        rng = np.random.default_rng(seed)
        jitter = rng.integers(-1, 2, size=idx.size)
        idx = np.unique(np.clip(idx + jitter, 0, n - 1))
        return [self[int(i)] for i in idx]
