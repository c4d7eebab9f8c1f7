"""Objects of a land-cover map labelled window by window, in bounded memory.

Each window of the class raster is labelled on its own (4-connected patches of
one class); patches that meet across a window border are joined (union-find
over the border pixels), so the objects are those of the whole map whatever the
window size. The labels go to one disk-backed raster (``int32``, ids unique over
all classes), never to a whole-map array in memory; a building patch is split at
narrow necks on its own crop (see :func:`split_touching`), and patches smaller
than ``min_pixels`` are dropped after the split. Objects are numbered by class
code, then by the position of their first pixel (row by row).

Example:
    >>> c = np.full((6, 9), 1, np.uint8); c[1:3, 1:8] = 0
    >>> parts = [label_objects(c, np.ones(6), ("building", "bare"), 2, window=w) for w in (3, 64)]
    >>> [[(o.name, o.pixels) for o in p.objects] for p in parts][0] == [
    ...     [(o.name, o.pixels) for o in p.objects] for p in parts][1]
    True
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

WINDOW = 2048
"""Side (px) of the windows a land-cover map is labelled in."""
MAX_SPLIT_PIXELS = 16_000_000
"""A building patch whose box holds more pixels than this is not split at its necks (its
crop would not fit the memory bound); it stays one object."""


@dataclass(frozen=True)
class Labelled:
    """One object found: its class, id and statistics (pixel coordinates of the whole map)."""

    id: int
    name: str
    pixels: int
    area: float
    bbox: tuple[int, int, int, int]
    centroid: tuple[float, float]


@dataclass(frozen=True)
class Labelling:
    """All objects of a map and their label raster (0 where none; disk-backed)."""

    objects: tuple[Labelled, ...]
    labels: np.ndarray
    unsplit: int = 0


STAT_KEYS = ("code", "pixels", "area", "rsum", "csum", "r0", "c0", "r1", "c1", "first")
"""Per-label statistics: class code, pixels, area, sums of rows and columns (for the centre),
box (ends exclusive), first pixel (row-major linear index)."""


def label_objects(
    classes: np.ndarray,
    row_area: np.ndarray,
    names: Sequence[str],
    min_pixels: int = 4,
    *,
    skip: Sequence[str] = ("unknown",),
    split: Sequence[str] = ("building",),
    window: int = WINDOW,
) -> Labelling:
    """Label every object of ``classes`` window by window (see the module docstring).

    Args:
        classes: class code per pixel (may be disk-backed; read one window at a time).
        row_area: ground area of a pixel on each row.
        names: class name by code; codes beyond it (nodata) make no objects.
        min_pixels: objects with fewer pixels are dropped.
        skip: classes that make no objects.
        split: classes whose patches are split at narrow necks.
        window: the window side in pixels.
    """
    height, width = int(classes.shape[0]), int(classes.shape[1])
    prov = _disk_array((height, width))
    parts: list[dict[str, np.ndarray]] = []
    wanted = [c for c, n in enumerate(names) if n not in skip]
    offset = 0
    for r0 in range(0, height, window):
        for c0 in range(0, width, window):
            block = np.asarray(classes[r0 : r0 + window, c0 : c0 + window])
            out = np.zeros(block.shape, np.int32)
            for code in wanted:
                lab, n = ndimage.label(block == code)
                if n:
                    parts.append(_stats(lab, n, code, (r0, c0), width, row_area))
                    out[lab > 0] = lab[lab > 0] + offset
                    offset += n
            prov[r0 : r0 + block.shape[0], c0 : c0 + block.shape[1]] = out
    stats = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in STAT_KEYS}
    group = _join_borders(prov, stats["code"], window)
    merged = _merge(stats, group)
    return _finish(prov, group, merged, names, split, min_pixels, row_area)


def _disk_array(shape: tuple[int, int]) -> np.ndarray:
    """A zeroed ``int32`` raster backed by an unnamed temporary file (gone when released)."""
    handle = tempfile.TemporaryFile(prefix="terrasight-labels-")
    return np.memmap(handle, np.int32, "w+", shape=shape)


def _stats(
    lab: np.ndarray,
    n: int,
    code: int,
    origin: tuple[int, int],
    width: int,
    row_area: np.ndarray,
) -> dict[str, np.ndarray]:
    """The statistics (:data:`STAT_KEYS`) of labels 1..n of ``lab``, a crop at ``origin``."""
    r0, c0 = origin
    flat = lab.ravel()
    index = np.arange(1, n + 1)
    pixels = np.bincount(flat, minlength=n + 1)[1:].astype(np.int64)
    rows = np.broadcast_to(np.arange(lab.shape[0], dtype=np.float64)[:, None], lab.shape)
    cols = np.broadcast_to(np.arange(lab.shape[1], dtype=np.float64)[None, :], lab.shape)
    weights = np.broadcast_to(row_area[r0 : r0 + lab.shape[0], None], lab.shape)
    boxes = ndimage.find_objects(lab, max_label=n)
    values, first = np.unique(flat, return_index=True)
    first_of = np.zeros(n + 1, np.int64)
    first_of[values] = first
    fr, fc = np.divmod(first_of[1:], lab.shape[1])
    return {
        "code": np.full(n, code, np.int64),
        "pixels": pixels,
        "area": np.asarray(ndimage.sum_labels(weights, lab, index), np.float64),
        "rsum": np.asarray(ndimage.sum_labels(rows, lab, index)) + pixels * r0,
        "csum": np.asarray(ndimage.sum_labels(cols, lab, index)) + pixels * c0,
        "r0": np.array([b[0].start + r0 for b in boxes], np.int64),
        "c0": np.array([b[1].start + c0 for b in boxes], np.int64),
        "r1": np.array([b[0].stop + r0 for b in boxes], np.int64),
        "c1": np.array([b[1].stop + c0 for b in boxes], np.int64),
        "first": (fr + r0) * width + fc + c0,
    }


def _join_borders(prov: np.ndarray, codes: np.ndarray, window: int) -> np.ndarray:
    """The group (0-based, in order of first label) of each provisional label 1..n: labels of
    one class meeting across a window border are one group."""
    n = len(codes)
    parent = np.arange(n + 1, dtype=np.int64)
    height, width = prov.shape
    pairs = [
        (np.asarray(prov[:, c - 1]), np.asarray(prov[:, c])) for c in range(window, width, window)
    ] + [
        (np.asarray(prov[r - 1, :]), np.asarray(prov[r, :])) for r in range(window, height, window)
    ]
    for a, b in pairs:
        both = (a > 0) & (b > 0)
        a, b = a[both].astype(np.int64), b[both].astype(np.int64)
        same = codes[a - 1] == codes[b - 1]
        for x, y in set(zip(a[same].tolist(), b[same].tolist(), strict=True)):
            rx, ry = _find(parent, x), _find(parent, y)
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    _, group = np.unique(parent[1:], return_inverse=True)
    return group.astype(np.int64)


def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = int(parent[x])
    return x


def _merge(stats: dict[str, np.ndarray], group: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics of each group, from those of its provisional labels."""
    g = int(group.max()) + 1 if len(group) else 0
    out: dict[str, np.ndarray] = {}
    for k in ("pixels", "area", "rsum", "csum"):
        out[k] = np.bincount(group, weights=stats[k], minlength=g)
    out["pixels"] = out["pixels"].astype(np.int64)
    for k, fn, start in (("r0", np.minimum, np.iinfo(np.int64).max), ("c0", np.minimum, np.iinfo(np.int64).max),
                         ("first", np.minimum, np.iinfo(np.int64).max), ("r1", np.maximum, 0),
                         ("c1", np.maximum, 0)):  # fmt: skip
        out[k] = np.full(g, start, np.int64)
        fn.at(out[k], group, stats[k])
    out["code"] = np.zeros(g, np.int64)
    out["code"][group] = stats["code"]
    return out


