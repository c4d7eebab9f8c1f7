"""Splitting one change object by land cover, and buildings one by one (plain arrays)."""

from __future__ import annotations

import numpy as np

from terrasight.tasks.semantic.split import building_instances, majority, settled, split_pieces

BUILDING, ROAD, BARE, UNKNOWN, NONE = 0, 1, 4, 5, 255


def _houses() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bare land before; after, two 12 x 12 roofs joined by a 2 px neck, a third roof
    touching them along a 1 px corridor, and a 6-px-wide road beside them; all changed."""
    before = np.full((40, 60), BARE, np.uint8)
    after = np.full((40, 60), BARE, np.uint8)
    after[4:16, 4:16] = BUILDING
    after[4:16, 20:32] = BUILDING
    after[9:11, 16:20] = BUILDING  # the neck
    after[24:36, 4:16] = BUILDING
    after[16:24, 10] = BUILDING  # a one-pixel corridor to the first roof
    after[:, 40:46] = ROAD
    inside = np.zeros((40, 60), bool)
    inside[2:38, 2:48] = True
    return before, after, inside


def test_new_buildings_become_one_piece_each_and_every_pixel_stays():
    before, after, inside = _houses()
    # each date on its own: most of this region is bare in both dates, which ``together``
    # would read as part of the change around it (see test_building_counts)
    labels, n = split_pieces(before, after, inside, 20, 3, smooth=1, together=False)
    assert set(np.unique(labels[inside])) == set(range(1, n + 1))
    assert not labels[~inside].any()
    roofs = {int(labels[10, 10]), int(labels[10, 26]), int(labels[30, 10])}
    assert len(roofs) == 3
    road = int(labels[20, 42])
    assert road not in roofs
    pieces = [
        (majority(before[labels == k]), majority(after[labels == k])) for k in range(1, n + 1)
    ]
    new = [p for p in pieces if p[1][0] == "building" and p[0][0] != "building"]
    assert len(new) == 3
    assert majority(after[labels == road])[0] == "road"  # with the bare sliver beyond it


def test_a_long_roof_stays_one_building_and_wings_meeting_at_a_corner_split():
    long_roof = np.zeros((20, 60), bool)
    long_roof[3:17, 3:57] = True
    assert building_instances(long_roof, 3).max() == 1
    roof = np.zeros((30, 30), bool)
    roof[2:28, 2:12] = True
    roof[18:28, 2:28] = True
    labels = building_instances(roof, 3)
    assert labels.max() >= 2  # the price of splitting touching houses (see NECK)
    assert labels[5, 6] != labels[23, 24]
    assert (labels > 0).sum() == roof.sum()


def test_touching_roofs_with_a_narrow_neck_split():
    two = np.zeros((20, 40), bool)
    two[2:18, 2:18] = True
    two[2:18, 22:38] = True
    two[9:11, 18:22] = True
    labels = building_instances(two, 3)
    assert labels.max() == 2
    assert labels[10, 8] != labels[10, 30]
    assert (labels > 0).sum() == two.sum()


def test_unsure_pixels_take_the_nearest_class_and_slivers_join_their_neighbour():
    codes = np.full((10, 30), BARE, np.uint8)
    codes[:, 15:] = BUILDING
    codes[4:6, 5:7] = UNKNOWN
    codes[0, 0] = NONE
    inside = np.ones((10, 30), bool)
    filled = settled(codes, inside, smooth=1)
    assert filled[4, 5] == BARE and filled[0, 0] == BARE
    before = np.full((10, 30), BARE, np.uint8)
    after = codes.copy()
    after[3, 3] = ROAD  # a one-pixel sliver of another change
    labels, n = split_pieces(before, after, inside, min_pixels=10, spacing=3, smooth=1)
    assert n == 2
    assert labels[3, 3] == labels[0, 0]


def test_majority_counts_pixels_without_a_class_as_unknown():
    assert majority(np.array([NONE, NONE, BARE], np.uint8)) == ("unknown", 0.6667)
    assert majority(np.array([], np.uint8)) == ("unknown", 0.0)
