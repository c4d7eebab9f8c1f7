"""Connected components of a change mask far larger than memory, labelled tile by tile.

Each tile is labelled on its own with :func:`scipy.ndimage.label`; its labels get
a global offset so they are unique in the scene. Labels that touch across a tile
border are merged with a :class:`UnionFind`. Tiles are visited row by row, so
only one row of labels (the bottom row of the previous tile row) and one column
(the right column of the left neighbour) are kept between tiles: memory stays
bounded by the tile size and the scene width, plus a few numbers per component.

Labelling is deterministic, so a later pass re-labels a tile with
:func:`global_labels` and the same offset instead of keeping every label on disk.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning as _RioNotGeoreferenced
from rasterio.windows import Window
from scipy import ndimage

from terrasight.errors import InvalidRasterError
from terrasight.io.tiling import TileGrid

STATS = ("pixels", "prob_sum", "prob_n", "col_sum", "row_sum", "col0", "row0", "col1", "row1")
"""Per-component accumulators: pixel count, probability sum and count of finite
probabilities, sums of column and row indices, and the exclusive pixel bbox."""


@contextmanager
def open_raster_quietly(path: Path, mode: str = "r") -> Iterator[rasterio.io.DatasetBase]:
    """Open a raster without rasterio's warning for files in pixel space (terrasight warns once).

    Example:
        >>> with open_raster_quietly(Path("change_mask.tif"), "r+") as ds:  # doctest: +SKIP
        ...     ds.write(tile, 1, window=window)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _RioNotGeoreferenced)
        ds = rasterio.open(path, mode)
    with ds:
        yield ds


def structure(connectivity: int) -> np.ndarray:
    """The :func:`scipy.ndimage.label` structuring element for 4- or 8-connectivity.

    Example:
        >>> int(structure(8).sum()), int(structure(4).sum())
        (9, 5)
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    return ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)


def label_tile(tile_mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """Labels ``1 .. n`` of the changed pixels (``== 1``) of one tile, 0 elsewhere, and ``n``.

    Example:
        >>> labels, n = label_tile(np.array([[1, 0, 1], [0, 1, 255]], dtype=np.uint8), 8)
        >>> labels.tolist(), n
        ([[1, 0, 1], [0, 1, 0]], 1)
    """
    labels, n = ndimage.label(tile_mask == 1, structure=structure(connectivity))
    return labels, int(n)


def global_labels(tile_mask: np.ndarray, offset: int, connectivity: int = 8) -> np.ndarray:
    """Labels of one tile shifted by ``offset`` into the scene's label space (int64).

    Example:
        >>> global_labels(np.array([[1, 0, 1]], dtype=np.uint8), 10, 4).tolist()
        [[11, 0, 12]]
    """
    return _shift(label_tile(tile_mask, connectivity)[0], offset)


def _shift(labels: np.ndarray, offset: int) -> np.ndarray:
    return np.where(labels > 0, labels.astype(np.int64) + offset, 0)


def touching_pairs(a: np.ndarray, b: np.ndarray, diagonal: bool) -> np.ndarray:
    """Unique label pairs ``(a[i], b[j])`` that touch across a border, both non-zero.

    ``a`` and ``b`` are the two 1-D rows of pixels on either side of a border,
    aligned so ``a[i]`` faces ``b[i]``; with ``diagonal`` ``a[i]`` also touches
    ``b[i - 1]`` and ``b[i + 1]``.

    Example:
        >>> touching_pairs(np.array([0, 5, 0]), np.array([0, 0, 7]), True).tolist()
        [[5, 7]]
    """
    shifts = (-1, 0, 1) if diagonal else (0,)
    n = min(a.size, b.size)
    found = []
    for s in shifts:
        lo, hi = max(0, -s), min(n, n - s)
        pa, pb = a[lo:hi], b[lo + s : hi + s]
        keep = (pa > 0) & (pb > 0)
        found.append(np.stack([pa[keep], pb[keep]], axis=1))
    pairs = np.concatenate(found) if found else np.empty((0, 2), np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


class UnionFind:
    """Disjoint sets of integer labels; only labels ever merged are stored.

    The smallest label of a set is its root, so results do not depend on the
    order of the unions.

    Example:
        >>> uf = UnionFind()
        >>> uf.union(3, 7); uf.union(7, 9)
        >>> uf.find(9), uf.roots(10).tolist()
        (3, [0, 1, 2, 3, 4, 5, 6, 3, 8, 3])
    """

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        """The root of ``x``'s set (with path halving)."""
        parent = self.parent
        while parent.get(x, x) != x:
            p = parent[x]
            parent[x] = parent.get(p, p)
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        """Merge the sets of ``a`` and ``b``."""
        ra, rb = self.find(int(a)), self.find(int(b))
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo
            self.parent.setdefault(lo, lo)

    def union_pairs(self, pairs: np.ndarray) -> None:
        """Merge every ``(a, b)`` row of a ``(k, 2)`` array."""
        for a, b in pairs.tolist():
            self.union(a, b)

    def roots(self, n: int) -> np.ndarray:
        """Root of every label ``0 .. n - 1`` as an int64 array."""
        out = np.arange(n, dtype=np.int64)
        for x in self.parent:
            out[x] = self.find(x)
        return out


