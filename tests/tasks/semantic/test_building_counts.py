"""New and removed buildings counted one by one on small planted scenes (GeoTIFFs with a CRS).

The shipped land-cover network does not know flat synthetic blocks, so these tests give
``classify_changes`` a tiny network of their own: class probabilities from the distance
of each pixel's colour to one colour per class (roofs red, roads grey, water blue,
vegetation green, bare land sand).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.semantic import classify_changes
from terrasight.tasks.semantic.split import split_pieces

PALETTE = np.array(
    [(200, 50, 45), (128, 128, 128), (40, 90, 200), (40, 150, 50), (215, 190, 135)], np.float32
)
"""Colour of each class, in the land-cover order: building, road, water, vegetation, bare."""
ROOF, ROAD, LAWN, SAND = PALETTE[0], PALETTE[1], PALETTE[3], PALETTE[4]
SIDE = 192


class ColourNetwork:
    """A land-cover "network" with the interface of the shipped one: softmax of the negative
    colour distance to each class colour."""

    classes = ("building", "road", "water", "vegetation", "bare")
    threshold = 0.5
    entry: dict = {}

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        x = np.asarray(rgb, np.float32)
        d = np.sqrt(((x[None] - PALETTE[:, :, None, None]) ** 2).sum(1))
        e = np.exp(-(d - d.min(0)) / 12.0)
        return (e / e.sum(0)).astype(np.float32)


def _scene(blocks: list[tuple[int, int, int, np.ndarray]], seed: int) -> np.ndarray:
    """A ``(3, SIDE, SIDE)`` uint8 sand image with square ``(row, col, side, colour)`` blocks
    and a little noise."""
    rng = np.random.default_rng(seed)
    img = np.empty((3, SIDE, SIDE), np.float32)
    img[:] = SAND[:, None, None]
    for row, col, side, colour in blocks:
        img[:, row : row + side, col : col + side] = colour[:, None, None]
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _write(path: Path, data: np.ndarray) -> Path:
    profile = {
        "driver": "GTiff",
        "count": 3,
        "dtype": "uint8",
        "height": SIDE,
        "width": SIDE,
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4600000, 1.0, 1.0),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


STAYING = [(150, 150, 20, ROOF)]
"""A building on both dates (not a change)."""
OLD = [(10, 10, 18, ROOF), (10, 150, 18, ROOF)]
"""Buildings of the before date only (removed)."""
NEW = [(60, 20, 16, ROOF), (60, 70, 16, ROOF), (60, 120, 16, ROOF), (110, 20, 20, ROOF)]
"""Buildings of the after date only (built)."""
LAWN_TO_ROAD = (120, 90, 30, LAWN), (120, 90, 30, ROAD)
"""A change that is not a building on either date."""


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("planted")
    before = _write(folder / "before.tif", _scene([*STAYING, *OLD, LAWN_TO_ROAD[0]], 1))
    after = _write(folder / "after.tif", _scene([*STAYING, *NEW, LAWN_TO_ROAD[1]], 2))
    result = detect_changes(before, after, "cva", outdir=folder / "out", min_pixels=10)
    return classify_changes(result, network=ColourNetwork())  # type: ignore[arg-type]


def test_each_new_building_is_counted_once(counted):
    new = [o for o in counted.objects if o.to_class == "building" and o.from_class != "building"]
    assert len(new) == len(NEW)
    assert {o.from_class for o in new} == {"bare"}


def test_each_removed_building_is_counted_once(counted):
    gone = [o for o in counted.objects if o.from_class == "building" and o.to_class != "building"]
    assert len(gone) == len(OLD)
    assert {o.to_class for o in gone} == {"bare"}


def test_a_change_that_is_no_building_on_either_date_is_not_counted(counted):
    pairs = [(o.from_class, o.to_class) for o in counted.objects]
    assert ("vegetation", "road") in pairs
    assert all("building" not in p for p in pairs if p == ("vegetation", "road"))
    assert len([p for p in pairs if "building" in p]) == len(NEW) + len(OLD)


def test_change_classes_hold_the_decided_pair_on_every_changed_pixel(counted):
    with rasterio.open(counted.mask_path.with_name("change_classes.tif")) as ds:
        codes = ds.read()
    changed = counted.mask() == 1
    assert ((codes[0] != 255) & (codes[1] != 255))[changed].all()
    row, col, side, _ = NEW[0]
    roof = codes[:, row + 2 : row + side - 2, col + 2 : col + side - 2]
    assert (roof[0] == 4).all() and (roof[1] == 0).all()


def test_a_new_roof_partly_called_building_before_is_one_new_building():
    """Ground pasted where a roof will stand, that the network calls building on part of the
    before date and is unsure of on another part: still one new building, from bare."""
    before = np.full((30, 60), 4, np.uint8)
    after = np.full((30, 60), 4, np.uint8)
    after[5:25, 5:55] = 0
    before[8:20, 10:25] = 0  # "building" in both dates on this part
    before[10:22, 35:50] = 5  # unsure on this one
    inside = np.zeros((30, 60), bool)
    inside[4:26, 4:56] = True
    labels, n = split_pieces(before, after, inside, min_pixels=20, spacing=6, smooth=3)
    roof = labels[5:25, 5:55]
    assert len(np.unique(roof)) == 1
    assert (before[labels == roof[0, 0]] == 4).mean() < 1  # it was not all bare in the codes


def test_two_roofs_apart_in_the_building_date_are_two_buildings_with_cut_seen():
    """One change region over two new roofs and the strip of ground between them: the strip
    is bare in both dates; with ``cut_seen`` the roofs are cut from the date that shows
    them (by default the strip takes the change around it and joins the roofs)."""
    before = np.full((24, 50), 4, np.uint8)
    after = np.full((24, 50), 4, np.uint8)
    after[2:22, 2:22] = 0
    after[2:22, 26:48] = 0
    inside = np.zeros((24, 50), bool)
    inside[1:23, 1:49] = True
    labels, n = split_pieces(before, after, inside, 20, 6, smooth=1, cut_seen=True)
    assert labels[10, 10] != labels[10, 36]
    assert n == 2  # the strip joined a roof: every pixel of the region is in one piece
    assert (labels[inside] > 0).all()
    _, joined = split_pieces(before, after, inside, 20, 6, smooth=1)
    assert joined == 1
