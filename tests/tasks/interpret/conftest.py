"""A pair with planted changes of known place, size and shape, and its change result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin

from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.result import ChangeResult

PLANTED = {
    "square": (slice(10, 40), slice(10, 40)),  # 900 px = 90,000 m2, north-west, compact
    "strip": (slice(130, 134), slice(40, 110)),  # 280 px, south, elongated
    "small": (slice(70, 78), slice(130, 138)),  # 64 px, east, compact
}
"""Planted changes: rows and columns in a 150 x 150 grid of 10 m pixels."""


@pytest.fixture
def planted_scene(make_raster: Callable[..., Path]) -> tuple[Path, Path]:
    """A textured 3-band uint8 pair with the :data:`PLANTED` changes (bright in after)."""
    rng = np.random.default_rng(7)
    base = rng.normal(90, 10, size=(3, 150, 150)).clip(0, 255)
    after = (base + rng.normal(0, 2, size=base.shape)).clip(0, 255)
    for rows, cols in PLANTED.values():
        after[:, rows, cols] = 235
    transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
    b = make_raster("before.tif", base.astype(np.uint8), transform=transform)
    a = make_raster("after.tif", after.astype(np.uint8), transform=transform)
    return b, a


@pytest.fixture
def planted_result(planted_scene: tuple[Path, Path], tmp_path: Path) -> ChangeResult:
    """The cva change result of the planted pair, saved in ``tmp_path / "out"``."""
    b, a = planted_scene
    result = detect_changes(b, a, method="cva", outdir=tmp_path / "out")
    result.save(tmp_path / "out", report=False, facts=False)
    return result