@dataclass(frozen=True)
class Components:
    """Connected components of a scene, merged across tiles.

    Attributes:
        grid: the tiles the scene was labelled with.
        connectivity: 4 or 8.
        offsets: label offset of every tile (labels of tile ``i`` are
            ``offsets[i] + 1 .. offsets[i + 1]``); length ``len(grid) + 1``.
        roots: for every global label (index 0 is background) its component id,
            which is the smallest label of the component.
        stats: accumulators (see :data:`STATS`) indexed by component id; rows of
            labels that are not a component id hold zero pixels.
    """

    grid: TileGrid
    connectivity: int
    offsets: np.ndarray
    roots: np.ndarray
    stats: dict[str, np.ndarray]

    @property
    def ids(self) -> np.ndarray:
        """Component ids (labels that are roots and hold pixels), ascending."""
        return np.flatnonzero(self.stats["pixels"] > 0)


def label_components(
    mask_path: Path, probability_path: Path, tile_size: int = 2048, connectivity: int = 8
) -> Components:
    """Label ``mask == 1`` of a mask file tile by tile and merge labels across tile borders.

    Args:
        mask_path: single-band uint8 mask (1 changed, 0 unchanged, 255 no data).
        probability_path: float32 probability raster on the same grid (NaN no data).
        tile_size: side of the non-overlapping tiles read at a time.
        connectivity: 8 (diagonal neighbours join) or 4.

    Example:
        >>> comps = label_components(Path("mask.tif"), Path("prob.tif"), 512)  # doctest: +SKIP
        >>> len(comps.ids)  # doctest: +SKIP
    """
    structure(connectivity)
    with open_raster_quietly(mask_path) as mask, open_raster_quietly(probability_path) as prob:
        _check_same_grid(mask, prob)
        grid = TileGrid(Window(0, 0, mask.width, mask.height), tile_size, 0)
        offsets, parts, uf = _label_pass(mask, prob, grid, connectivity)
    n = int(offsets[-1]) + 1
    roots = uf.roots(n)
    return Components(grid, connectivity, offsets, roots, _aggregate(parts, roots, n))


def _check_same_grid(mask: rasterio.io.DatasetReader, prob: rasterio.io.DatasetReader) -> None:
    if (mask.width, mask.height) != (prob.width, prob.height):
        raise InvalidRasterError(
            f"{prob.name} is {prob.width}x{prob.height} pixels but the mask {mask.name} is "
            f"{mask.width}x{mask.height}; write both on the same grid"
        )


