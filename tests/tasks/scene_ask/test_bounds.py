"""Unseen kinds (commercial buildings, grass, lakes): answered only where the class that holds
them decides; otherwise "I can't tell", with a best guess kept apart for scoring."""

from __future__ import annotations

import pytest
from rasterio.transform import from_origin
from tests.conftest import planted_classes, write_landcover

from terrasight.tasks.scene_ask import ask_image, ask_image_many


@pytest.fixture
def no_buildings(tmp_path):
    c = planted_classes()
    c[c == 0] = 4  # every building becomes bare land
    return write_landcover(
        tmp_path / "lc.tif", c, "EPSG:32633", from_origin(500000.0, 5e6, 2.0, 2.0)
    )


def test_no_building_at_all_means_no_commercial_building(no_buildings):
    a, n, area = ask_image_many(
        no_buildings,
        ["is there a commercial building?", "how many residential buildings are there?",
         "what is the area covered by commercial buildings?"],
    )  # fmt: skip
    assert (a.answerable, a.value, a.text.startswith("No")) == (True, False, True)
    assert (n.answerable, n.value, area.value) == (True, 0, 0.0)
    assert any("holds every such object" in c for c in a.caveats)


def test_buildings_there_but_their_use_unseen_is_cant_tell(planted_landcover):
    a = ask_image(planted_landcover, "how many commercial buildings are there?")
    assert not a.answerable and a.value is None and a.text.startswith("I can't tell")
    assert "guess" not in a.to_dict()  # the best guess is never part of the answer
    grass = ask_image(planted_landcover, "how many grass areas are there?")
    assert not grass.answerable and grass.guess == 1  # the one vegetation patch
    assert ask_image(planted_landcover, "how many parkings?").guess == 1  # read as the road


def test_comparisons_decided_by_the_holding_class(planted_landcover):
    fewer, undecided = ask_image_many(
        planted_landcover,
        ["are there less lakes than buildings?", "are there more commercial buildings than roads?"],
    )
    # at most 1 lake (1 water area) against 5 buildings: decided
    assert (fewer.answerable, fewer.value) == (True, True) and "at most 1" in fewer.text
    # 0 to 5 commercial buildings against 1 road: the map cannot tell
    assert not undecided.answerable and undecided.value is None
    assert undecided.guess is False  # a small scene: rare building uses guessed absent
