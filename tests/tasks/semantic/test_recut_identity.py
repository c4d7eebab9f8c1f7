"""The grouped recut (one burn, read and trace per group of objects) writes exactly what the
object-by-object recut wrote: same change_classes.tif, mask and change_objects.jsonl bytes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize, shapes
from rasterio.transform import from_origin
from rasterio.windows import Window

import terrasight
from terrasight.io.geojson import polygonal
from terrasight.tasks.change.names import STORE_NAME
from terrasight.tasks.change.objects.components import open_raster_quietly
from terrasight.tasks.change.objects.trace import Scene, draft_record, merge_pieces
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.change.store import ObjectsView
from terrasight.tasks.semantic import objects as mod
from terrasight.tasks.semantic.decide import as_codes, decide_classes, seen_building
from terrasight.tasks.semantic.groups import object_groups
from terrasight.tasks.semantic.objects import recut_objects
from terrasight.tasks.semantic.split import majority, pieces_of

SIZE = 640
FILES = ("change_classes.tif", "change_mask.tif", STORE_NAME)


def _reference_recut(
    result: ChangeResult, classes_path: Path, min_pixels: int, spacing: int, only: str | None,
    smooth: int, neck: float, together: bool, cut_seen: bool,
) -> tuple[ObjectsView, int, int]:  # fmt: skip
    """The recut as it was: every object burnt, read, split and traced on its own."""
    scene = mod._scene(result)
    store = Path(result.mask_path).with_name(STORE_NAME)
    drafts = mod._Drafts(store.with_name(store.name + ".drafts"))
    kept_pixels, dropped = 0, 0
    changes = mod._Rewrites()
    try:
        with (
            open_raster_quietly(result.mask_path, "r+" if only else "r") as mask_ds,
            open_raster_quietly(classes_path, "r+") as cls_ds,
            open_raster_quietly(result.probability_path, "r") as prob_ds,
        ):
            for parent, geometry in mod._objects_with_geometry(result):
                c0, r0, c1, r1 = (int(v) for v in parent.pixel_bbox)
                window = Window(c0, r0, c1 - c0, r1 - r0)
                inside = _burn(geometry, result.affine, window) & (
                    mask_ds.read(1, window=window) == 1
                )
                if not inside.any():
                    continue
                codes = cls_ds.read(window=window)
                prob = prob_ds.read(1, window=window)
                b, a = decide_classes(codes[0], codes[1], inside, smooth, together)
                seen = (
                    (
                        seen_building(codes[0], inside, smooth),
                        seen_building(codes[1], inside, smooth),
                    )
                    if cut_seen
                    else None
                )
                labels, n = pieces_of(b, a, inside, min_pixels, spacing, neck, seen)
                decided = np.stack([as_codes(b, codes[0]), as_codes(a, codes[1])])
                drop = np.zeros(inside.shape, bool)
                for piece, record, geom in _pieces(labels, n, decided, prob, (c0, r0), scene):
                    if only and only not in (record["from_class"], record["to_class"]):
                        drop |= labels == piece
                        dropped += 1
                        continue
                    record["parent_id"] = int(parent.id)
                    drafts.add(record, geom)
                    kept_pixels += int(record["pixels"])
                if drop.any():
                    mod._clear(mask_ds, cls_ds, window, drop)
                changes.add(inside & ~drop & (decided != codes).any(0), decided, (c0, r0))
            changes.write(cls_ds)
        view = drafts.write_sorted(store, result.crs)
    finally:
        drafts.discard()
    return view, kept_pixels, dropped


def _burn(geometry: Any, transform: Affine, window: Window) -> np.ndarray:
    local = transform * Affine.translation(window.col_off, window.row_off)
    shape = (int(window.height), int(window.width))
    return rasterize([(geometry, 1)], out_shape=shape, transform=local, dtype="uint8") == 1


def _pieces(
    labels: np.ndarray, n: int, codes: np.ndarray, prob: np.ndarray,
    origin: tuple[int, int], scene: Scene,
) -> Iterator[tuple[int, dict[str, Any], str]]:  # fmt: skip
    c0, r0 = origin
    parts: dict[int, list[Any]] = {}
    tile = Affine.translation(c0, r0)
    for geom, value in shapes(labels, mask=labels > 0, connectivity=4, transform=tile):
        parts.setdefault(int(value), []).append(polygonal(geom))
    grid = np.indices(labels.shape)
    rows, cols = grid[0], grid[1]
    for piece in range(1, n + 1):
        own = labels == piece
        if piece not in parts or not own.any():
            continue
        rr, cc = rows[own], cols[own]
        p = prob[own]
        finite = np.isfinite(p)
        stats = {
            "pixels": int(own.sum()),
            "col_sum": float(cc.sum() + c0 * own.sum()),
            "row_sum": float(rr.sum() + r0 * own.sum()),
            "col0": int(cc.min()) + c0,
            "row0": int(rr.min()) + r0,
            "col1": int(cc.max()) + c0 + 1,
            "row1": int(rr.max()) + r0 + 1,
            "prob_sum": float(p[finite].sum()),
            "prob_n": int(finite.sum()),
        }
        geom = merge_pieces(parts[piece], scene, one_tile=True)
        record = draft_record(stats, geom, scene)
        record["from_class"], record["from_share"] = majority(codes[0][own])
        record["to_class"], record["to_share"] = majority(codes[1][own])
        yield piece, record, shapely.to_geojson(geom)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChangeResult]:
    """A busy change result (hundreds of objects, small and large, over several 512 px
    cells) and a blocky change_classes.tif on its changed pixels."""
    root = tmp_path_factory.mktemp("busy")
    rng = np.random.default_rng(7)
    before = rng.integers(90, 110, (3, SIZE, SIZE)).astype(np.uint8)
    after = before.copy()
    for _ in range(90):
        r, c = rng.integers(0, SIZE - 40, 2)
        h, w = rng.integers(2, 40, 2)
        after[:, r : r + h, c : c + w] = 220
    profile = dict(driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8",
                   crs="EPSG:32633", transform=from_origin(500000, 5000000, 0.5, 0.5))  # fmt: skip
    for name, data in (("before.tif", before), ("after.tif", after)):
        with rasterio.open(root / name, "w", **profile) as ds:
            ds.write(data)
    out = root / "out"
    result = terrasight.detect_changes(
        root / "before.tif", root / "after.tif", method="cva", outdir=out, min_pixels=4
    )
    with rasterio.open(result.mask_path) as ds:
        mask, meta = ds.read(1), ds.profile
    blocks = rng.choice([0, 0, 1, 2, 3, 4, 5], size=(2, SIZE // 6 + 1, SIZE // 6 + 1))
    codes = blocks.repeat(6, 1).repeat(6, 2)[:, :SIZE, :SIZE].astype(np.uint8)
    codes[:, mask != 1] = 255
    meta.update(count=2, dtype="uint8", nodata=255, tiled=True, blockxsize=64, blockysize=64)
    with rasterio.open(out / "change_classes.tif", "w", **meta) as ds:
        ds.write(codes)
    return out, result


def _copy(busy: tuple[Path, ChangeResult], dest: Path) -> ChangeResult:
    out, result = busy
    shutil.copytree(out, dest)
    from dataclasses import replace

    return replace(
        result,
        mask_path=dest / Path(result.mask_path).name,
        probability_path=dest / Path(result.probability_path).name,
        objects=ObjectsView.open(dest / STORE_NAME),
    )


@pytest.mark.parametrize(
    "only, cut_seen, min_pixels", [(None, False, 40), ("building", True, 20), ("road", False, 1)]
)
def test_grouped_recut_writes_the_same_files_as_object_by_object(
    busy, tmp_path, only, cut_seen, min_pixels
):
    old = _copy(busy, tmp_path / "old")
    new = _copy(busy, tmp_path / "new")
    assert len(object_groups([mod._box(o) for o in old.objects])) > 1  # several groups
    count, sizes = len(old.objects), [o.pixels for o in old.objects]
    assert min(sizes) < min_pixels <= max(sizes) or min_pixels == 1
    args = (min_pixels, 3, only, 5, 2.0, True, cut_seen)
    view, kept, dropped = _reference_recut(old, tmp_path / "old" / "change_classes.tif", *args)
    recut = recut_objects(new, tmp_path / "new" / "change_classes.tif", *args)
    assert (len(recut.objects), recut.changed_pixels, recut.dropped) == (len(view), kept, dropped)
    assert len(view) + dropped > count  # objects were cut into several pieces
    for name in FILES:
        _assert_same_file(tmp_path / "new" / name, tmp_path / "old" / name)


def _assert_same_file(new: Path, old: Path) -> None:
    """Same bytes for the object store; for rasters the same pixels, profile and tags (the
    byte layout of a TIFF header may differ with GDAL settings left by other tests)."""
    if new.suffix != ".tif":
        assert new.read_bytes() == old.read_bytes()
        return
    with rasterio.open(new) as a, rasterio.open(old) as b:
        assert a.profile == b.profile
        assert a.tags() == b.tags() and a.tags(1) == b.tags(1)
        assert np.array_equal(a.read(), b.read())
