"""One image, any question: answers from a planted landcover.tif (see tests/conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Geod
from rasterio.transform import from_origin

from terrasight.errors import InvalidRasterError, QuestionError, RasterReadError
from terrasight.tasks.scene_ask import ask_image, ask_image_many, read_landcover


def _v(lc, question):
    return ask_image(lc, question).value


def test_presence_by_class_place_shape_and_relation(planted_landcover):
    lc = planted_landcover
    assert _v(lc, "Is there water?") is True
    assert _v(lc, "is there water in the south-west?") is True
    assert _v(lc, "is there water in the north-east?") is False
    assert _v(lc, "Is a circular building present?") is True
    assert _v(lc, "is there a rectangular building?") is True
    assert _v(lc, "is there a building next to a road?") is True
    assert _v(lc, "is there water next to a road?") is False
    assert _v(lc, "are there buildings at the bottom of a road?") is True


def test_counts_split_buildings_that_touch_through_a_neck(planted_landcover):
    a = ask_image(planted_landcover, "How many buildings are there?")
    assert (a.value, a.unit, a.question_type) == (5, "objects", "count")
    assert len(a.evidence) == 5
    assert _v(planted_landcover, "what is the number of buildings in the south-east?") == 2
    assert _v(planted_landcover, "how many roads?") == 1
    assert _v(planted_landcover, "how many large buildings are there?") == 0
    assert _v(planted_landcover, "how many square buildings?") == 3


@pytest.mark.parametrize(
    ("question", "value", "unit"),
    [
        ("what is the area covered by water?", 5600.0, "m2"),
        ("how many hectares of water are there?", 0.56, "ha"),
        ("how much area does water cover in km2?", 0.0056, "km2"),
        ("how many acres of water?", 5600.0 / 4046.8564224, "acre"),
        ("what percentage of the image is water?", 100 * 1400 / 14400, "%"),
    ],
)
def test_areas_come_in_the_unit_asked(planted_landcover, question, value, unit):
    a = ask_image(planted_landcover, question)
    assert (a.question_type, a.unit) == ("area", unit)
    assert a.value == pytest.approx(value, rel=1e-9)


def test_areas_in_epsg4326_are_geodesic(make_landcover):
    lc = make_landcover("ll.tif", "EPSG:4326", from_origin(15.0, 60.0, 2e-5, 1e-5))
    got = ask_image(lc, "what is the area covered by water?").value
    # the water block: rows 85-119, cols 0-39, measured on the ellipsoid independently
    west, east, north, south = 15.0, 15.0 + 40 * 2e-5, 60.0 - 85e-5, 60.0 - 120e-5
    want = abs(Geod(ellps="WGS84").polygon_area_perimeter(
        [west, east, east, west], [south, south, north, north])[0])  # fmt: skip
    assert 1500 < want < 2000  # about 1.1 m x 1.1 m pixels at 60 N
    assert got == pytest.approx(want, rel=2e-3)


def test_without_a_crs_areas_are_pixels_and_say_so(make_landcover):
    lc = make_landcover("px.tif", None)
    a = ask_image(lc, "how many hectares of water?")
    assert (a.value, a.unit) == (1400.0, "px")
    assert any("no CRS" in c for c in a.caveats)
    assert ask_image(lc, "what share of the image is water?").unit == "%"


def test_comparisons_by_count_and_by_area(planted_landcover):
    lc = planted_landcover
    assert _v(lc, "Are there more buildings than roads?") is True
    assert _v(lc, "Are there less buildings than roads?") is False
    assert _v(lc, "Is the number of roads equal to the number of water areas?") is True
    # water 1,400 px against vegetation 30 x 35 = 1,050 px
    assert _v(lc, "is there more water than vegetation?") is True
    assert _v(lc, "is there less water than vegetation?") is False
    assert ask_image(lc, "are there more roads than buildings?").question_type == "comparison"


def test_rural_or_urban_follows_the_stated_rule(planted_landcover, make_landcover):
    a = ask_image(planted_landcover, "Is it a rural or an urban area?")
    assert a.value == "rural" and any("rule" in n for n in a.notes)
    town = np.zeros((60, 60), np.uint8)
    town[::6, :] = 1
    urban = make_landcover("town.tif", "EPSG:32633", classes=town)
    assert _v(urban, "is this area urban or rural?") == "urban"


def test_what_is_at_a_place(planted_landcover):
    a = ask_image(planted_landcover, "What is in the north-east?")
    assert a.question_type == "what"
    assert max(a.value, key=a.value.get) == "vegetation"
    assert "water" not in a.value and "vegetation" in a.text


def test_where_answers_with_places_and_polygons(planted_landcover):
    a = ask_image(planted_landcover, "where is the water?")
    assert a.value == ["south-west"] and a.question_type == "where"
    big = ask_image(planted_landcover, "Where is the largest building?")
    assert big.value == "north" and len(big.evidence) == 1
    fc = big.geojson
    assert isinstance(fc, dict) and len(fc["features"]) == 1
    poly = shapely.geometry.shape(fc["features"][0]["geometry"])
    # the 12 x 20 px building at rows 28-39, cols 50-69, 2 m pixels, EPSG:32633
    assert fc["features"][0]["properties"]["area"] == pytest.approx(12 * 20 * 4)
    # WGS84 longitude/latitude near (15.0, 45.15), where the grid's origin lies
    assert 14.99 < poly.centroid.x < 15.01 and 45.1 < poly.centroid.y < 45.2


def test_evidence_is_written_as_geojson_with_an_outdir(planted_landcover, tmp_path):
    a = ask_image(
        planted_landcover, "how many buildings are in the south-east?", outdir=tmp_path / "o"
    )
    path = a.geojson
    assert isinstance(path, str) and path.endswith(".geojson")
    fc = json.loads(open(path).read())
    assert sorted(f["id"] for f in fc["features"]) == sorted(a.evidence)
    assert {f["properties"]["class"] for f in fc["features"]} == {"building"}


@pytest.mark.parametrize(
    "question",
    [
        "how many cars are there?",
        "Is there a commercial building?",
        "is there a lake?",
        "What is the area covered by parks?",
        "how many new buildings are there?",
        "what colour is the sky?",
    ],
)
def test_what_the_classes_cannot_see_is_not_guessed(planted_landcover, question):
    a = ask_image(planted_landcover, question)
    assert a.answerable is False and a.value is None
    assert a.text.startswith("I can't tell") and "because" in a.text


def test_questions_share_one_land_cover_run(planted_landcover, tmp_path):
    calls = []

    def fake_model(image, outdir):
        calls.append(image)
        outdir.mkdir(parents=True)
        (outdir / "landcover.tif").write_bytes(planted_landcover.read_bytes())

    image = tmp_path / "scene.tif"
    image.write_bytes(b"not read by the fake model")
    answers = ask_image_many(image, ["is there water?", "how many roads?"], landcover=fake_model)
    assert [a.value for a in answers] == [True, 1] and len(calls) == 1
    with pytest.raises(RasterReadError, match="scene.tif"):  # the shipped model reads it
        ask_image(image, "is there water?")


def test_bad_inputs_raise_clear_errors(planted_landcover, make_raster):
    with pytest.raises(QuestionError):
        ask_image(planted_landcover, "  ?")
    plain = make_raster("plain.tif", np.zeros((8, 8), np.uint8))
    with pytest.raises(InvalidRasterError, match="no class names"):
        read_landcover(plain)
    assert read_landcover(planted_landcover.parent).names[2] == "water"


def test_web_mercator_areas_are_ground_areas(make_landcover):
    # EPSG:3857 at about 47 N: a 2 m grid pixel covers about 2 x 2 x cos(47)^2 m2 of ground
    lc = make_landcover("merc.tif", "EPSG:3857", from_origin(0.0, 5_940_000.0, 2.0, 2.0))
    got = ask_image(lc, "what is the area covered by water?").value
    lat = np.degrees(2 * np.arctan(np.exp((5_940_000.0 - 204) / 6378137.0)) - np.pi / 2)
    assert got == pytest.approx(1400 * 4 * np.cos(np.radians(lat)) ** 2, rel=5e-3)


def test_coarse_maps_say_building_counts_are_patches(make_landcover):
    coarse = make_landcover("s2.tif", "EPSG:32633", from_origin(500000.0, 5000000.0, 10.0, 10.0))
    a = ask_image(coarse, "how many buildings are there?")
    assert a.value == 5 and any("built-up patches" in c for c in a.caveats)
    assert a.text == "5 built-up patches."  # what was counted, not what was asked
    fine = make_landcover("fine.tif", "EPSG:32633", from_origin(500000.0, 5000000.0, 0.5, 0.5))
    assert ask_image(fine, "how many buildings are there?").text == "5 buildings."
    assert ask_image(coarse, "are there buildings?").text == "Yes: 5 built-up patches."
    assert "built-up land" in ask_image(coarse, "what is in the north-west?").text


def test_a_body_spanning_cells_is_found_in_each(make_landcover):
    classes = np.full((90, 90), 4, np.uint8)
    classes[70:90, 20:90] = 2  # a lake along the south edge, its centre in the south cell
    lc = make_landcover("lake.tif", "EPSG:32633", classes=classes)
    assert set(_v(lc, "where is the water?")) == {"south-west", "south", "south-east"}
    assert _v(lc, "is there water in the south-east?") is True
    assert _v(lc, "how many water areas are in the south-east?") == 0  # counted where centred
    assert _v(lc, "is there water in the north?") is False


def test_superlatives_pick_one_object(planted_landcover):
    a = ask_image(planted_landcover, "What is the area of the largest building?")
    assert (a.value, a.unit, len(a.evidence)) == (960.0, "m2", 1)
    assert "largest" in a.text
    assert _v(planted_landcover, "how big is the smallest building in hectares?") == 0.04


def test_map_caveats_and_content_size_reach_the_answers(planted_landcover, tmp_path):
    import json as _json
    import shutil

    import rasterio

    from terrasight.tasks.scene_ask.ask import ask_image_many
    from terrasight.tasks.scene_ask.landcover_map import read_landcover

    plain = ask_image_many(planted_landcover, ["how many buildings are there?"])[0]
    (tmp_path / "coarse").mkdir()
    copy = tmp_path / "coarse" / "landcover.tif"
    shutil.copy(planted_landcover, copy)
    with rasterio.open(copy, "r+") as ds:  # as a 2 m map of a 10 m image with doubtful water
        ds.update_tags(CONTENT_METRES="10", CAVEATS=_json.dumps(["water there is uncertain"]))
    lc = read_landcover(copy)
    assert lc.content_metres == 10.0 and lc.content_pixels == 25
    coarse = ask_image_many(copy, ["how many buildings are there?"])[0]
    assert "water there is uncertain" in coarse.caveats
    assert "water there is uncertain" not in plain.caveats
    assert coarse.value <= plain.value  # specks under two 10 m pixels are not objects
