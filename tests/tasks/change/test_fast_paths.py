"""The faster paths give the same numbers as the plain ones they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from rasterio.warp import transform
from shapely.affinity import affine_transform

from terrasight.io.vectors import COORDINATE_DECIMALS, bounds_to_lonlat
from terrasight.tasks.change.methods.cva import (
    DENSE_SHARE,
    FittedCVA,
    _min_distance_at,
    min_distance,
)
from terrasight.tasks.change.objects.trace import Scene, _polygons, to_image_crs


def _fitted(tolerance: int) -> FittedCVA:
    return FittedCVA((100.0, 90.0, 80.0), (30.0, 25.0, 20.0), (105.0, 95.0, 85.0),
                     (28.0, 24.0, 21.0), 2.0, 0.4, tolerance)  # fmt: skip


def _standardised(fitted: FittedCVA, before, after):
    col = lambda v: np.asarray(v, np.float32).reshape(-1, 1, 1)  # noqa: E731
    b = (before - col(fitted.mean_before)) / col(fitted.std_before)
    return b, (after - col(fitted.mean_after)) / col(fitted.std_after)


def _sparse_magnitude(fitted: FittedCVA, before, after, cutoff: float) -> np.ndarray:
    """The tolerance computed pixel by pixel at the candidates (the gather path)."""
    b, a = _standardised(fitted, before, after)
    mag = min_distance(b, a, 0)
    rows, cols = np.nonzero(mag >= cutoff)
    mag[rows, cols] = _min_distance_at(b, a, rows, cols, fitted.tolerance)
    return mag


@pytest.mark.parametrize("tolerance", [1, 2])
@pytest.mark.parametrize("cutoff", [0.3, 1.5, 6.0])
def test_cva_tolerance_whole_window_equals_per_pixel(tolerance: int, cutoff: float) -> None:
    rng = np.random.default_rng(tolerance)
    before = rng.normal(100, 30, (3, 96, 80)).astype(np.float32)
    after = before + rng.normal(5, 20, before.shape).astype(np.float32)
    after[:, 10:18, 20:30] += 120  # a change, near which the tolerance matters
    fitted = _fitted(tolerance)
    got = fitted.magnitude(before, after, cutoff)
    want = _sparse_magnitude(fitted, before, after, cutoff)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))  # bit for bit
    near = float((min_distance(*_standardised(fitted, before, after), 0) >= cutoff).mean())
    assert (near > DENSE_SHARE) == (cutoff < 6.0)  # both paths are taken


def test_to_image_crs_is_shapelys_affine_transform() -> None:
    scene = Scene(None, (1.5, 0.0, 435730.0, 0.0, -1.5, 4179460.0), 100, 100, 2.25, "m2", 8, 64)
    geoms = np.array(
        [
            shapely.box(3, 4, 9, 12),
            shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 3)]),
            shapely.Polygon([(0, 0), (7, 0), (7, 7), (0, 7)], [[(2, 2), (3, 2), (3, 3), (2, 2)]]),
        ]
    )
    t = scene.affine
    want = [affine_transform(g, [t.a, t.b, t.d, t.e, t.c, t.f]) for g in geoms]
    got = to_image_crs(geoms, scene)
    for g, w in zip(got, want, strict=True):
        assert shapely.to_wkb(g) == shapely.to_wkb(w)


def test_polygons_from_rings_are_shapelys_polygons() -> None:
    shell = [(0.0, 0.0), (0.0, 5.0), (5.0, 5.0), (5.0, 0.0), (0.0, 0.0)]
    hole = [(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 2.0), (1.0, 1.0)]
    other = [(7.0, 7.0), (7.0, 8.0), (8.0, 8.0), (7.0, 7.0)]
    got = _polygons([shell, hole, other], [2, 1])
    want = [shapely.Polygon(shell, [hole]), shapely.Polygon(other)]
    assert [shapely.to_wkb(g) for g in got] == [shapely.to_wkb(w) for w in want]
    assert got[0].area == 24.0
    assert len(_polygons([], [])) == 0


def _bounds_loop(boxes, crs, n=9):
    """The per-box loop ``bounds_to_lonlat`` replaced."""
    steps = [i / (n - 1) for i in range(n)]
    outline = []
    for x0, y0, x1, y1 in boxes:
        for t in steps:
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            outline += [(x, y0), (x, y1), (x0, y), (x1, y)]
    xs, ys = zip(*outline, strict=True)
    lons, lats = transform(crs, "EPSG:4326", list(xs), list(ys))
    scale, out = 10**COORDINATE_DECIMALS, []
    for k in range(0, len(lons), 4 * n):
        lo, la = lons[k : k + 4 * n], lats[k : k + 4 * n]
        out.append(
            (
                math.floor(min(lo) * scale) / scale,
                math.floor(min(la) * scale) / scale,
                math.ceil(max(lo) * scale) / scale,
                math.ceil(max(la) * scale) / scale,
            )
        )
    return out


def test_bounds_to_lonlat_matches_box_by_box() -> None:
    rng = np.random.default_rng(3)
    x0, y0 = rng.uniform(4.0e5, 5.0e5, 50), rng.uniform(4.0e6, 5.0e6, 50)
    w, h = rng.uniform(1, 800, 50), rng.uniform(1, 800, 50)
    boxes = [tuple(map(float, b)) for b in zip(x0, y0, x0 + w, y0 + h, strict=True)]
    got = bounds_to_lonlat(boxes, "EPSG:32618")
    assert got == _bounds_loop(boxes, "EPSG:32618")
    assert all(type(v) is float for v in got[0])
    west, south, east, north = got[0]
    assert west < east and south < north
    assert bounds_to_lonlat(boxes[:1], None) == [None]
    assert bounds_to_lonlat([], "EPSG:32618") == []
