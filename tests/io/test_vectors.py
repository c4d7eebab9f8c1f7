"""Pixel and polygon areas, location words and GeoJSON output (terrasight.io.vectors)."""

from __future__ import annotations

import json
import math

import pytest
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS
from rasterio.transform import from_origin
from shapely.geometry import LinearRing, shape

from terrasight.io.vectors import (
    IMAGE_CRS_MEMBER,
    PIXEL_MEMBER,
    VectorFeature,
    bounds_to_lonlat,
    crs_id,
    features_to_geojson,
    geometry_area,
    location_words,
    pixel_area,
    to_lonlat,
    write_geojson,
)

UTM = from_origin(500000.0, 5000000.0, 10.0, 10.0)


def _square(x0: float, y0: float, size: float, clockwise: bool = False) -> list:
    ring = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]
    return ring[::-1] if clockwise else ring


def _object(geometry: dict, oid: int = 1, mean: float = 0.75) -> VectorFeature:
    properties = {
        "pixels": 4,
        "area": 400.0,
        "area_unit": "m2",
        "location": "north-west",
        "mean_probability": mean,
        "centroid_lonlat": (15.0, 45.1),
        "pixel_bbox": (0, 0, 2, 2),
    }
    return VectorFeature(geometry, properties, id=oid)


def _rings(geometry: dict) -> list[list]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for poly in geometry["coordinates"] for ring in poly]


# --- pixel_area -----------------------------------------------------------------


def test_pixel_area_projected_metres() -> None:
    assert pixel_area("EPSG:32633", UTM) == (100.0, "m2")
    assert pixel_area(CRS.from_epsg(32633), from_origin(0, 0, 20, 30)) == (600.0, "m2")


def test_pixel_area_projected_accepts_wkt() -> None:
    wkt = CRS.from_epsg(32633).to_wkt()
    assert pixel_area(wkt, UTM) == (100.0, "m2")


def test_pixel_area_converts_feet_to_square_metres() -> None:
    area, unit = pixel_area("EPSG:2263", from_origin(1000000, 200000, 1.0, 1.0))  # US survey ft
    assert unit == "m2"
    assert area == pytest.approx(0.3048006096**2, rel=1e-9)


def test_pixel_area_rotated_transform_uses_determinant() -> None:
    rotated = Affine(10 * 0.866, 10 * 0.5, 0, 10 * 0.5, -10 * 0.866, 0)  # 30 deg rotation
    assert pixel_area("EPSG:32633", rotated)[0] == pytest.approx(100.0, rel=1e-4)


def test_pixel_area_without_crs_is_one_pixel() -> None:
    assert pixel_area(None, Affine.identity()) == (1.0, "px")


def test_pixel_area_geographic_is_geodesic_at_grid_centre() -> None:
    # 0.001 degree pixels; the grid spans 40N..50N, so its centre is near 45N.
    transform = from_origin(10.0, 50.0, 0.001, 0.001)
    area, unit = pixel_area("EPSG:4326", transform, shape=(10000, 100))
    assert unit == "m2"
    lat = 50.0 - 5000.5 * 0.001
    expected = (0.001 * 111_320 * math.cos(math.radians(lat))) * (0.001 * 111_130)
    assert area == pytest.approx(expected, rel=0.01)
    at_origin, _ = pixel_area("EPSG:4326", transform)
    assert at_origin < area  # the origin pixel lies further north, so it is smaller


# --- geometry_area --------------------------------------------------------------


def test_geometry_area_projected_is_pixels_times_pixel_area() -> None:
    geom = {"type": "Polygon", "coordinates": [_square(0, 0, 20)]}
    assert geometry_area(geom, "EPSG:32633", 4, 100.0) == 400.0
    assert geometry_area(geom, None, 4, 1.0) == 4.0


