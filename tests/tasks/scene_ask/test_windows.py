"""A land-cover map larger than one window: read and labelled window by window, it gives the
same objects, counts and areas as a run in one window."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.transform import from_origin
from scipy import ndimage
from tests.conftest import LANDCOVER_NAMES, planted_classes, write_landcover

from terrasight.tasks.scene_ask import ask_image_many, read_landcover
from terrasight.tasks.scene_ask.instances import find_objects


def _scene() -> np.ndarray:
    """A 300 x 370 map: the planted objects tiled 2 x 3 (so objects cross every border of a
    64 px window), plus a road across the whole scene and a building with a neck on a border."""
    c = np.tile(planted_classes(), (3, 4))[:300, :370]
    c[200:204, :] = 1  # a road across every window
    c[120:132, 51:63] = 0
    c[120:132, 66:78] = 0
    c[126, 63:66] = 0  # a neck across the column border at 64
    return c


@pytest.fixture
def big_map(tmp_path):
    path = write_landcover(
        tmp_path / "landcover.tif", _scene(), "EPSG:32633", from_origin(500000.0, 5e6, 2.0, 2.0)
    )
    return path


def _table(objs):
    return [
        (o.id, o.name, o.pixels, round(o.area, 6), o.bbox, o.place, o.size) for o in objs.instances
    ]


def test_small_windows_give_the_same_objects_as_one_window(big_map):
    small = read_landcover(big_map, window=50)
    whole = read_landcover(big_map)
    assert np.array_equal(np.asarray(small.classes), np.asarray(whole.classes))
    one = find_objects(whole, window=4096)  # the whole scene in one window
    many = find_objects(small, window=64)  # 5 x 6 windows
    assert _table(many) == _table(one)
    assert np.array_equal(np.asarray(many.labels["road"]), np.asarray(one.labels["road"]))
    # the unsplit classes match scipy's labelling of the whole map
    for code, name in enumerate(LANDCOVER_NAMES[1:5], start=1):
        lab, n = ndimage.label(_scene() == code)
        sizes = np.bincount(lab.ravel())[1:]
        assert len(many.of(name)) == int((sizes >= 4).sum()), name
    roads = many.of("road")
    assert any(r.bbox[1] == 0 and r.bbox[3] == 370 for r in roads)  # one road across all windows
    # the building with a neck on a window border is split in two, as in one window
    parts = [b for b in many.of("building") if b.bbox[0] == 120 and b.bbox[2] == 132]
    assert len(parts) == 2


def test_answers_do_not_depend_on_the_window(big_map):
    questions = ["how many buildings are there?", "how many roads?", "what is the area of water?",
                 "is there water in the north-east?", "where is the largest building?"]  # fmt: skip
    lc = read_landcover(big_map, window=40)
    a = [x.value for x in ask_image_many(lc, questions)]
    b = [x.value for x in ask_image_many(read_landcover(big_map), questions)]
    assert a == b and a[0] == len(find_objects(lc, window=32).of("building"))
