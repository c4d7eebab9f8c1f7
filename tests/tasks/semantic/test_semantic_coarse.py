"""Change classes of RGB pairs at ~10 m take water and vegetation from the coarse-cover rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage

import terrasight
from terrasight.tasks.semantic import classify_changes


def _write(path: Path, data: np.ndarray, pixel: float) -> Path:
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=3,
                   dtype="uint8", crs="EPSG:32633",
                   transform=from_origin(500000, 5000000, pixel, pixel))  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


def _pair(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rennes (held out from the coarse network's training) as 8-bit RGB, and the same with
    a 40 x 40 px block of vegetation ploughed: replaced by the scene's own bare ground."""
    from terrasight.training.landcover_coarse import index_labels
    from terrasight.training.oscd import load_city

    folder = shared / "change" / "oscd" / "rennes"
    if not folder.is_dir():
        pytest.skip(f"no OSCD city at {folder}")
    x = load_city(folder, ("B02", "B03", "B04", "B08", "B11")).before
    labels = index_labels(x)
    rgb = x[[2, 1, 0]]
    lo, hi = np.percentile(rgb, [1, 99])
    before = (np.clip((rgb - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    green = ndimage.uniform_filter((labels == 2).astype(float), 40)
    r, c = np.unravel_index(np.argmax(green[20:-20, 20:-20]), green[20:-20, 20:-20].shape)
    r, c = r, c  # top-left corner of the greenest 40 x 40 block
    bare = before[:, labels == 0]
    after = before.copy()
    after[:, r : r + 40, c : c + 40] = np.median(bare, axis=1).astype(np.uint8)[:, None, None]
    return before, after


def test_ten_metre_rgb_pairs_use_the_coarse_rules(shared_data: Path, tmp_path: Path) -> None:
    before, after = _pair(shared_data)
    found = {}
    for pixel in (10.0, 0.5):
        folder = tmp_path / f"p{pixel}"
        folder.mkdir()
        b = _write(folder / "before.tif", before, pixel)
        a = _write(folder / "after.tif", after, pixel)
        result = terrasight.detect_changes(b, a, method="cva", outdir=folder / "o")
        assert result.changed_pixels >= 1000  # the ploughed block
        classified = classify_changes(result)
        table = json.loads((folder / "o" / "change_classes.json").read_text())
        found[pixel] = (table["notes"], table)
    ten_notes, ten_table = found[10.0]
    assert any("coarse-cover" in w for w in ten_notes)  # said in change_classes.json
    assert not any("coarse-cover" in w for w in found[0.5][0])
    assert not any("coarse-cover" in w for w in classified.warnings)  # a detail, not a warning
    top = ten_table["transitions"][0]
    assert top["from"] == "vegetation"  # the field was green before it was ploughed