def test_geometry_area_geographic_is_geodesic() -> None:
    one_degree = {"type": "Polygon", "coordinates": [_square(0, 0, 1)]}
    area = geometry_area(one_degree, "EPSG:4326", 1, 0.0)
    assert area == pytest.approx(12_308e6, rel=0.005)  # 1 deg x 1 deg at the equator


def test_geometry_area_geographic_ignores_orientation_and_subtracts_holes() -> None:
    outer = _square(10.0, 45.0, 0.02, clockwise=True)
    hole = _square(10.005, 45.005, 0.01)
    geod = Geod(ellps="WGS84")
    full = abs(geod.geometry_area_perimeter(shape({"type": "Polygon", "coordinates": [outer]}))[0])
    inner = abs(geod.geometry_area_perimeter(shape({"type": "Polygon", "coordinates": [hole]}))[0])
    geom = {"type": "Polygon", "coordinates": [outer, hole]}
    assert geometry_area(geom, "EPSG:4326", 0, 0.0) == pytest.approx(full - inner, rel=1e-9)
    multi = {"type": "MultiPolygon", "coordinates": [[outer], [_square(11.0, 45.0, 0.02)]]}
    assert geometry_area(multi, "EPSG:4326", 0, 0.0) == pytest.approx(2 * full, rel=1e-3)


# --- location_words -------------------------------------------------------------


@pytest.mark.parametrize(
    ("col", "row", "words"),
    [
        (0, 0, "north-west"),
        (50, 0, "north"),
        (99.9, 0, "north-east"),
        (0, 50, "west"),
        (50, 50, "centre"),
        (100, 50, "east"),
        (0, 100, "south-west"),
        (50, 99, "south"),
        (100, 100, "south-east"),
    ],
)
def test_location_words_on_a_3x3_grid(col: float, row: float, words: str) -> None:
    assert location_words(col, row, 100, 100) == words


def test_location_words_non_square_scene_and_degenerate_size() -> None:
    assert location_words(250, 10, 300, 30) == "east"
    assert location_words(0, 0, 0, 0) == "centre"


# --- features_to_geojson --------------------------------------------------------


def test_geojson_is_wgs84_lonlat_ccw_closed_and_rounded() -> None:
    # Clockwise exterior in UTM 33N and a counter-clockwise hole: both must be flipped.
    outer = _square(500000.0, 4999000.0, 1000.0, clockwise=True)
    hole = _square(500200.0, 4999200.0, 100.0)
    fc = features_to_geojson(
        [_object({"type": "Polygon", "coordinates": [outer, hole]})], "EPSG:32633"
    )
    assert fc["type"] == "FeatureCollection"
    assert "crs" not in fc and PIXEL_MEMBER not in fc
    (feature,) = fc["features"]
    assert feature["type"] == "Feature" and feature["id"] == 1
    geom = feature["geometry"]
    assert geom["type"] == "Polygon"
    exterior, interior = geom["coordinates"]
    for ring in (exterior, interior):
        assert ring[0] == ring[-1]
        for lon, lat in ring:
            assert 14.99 <= lon <= 15.02 and 45.13 <= lat <= 45.16
            assert round(lon, 7) == lon and round(lat, 7) == lat
    assert LinearRing(exterior).is_ccw
    assert not LinearRing(interior).is_ccw


def test_geojson_properties_are_json_ready() -> None:
    fc = features_to_geojson(
        [_object({"type": "Polygon", "coordinates": [_square(500000, 4999980, 20)]})], "EPSG:32633"
    )
    props = fc["features"][0]["properties"]
    assert "geometry" not in props
    assert props["pixel_bbox"] == [0, 0, 2, 2]
    assert props["centroid_lonlat"] == [15.0, 45.1]
    assert props["location"] == "north-west" and props["area_unit"] == "m2"
    json.dumps(fc, allow_nan=False)


def test_geojson_nan_probability_becomes_null() -> None:
    obj = _object(
        {"type": "Polygon", "coordinates": [_square(500000, 4999980, 20)]}, mean=float("nan")
    )
    fc = features_to_geojson([obj], "EPSG:32633")
    assert fc["features"][0]["properties"]["mean_probability"] is None


