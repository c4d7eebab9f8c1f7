"""Changed regions from mask files, tile by tile (terrasight.tasks.change.objects.extract)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Geod
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import LinearRing, shape

from terrasight.errors import InvalidRasterError
from terrasight.io.vectors import IMAGE_CRS_MEMBER, PIXEL_MEMBER, features_to_geojson, pixel_area
from terrasight.tasks.change.objects import components
from terrasight.tasks.change.objects.components import UnionFind, touching_pairs
from terrasight.tasks.change.objects.extract import extract_objects
from terrasight.tasks.change.output.vectors import object_feature
from terrasight.tasks.change.result import MASK_NODATA

UTM_CRS = "EPSG:32633"
UTM = from_origin(500000.0, 5000000.0, 10.0, 10.0)


@pytest.fixture
def scene(make_raster: Callable[..., Path]) -> Callable[..., tuple[Path, Path]]:
    """Write a mask (uint8, nodata 255) and a probability raster (float32, NaN) pair."""

    def _scene(mask: np.ndarray, prob: np.ndarray | None = None, crs=UTM_CRS, transform=UTM):
        if prob is None:
            prob = np.full(mask.shape, 0.5, np.float32)
        tf = transform if crs is not None else None
        m = make_raster(
            "mask.tif", mask.astype(np.uint8), crs=crs, transform=tf, nodata=MASK_NODATA
        )
        p = make_raster("prob.tif", prob.astype(np.float32), crs=crs, transform=tf, nodata=np.nan)
        return m, p

    return _scene


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _reference(
    mask: np.ndarray, connectivity: int, min_pixels: int = 1
) -> tuple[list[int], np.ndarray]:
    """Sorted object sizes and the filtered mask from one whole-array scipy labelling."""
    st = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    labels, n = ndimage.label(mask == 1, structure=st)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small = (sizes < min_pixels) & (np.arange(n + 1) > 0)
    filtered = mask.copy()
    filtered[small[labels]] = 0
    return sorted(int(s) for s in sizes[1:] if s >= min_pixels), filtered


# --- tile borders and connectivity ---------------------------------------------


def test_object_across_tile_borders_is_one_object_with_one_polygon(scene) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 10:40] = 1  # crosses tile borders at rows 16 and cols 16, 32
    objects, changed = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    assert changed == 600
    (obj,) = objects
    assert obj.id == 1 and obj.pixels == 600
    assert obj.area == 600 * 100.0 and obj.area_unit == "m2"
    assert obj.pixel_bbox == (10, 10, 40, 30)
    assert obj.bbox_image_crs == (500100.0, 4999700.0, 500400.0, 4999900.0)
    assert obj.centroid_image_crs == pytest.approx((500250.0, 4999800.0))
    assert obj.geometry["type"] == "Polygon"
    assert len(obj.geometry["coordinates"]) == 1  # no holes
    assert len(obj.geometry["coordinates"][0]) == 5  # former tile borders left no vertices
    assert shape(obj.geometry).area == pytest.approx(600 * 100.0)


@pytest.mark.parametrize(
    "blocks",
    [
        [(14, 14), (16, 16)],  # diagonal across a four-tile corner
        [(14, 16), (16, 14)],  # anti-diagonal across a four-tile corner
        [(4, 14), (6, 16)],  # diagonal across a vertical border
        [(14, 4), (16, 6)],  # diagonal across a horizontal border
        [(4, 4), (6, 6)],  # diagonal inside one tile
    ],
)
@pytest.mark.parametrize(("connectivity", "count"), [(8, 1), (4, 2)])
def test_diagonal_touch_joins_with_8_not_4(scene, blocks, connectivity: int, count: int) -> None:
    mask = np.zeros((32, 32), np.uint8)
    for r, c in blocks:
        mask[r : r + 2, c : c + 2] = 1
    objects, changed = extract_objects(
        *scene(mask), 1, UTM_CRS, UTM, tile_size=16, connectivity=connectivity
    )
    assert len(objects) == count and changed == 8
    assert sorted(o.pixels for o in objects) == ([8] if count == 1 else [4, 4])
    for obj in objects:
        assert shape(obj.geometry).area == pytest.approx(obj.pixels * 100.0)


def test_invalid_connectivity_is_refused(scene) -> None:
    with pytest.raises(ValueError, match="connectivity"):
        extract_objects(*scene(np.zeros((16, 16))), 1, UTM_CRS, UTM, connectivity=6)


def test_u_shape_merged_late_and_ring_with_hole(scene) -> None:
    mask = np.zeros((48, 48), np.uint8)
    mask[2:40, 2:5] = mask[2:40, 40:43] = mask[37:40, 2:43] = 1  # U: arms meet in the last tile row
    mask[5:15, 20:35] = 1
    mask[8:12, 24:30] = 0  # a ring with a hole, across tiles
    objects, _ = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    sizes, _ = _reference(mask, 8)
    assert sorted(o.pixels for o in objects) == sizes
    ring = next(o for o in objects if o.pixel_bbox == (20, 5, 35, 15))
    assert ring.geometry["type"] == "Polygon" and len(ring.geometry["coordinates"]) == 2
    assert shape(ring.geometry).area == pytest.approx(ring.pixels * 100.0)


# --- size filter ----------------------------------------------------------------


def test_small_objects_are_removed_from_the_mask_file(scene) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[2:12, 2:12] = 1  # 100 px, kept
    mask[20:22, 20] = 1  # 2 px, removed
    mask[30, 30] = 1  # 1 px, removed
    mask[5, 15:17] = 1  # 2 px across the tile border at col 16, removed
    mask[25:28, 14:16] = 1  # 3 + 3 px across the border: 6 in all, kept
    mask[0, 31] = MASK_NODATA
    mask_path, prob_path = scene(mask)
    objects, changed = extract_objects(mask_path, prob_path, 5, UTM_CRS, UTM, tile_size=16)
    assert [o.pixels for o in objects] == [100, 6]
    assert changed == 106
    on_disk = _read(mask_path)
    expected = mask.copy()
    expected[20:22, 20] = expected[30, 30] = 0
    expected[5, 15:17] = 0
    np.testing.assert_array_equal(on_disk, expected)
    assert int((on_disk == 1).sum()) == changed


def test_mask_file_left_alone_when_nothing_is_removed(scene) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[4:8, 4:8] = 1
    mask_path, prob_path = scene(mask)
    before = mask_path.read_bytes()
    objects, changed = extract_objects(mask_path, prob_path, 16, UTM_CRS, UTM, tile_size=16)
    assert len(objects) == 1 and changed == 16
    assert mask_path.read_bytes() == before


def test_everything_filtered_gives_no_objects(scene) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[1, 1] = mask[20, 20] = 1
    mask_path, prob_path = scene(mask)
    assert extract_objects(mask_path, prob_path, 2, UTM_CRS, UTM, tile_size=16) == ((), 0)
    assert not (_read(mask_path) == 1).any()


# --- agreement with a whole-array reference -----------------------------------


@pytest.mark.parametrize("connectivity", [8, 4])
@pytest.mark.parametrize("min_pixels", [1, 4])
def test_tiled_matches_whole_array_reference(scene, connectivity: int, min_pixels: int) -> None:
    rng = np.random.default_rng(7)
    mask = (rng.random((61, 83)) < 0.4).astype(np.uint8)  # partial tiles on both edges
    mask[rng.random(mask.shape) < 0.05] = MASK_NODATA
    sizes, filtered = _reference(mask, connectivity, min_pixels)
    results = {}
    for tile_size in (16, 7, 128):
        mask_path, prob_path = scene(mask)
        objects, changed = extract_objects(
            mask_path, prob_path, min_pixels, UTM_CRS, UTM, tile_size, connectivity
        )
        assert sorted(o.pixels for o in objects) == sizes
        assert changed == sum(sizes)
        np.testing.assert_array_equal(_read(mask_path), filtered)
        for obj in objects:
            geom = shape(obj.geometry)
            assert geom.is_valid
            assert geom.area == pytest.approx(obj.pixels * 100.0)
            assert obj.area == obj.pixels * 100.0
        results[tile_size] = [(o.pixels, o.pixel_bbox, o.centroid_image_crs) for o in objects]
    assert results[16] == results[7] == results[128]


def test_only_tiles_are_labelled(scene, monkeypatch) -> None:
    seen: list[tuple[int, int]] = []
    label_tile = components.label_tile

    def spy(tile_mask: np.ndarray, connectivity: int = 8):
        seen.append(tile_mask.shape)
        return label_tile(tile_mask, connectivity)

    monkeypatch.setattr(components, "label_tile", spy)
    mask = np.ones((50, 40), np.uint8)
    mask[::3] = 0
    mask[:, 10] = 1
    objects, changed = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    assert len(objects) == 1 and changed == int(mask.sum())
    assert seen and max(max(s) for s in seen) <= 16
    assert len(seen) == 2 * 4 * 3  # two passes over 4 x 3 tiles


def test_objects_sorted_by_area_with_ids(scene) -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[1:3, 1:3] = 1
    mask[10:20, 10:20] = 1
    mask[30:35, 30:35] = 1
    objects, _ = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    assert [o.id for o in objects] == [1, 2, 3]
    assert [o.pixels for o in objects] == [100, 25, 4]


# --- nodata, empty ---------------------------------------------------------------


def test_empty_mask_gives_no_objects(scene) -> None:
    assert extract_objects(*scene(np.zeros((40, 40))), 1, UTM_CRS, UTM, tile_size=16) == ((), 0)


def test_nodata_is_never_change(scene) -> None:
    mask = np.full((32, 32), MASK_NODATA, np.uint8)
    assert extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16) == ((), 0)
    mask = np.zeros((32, 32), np.uint8)
    mask[5:10, 2:8] = 1
    mask[5:10, 8] = MASK_NODATA  # a nodata line does not join the two blocks
    mask[5:10, 9:15] = 1
    mask[20:30, 20:30] = MASK_NODATA
    objects, changed = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    assert [o.pixels for o in objects] == [30, 30]
    assert changed == 60


# --- attributes -----------------------------------------------------------------


def test_mean_probability_ignores_nan(scene) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[2:6, 2:6] = 1
    mask[20:24, 20:24] = 1
    prob = np.full(mask.shape, np.nan, np.float32)
    prob[2:6, 2:6] = 0.8
    prob[2, 2:6] = np.nan
    prob[3, 2] = 0.4  # 11 x 0.8 + 0.4 over 12 finite values
    objects, _ = extract_objects(*scene(mask, prob), 1, UTM_CRS, UTM, tile_size=16)
    by_row = {o.pixel_bbox[1]: o for o in objects}
    assert by_row[2].mean_probability == round((11 * 0.8 + 0.4) / 12, 4)
    assert np.isnan(by_row[20].mean_probability)


@pytest.mark.parametrize(
    ("rows", "cols", "words"),
    [
        ((0, 4), (0, 4), "north-west"),
        ((0, 4), (60, 64), "north-east"),
        ((30, 34), (30, 34), "centre"),
        ((60, 64), (0, 4), "south-west"),
        ((60, 64), (60, 64), "south-east"),
        ((30, 34), (60, 64), "east"),
    ],
)
def test_location_of_objects(scene, rows, cols, words: str) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[slice(*rows), slice(*cols)] = 1
    (obj,), _ = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    assert obj.location == words


def test_geographic_areas_are_geodesic(scene) -> None:
    transform = from_origin(10.0, 50.0, 0.0001, 0.0001)  # ~7 m x 11 m pixels at 50N
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 10:40] = 1
    objects, _ = extract_objects(
        *scene(mask, crs="EPSG:4326", transform=transform), 1, "EPSG:4326", transform, 16
    )
    (obj,) = objects
    assert obj.area_unit == "m2"
    lat = 50.0 - 20 * 0.0001
    plausible = 600 * (0.0001 * 111_320 * np.cos(np.radians(lat))) * (0.0001 * 111_200)
    assert obj.area == pytest.approx(plausible, rel=0.01)
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape(obj.geometry))[0])
    assert obj.area == pytest.approx(geodesic, rel=1e-9)
    unit, _ = pixel_area("EPSG:4326", transform, shape=(64, 64))
    assert obj.area == pytest.approx(600 * unit, rel=1e-3)
    assert obj.centroid_lonlat == pytest.approx((10.0025, 49.998), abs=1e-6)


def test_utm_geojson_is_lonlat_in_zone_33(scene, tmp_path: Path) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 10:40] = 1
    mask[40:50, 5:9] = 1
    objects, _ = extract_objects(*scene(mask), 1, UTM_CRS, UTM, tile_size=16)
    fc = features_to_geojson([object_feature(o) for o in objects], UTM_CRS)
    assert len(fc["features"]) == 2 and "crs" not in fc
    assert fc[IMAGE_CRS_MEMBER] == "EPSG:32633"
    for feature, obj in zip(fc["features"], objects, strict=True):
        assert feature["id"] == obj.id
        west, south, east, north = feature["properties"]["bbox_wgs84"]
        for ring in feature["geometry"]["coordinates"]:
            assert ring[0] == ring[-1]
            for lon, lat in ring:
                assert 12.0 <= lon <= 18.0 and 0.0 <= lat <= 84.0  # UTM zone 33N
                assert 15.0 <= lon <= 15.01 and 45.14 <= lat <= 45.16
                assert west <= lon <= east and south <= lat <= north
        assert LinearRing(feature["geometry"]["coordinates"][0]).is_ccw
        lon, lat = obj.centroid_lonlat
        assert west <= lon <= east and south <= lat <= north
        x0, y0, x1, y1 = feature["properties"]["bbox_image_crs"]
        x, y = feature["properties"]["centroid_image_crs"]
        assert 500000 <= x0 < x < x1 <= 500640 and 4999360 <= y0 < y < y1 <= 5000000
    json.dumps(fc, allow_nan=False)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_pixel_space_objects(scene) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[4:8, 20:26] = 1
    objects, _ = extract_objects(*scene(mask, crs=None), 1, None, Affine.identity(), tile_size=16)
    (obj,) = objects
    assert obj.area == 24.0 and obj.area_unit == "px"
    assert obj.centroid_image_crs == (23.0, 6.0) and obj.centroid_lonlat is None
    assert obj.bbox_image_crs == (20.0, 4.0, 26.0, 8.0) and obj.bbox_wgs84 is None
    assert shape(obj.geometry).bounds == (20.0, 4.0, 26.0, 8.0)
    fc = features_to_geojson([object_feature(o) for o in objects], None)
    assert fc[PIXEL_MEMBER] == "pixel" and fc[IMAGE_CRS_MEMBER] is None


def test_probability_on_another_grid_is_refused(make_raster) -> None:
    mask = make_raster("m.tif", np.zeros((16, 16), np.uint8))
    prob = make_raster("p.tif", np.zeros((16, 20), np.float32))
    with pytest.raises(InvalidRasterError, match="same grid"):
        extract_objects(mask, prob, 1, UTM_CRS, UTM)


# --- helpers --------------------------------------------------------------------


def test_touching_pairs_and_union_find() -> None:
    a = np.array([0, 3, 0, 0, 4])
    b = np.array([5, 0, 6, 0, 4])
    assert touching_pairs(a, b, diagonal=False).tolist() == [[4, 4]]
    assert touching_pairs(a, b, diagonal=True).tolist() == [[3, 5], [3, 6], [4, 4]]
    uf = UnionFind()
    uf.union_pairs(np.array([[9, 2], [5, 9], [7, 8]]))
    assert uf.roots(10).tolist() == [0, 1, 2, 3, 4, 2, 6, 7, 7, 2]
