"""Each changed pixel's from -> to classes decided from both dates together (plain arrays)."""

from __future__ import annotations

import numpy as np

from terrasight.tasks.semantic.decide import NO_CLASS, as_codes, decide_classes

BUILDING, ROAD, BARE, UNKNOWN, NONE = 0, 1, 4, 5, 255


def test_unsure_and_same_class_pixels_take_the_nearest_sure_change():
    before = np.array([[BARE, BARE, BUILDING, UNKNOWN, ROAD]], np.uint8)
    after = np.array([[BUILDING, BUILDING, BUILDING, BUILDING, UNKNOWN]], np.uint8)
    b, a = decide_classes(before, after, np.ones((1, 5), bool), smooth=1)
    assert b.tolist() == [[BARE, BARE, BARE, BARE, ROAD]]  # a sure road stays road
    assert a.tolist() == [[BUILDING] * 5]


def test_a_region_the_network_calls_the_same_almost_everywhere_keeps_its_classes():
    before = np.full((10, 10), BUILDING, np.uint8)
    after = np.full((10, 10), BUILDING, np.uint8)
    after[0, 0] = BARE  # 1% consistent: too little to speak for the region
    b, a = decide_classes(before, after, np.ones((10, 10), bool), smooth=1)
    assert (b == BUILDING).all() and (a[1:] == BUILDING).all()
    b, a = decide_classes(before, after, np.ones((10, 10), bool), smooth=1, together=False)
    assert (b == BUILDING).all()


def test_pixels_of_a_date_without_any_sure_class_keep_their_code():
    before = np.full((3, 3), UNKNOWN, np.uint8)
    before[0, 0] = NONE
    after = np.full((3, 3), BARE, np.uint8)
    b, a = decide_classes(before, after, np.ones((3, 3), bool), smooth=3)
    assert (b == NO_CLASS).all() and (a == BARE).all()
    written = as_codes(b, before)
    assert written[0, 0] == NONE and (written.ravel()[1:] == UNKNOWN).all()