def test_geojson_multipolygon_parts_all_ccw() -> None:
    geom = {
        "type": "MultiPolygon",
        "coordinates": [
            [_square(500000, 4999000, 100, clockwise=True)],
            [_square(500500, 4999000, 100)],
        ],
    }
    out = features_to_geojson([_object(geom)], CRS.from_epsg(32633))["features"][0]["geometry"]
    assert out["type"] == "MultiPolygon" and len(out["coordinates"]) == 2
    assert all(LinearRing(poly[0]).is_ccw for poly in out["coordinates"])


def test_geojson_pixel_space_carries_foreign_member() -> None:
    geom = {"type": "Polygon", "coordinates": [_square(3, 4, 2)]}
    fc = features_to_geojson([_object(geom, oid=7)], None)
    assert fc[PIXEL_MEMBER] == "pixel"
    feature = fc["features"][0]
    assert feature["id"] == 7
    coords = [tuple(c) for c in feature["geometry"]["coordinates"][0]]
    assert set(coords) == {(3, 4), (5, 4), (5, 6), (3, 6)}


def test_geojson_empty_collection() -> None:
    assert features_to_geojson([], "EPSG:32633") == {
        "type": "FeatureCollection",
        "features": [],
        IMAGE_CRS_MEMBER: "EPSG:32633",
    }


def test_geojson_records_the_image_crs_once() -> None:
    geom = {"type": "Polygon", "coordinates": [_square(500000, 4999980, 20)]}
    fc = features_to_geojson([_object(geom), _object(geom, oid=2)], CRS.from_epsg(32633).to_wkt())
    assert fc[IMAGE_CRS_MEMBER] == "EPSG:32633"
    assert all(IMAGE_CRS_MEMBER not in f["properties"] for f in fc["features"])
    assert features_to_geojson([], None)[IMAGE_CRS_MEMBER] is None
    custom = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=15.3 +k=0.9993 +x_0=0 +y_0=0 +ellps=GRS80")
    assert crs_id(custom).startswith("PROJCS[") or crs_id(custom).startswith("PROJCRS[")
    assert CRS.from_wkt(crs_id(custom)) == custom


def test_geojson_takes_plain_mappings() -> None:
    geom = {"type": "Polygon", "coordinates": [_square(3, 4, 2)]}
    fc = features_to_geojson([{"geometry": geom, "properties": {"name": "a"}}], None)
    (feature,) = fc["features"]
    assert "id" not in feature and feature["properties"] == {"name": "a"}


def test_lonlat_bounds_enclose_the_reprojected_box() -> None:
    box = (499000.0, 4990000.0, 510000.0, 5000000.0)
    (west, south, east, north), *_ = bounds_to_lonlat([box, box], "EPSG:32633")
    ring = [
        (box[0] + t * (box[2] - box[0]), y) for t in [i / 50 for i in range(51)] for y in box[1::2]
    ]
    for lon, lat in to_lonlat(ring, "EPSG:32633"):  # 11 km sides: within 1 cm (1e-7 degrees)
        assert west - 1e-7 <= lon <= east + 1e-7 and south - 1e-7 <= lat <= north + 1e-7
    assert bounds_to_lonlat([box], None) == [None] and to_lonlat([(1.0, 2.0)], None) == [None]


def test_write_geojson_is_atomic_and_overwrites(tmp_path) -> None:
    path = tmp_path / "sub" / "changes.geojson"
    geom = {"type": "Polygon", "coordinates": [_square(500000, 4999980, 20)]}
    write_geojson(path, features_to_geojson([_object(geom)], "EPSG:32633"))
    assert len(json.loads(path.read_text())["features"]) == 1
    write_geojson(path, features_to_geojson([], "EPSG:32633"))
    assert json.loads(path.read_text())["features"] == []
    assert not (tmp_path / "sub" / "changes.geojson.part").exists()