def _label_pass(mask, prob, grid: TileGrid, connectivity: int):
    """First pass: label every tile, collect per-label stats and border merges."""
    width, cols = int(grid.region.width), grid.shape[1]
    bottom = {"prev": np.zeros(width, np.int64), "next": np.zeros(width, np.int64)}
    left_col = np.zeros(0, np.int64)
    offsets, parts, uf = [0], [], UnionFind()
    for tile in grid:
        w, offset = tile.core, offsets[-1]
        labels, n = label_tile(mask.read(1, window=w), connectivity)
        offsets.append(offset + n)
        x0, y0 = int(w.col_off), int(w.row_off)
        parts.append(_tile_stats(labels, n, _read_probability(prob, w), x0, y0))
        top, left = _shift(labels[0], offset), _shift(labels[:, 0], offset)
        if y0 > 0:
            uf.union_pairs(_top_pairs(bottom["prev"], top, x0, connectivity == 8))
        if x0 > 0:
            uf.union_pairs(touching_pairs(left_col, left, connectivity == 8))
        bottom["next"][x0 : x0 + labels.shape[1]] = _shift(labels[-1], offset)
        left_col = _shift(labels[:, -1], offset)
        if tile.index % cols == cols - 1:
            bottom["prev"], bottom["next"] = bottom["next"], bottom["prev"]
    return np.asarray(offsets, np.int64), parts, uf


def _top_pairs(prev_bottom: np.ndarray, top: np.ndarray, x0: int, diagonal: bool) -> np.ndarray:
    """Pairs across a tile's top border; the row above spans the scene, so corners count."""
    lo, hi = max(0, x0 - 1), min(prev_bottom.size, x0 + top.size + 1)
    row = np.zeros(hi - lo, np.int64)
    row[x0 - lo : x0 - lo + top.size] = top
    return touching_pairs(prev_bottom[lo:hi], row, diagonal)


def _read_probability(prob: rasterio.io.DatasetReader, window: Window) -> np.ndarray:
    """Probability of a window as float32 with NaN where it has no data."""
    values = prob.read(1, window=window, out_dtype="float32")
    nodata = prob.nodata
    if nodata is not None and not np.isnan(nodata):
        values[values == nodata] = np.nan
    return values


def _tile_stats(
    labels: np.ndarray, n: int, prob: np.ndarray, col_off: int, row_off: int
) -> dict[str, np.ndarray]:
    """Accumulators (see :data:`STATS`) of the local labels ``1 .. n`` of one tile."""
    flat = np.flatnonzero(labels)
    lab = labels.ravel()[flat]
    rows, cols = np.divmod(flat, labels.shape[1])
    p = prob.ravel()[flat]
    finite = np.isfinite(p)
    size = n + 1
    out = {
        "pixels": np.bincount(lab, minlength=size),
        "prob_sum": np.bincount(lab[finite], weights=p[finite], minlength=size),
        "prob_n": np.bincount(lab[finite], minlength=size),
        "col_sum": np.bincount(lab, weights=cols + col_off, minlength=size),
        "row_sum": np.bincount(lab, weights=rows + row_off, minlength=size),
    }
    out.update(_tile_bboxes(labels, n, col_off, row_off))
    return {k: v[1:] for k, v in out.items()}


def _tile_bboxes(labels: np.ndarray, n: int, col_off: int, row_off: int) -> dict[str, np.ndarray]:
    """Exclusive scene pixel bbox of the local labels ``1 .. n`` (index 0 unused)."""
    bb = np.zeros((n + 1, 4), np.int64)
    for i, sl in enumerate(ndimage.find_objects(labels, max_label=n), start=1):
        if sl is not None:
            bb[i] = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
    bb += (col_off, row_off, col_off, row_off)
    return {"col0": bb[:, 0], "row0": bb[:, 1], "col1": bb[:, 2], "row1": bb[:, 3]}


_SUMS = ("pixels", "prob_sum", "prob_n", "col_sum", "row_sum")
_BBOX = (("col0", np.minimum), ("row0", np.minimum), ("col1", np.maximum), ("row1", np.maximum))


def _aggregate(
    parts: list[dict[str, np.ndarray]], roots: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """Sum (or min/max for the bbox) per-label accumulators onto their component ids."""
    per_label = {k: np.concatenate([np.zeros(1), *(p[k] for p in parts)]) for k in STATS}
    out = {k: np.bincount(roots, weights=per_label[k], minlength=n) for k in _SUMS}
    out["pixels"] = out["pixels"].astype(np.int64)
    out["prob_n"] = out["prob_n"].astype(np.int64)
    big = np.iinfo(np.int64).max
    for k, fn in _BBOX:
        acc = np.full(n, big if fn is np.minimum else 0, np.int64)
        fn.at(acc, roots[1:], per_label[k][1:].astype(np.int64))
        out[k] = acc
    return out