def _finish(
    prov: np.ndarray,
    group: np.ndarray,
    merged: dict[str, np.ndarray],
    names: Sequence[str],
    split: Sequence[str],
    min_pixels: int,
    row_area: np.ndarray,
) -> Labelling:
    """Split the groups of ``split`` classes at their necks, drop the small, number the rest
    and write their ids over ``prov`` (window by window)."""
    width = prov.shape[1]
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(merged["code"]) + 1))
    rows: list[dict[str, np.ndarray]] = [
        {**{k: v for k, v in merged.items()}, "src": np.arange(len(merged["code"]))}
    ]
    crops: dict[int, np.ndarray] = {}
    unsplit = 0
    for g in np.flatnonzero(np.isin(merged["code"], [names.index(s) for s in split if s in names])):
        r0, c0, r1, c1 = (int(merged[k][g]) for k in ("r0", "c0", "r1", "c1"))
        if (r1 - r0) * (c1 - c0) > MAX_SPLIT_PIXELS:
            unsplit += 1
            continue
        members = order[bounds[g] : bounds[g + 1]] + 1
        mask = np.isin(np.asarray(prov[r0:r1, c0:c1]), members)
        lab, m = split_touching(np.pad(mask, 1))
        if m <= 1:
            continue
        lab = lab[1:-1, 1:-1].astype(np.int32)
        crops[int(g)] = lab
        part = _stats(lab, m, int(merged["code"][g]), (r0, c0), width, row_area)
        rows.append({**part, "src": np.full(m, -1 - g)})
    table = {k: np.concatenate([r[k] for r in rows]) for k in (*STAT_KEYS, "src")}
    keep = (table["pixels"] >= max(min_pixels, 1)) & ~np.isin(table["src"], list(crops))
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((table["first"][idx], table["code"][idx]))]
    ids = np.zeros(len(table["code"]), np.int64)
    ids[idx] = np.arange(1, len(idx) + 1)
    lut = np.zeros(len(group) + 1, np.int32)
    lut[1:] = ids[group]  # the rows of unsplit groups come first, in group order
    for r in range(0, prov.shape[0], 1024):
        prov[r : r + 1024] = lut[np.asarray(prov[r : r + 1024])]
    start = len(merged["code"])
    for key, lab in crops.items():
        r0, c0 = int(merged["r0"][key]), int(merged["c0"][key])
        m = int(lab.max())
        part_ids = ids[start : start + m]
        start += m
        view = prov[r0 : r0 + lab.shape[0], c0 : c0 + lab.shape[1]]
        inside = lab > 0
        view[inside] = part_ids[lab[inside] - 1]
    objects = tuple(
        Labelled(
            id=int(ids[k]),
            name=names[int(table["code"][k])],
            pixels=int(table["pixels"][k]),
            area=float(table["area"][k]),
            bbox=tuple(int(table[c][k]) for c in ("r0", "c0", "r1", "c1")),  # type: ignore[arg-type]
            centroid=(
                float(table["rsum"][k] / table["pixels"][k]),
                float(table["csum"][k] / table["pixels"][k]),
            ),
        )
        for k in idx
    )
    return Labelling(objects, prov, unsplit)


def split_touching(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label a mask's patches, splitting patches that join through a narrow neck.

    Every part whose distance to the edge reaches half of its patch's largest distance
    is a core; each pixel goes to its nearest core of the same patch.

    Returns:
        The label raster (0 outside the mask) and the number of labels.

    Example:
        >>> mask = np.zeros((9, 20), bool); mask[1:8, 1:8] = True; mask[1:8, 12:19] = True
        >>> mask[4, 8:12] = True   # a one-pixel neck joins two squares
        >>> split_touching(mask)[1]
        2
    """
    lab, n = ndimage.label(mask)
    if n == 0:
        return lab, 0
    dist = ndimage.distance_transform_edt(mask)
    dmax = np.zeros(n + 1)
    np.maximum.at(dmax, lab[mask], dist[mask])
    thr = np.where(dmax >= 3, dmax / 2, 0.0)
    thr[0] = np.inf
    thr = thr[lab]
    cores, m = ndimage.label(mask & (dist >= thr))
    if m == n:
        return lab, n
    _, (rows, cols) = ndimage.distance_transform_edt(cores == 0, return_indices=True)
    out = np.where(mask, cores[rows, cols], 0).astype(np.int64)
    return out, m
