"""Change objects at scale: worker processes, the lazy objects view, streamed writers."""

from __future__ import annotations

import json
import pickle
import sqlite3
import struct
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely.geometry import LinearRing, shape

from terrasight.io.geopackage import wkb_of
from terrasight.io.vectors import IMAGE_CRS_MEMBER
from terrasight.tasks.change.names import STORE_NAME
from terrasight.tasks.change.objects.extract import extract_objects
from terrasight.tasks.change.output.vectors import (
    result_geojson,
    write_geojson_stream,
    write_geopackage_stream,
    write_summary_stream,
    write_vectors,
)
from terrasight.tasks.change.result import MASK_NODATA, ChangeObject, ChangeResult
from terrasight.tasks.change.store import ObjectsView, ObjectWriter, object_record

UTM_CRS = "EPSG:32633"
UTM = from_origin(500000.0, 5000000.0, 10.0, 10.0)


def _scene(make_raster, mask: np.ndarray, name: str = "mask.tif") -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    prob = rng.random(mask.shape).astype(np.float32)
    m = make_raster(name, mask.astype(np.uint8), crs=UTM_CRS, transform=UTM, nodata=MASK_NODATA)
    p = make_raster("prob.tif", prob, crs=UTM_CRS, transform=UTM, nodata=np.nan)
    return m, p


def _blobs(shape: tuple[int, int], seed: int = 3) -> np.ndarray:
    """Random blobs of many sizes, some crossing tile borders, some below the size filter."""
    rng = np.random.default_rng(seed)
    mask = (rng.random(shape) < 0.08).astype(np.uint8)
    for _ in range(25):
        r, c = rng.integers(0, shape[0] - 20), rng.integers(0, shape[1] - 20)
        h, w = rng.integers(2, 20, size=2)
        mask[r : r + h, c : c + w] = 1
    mask[:4, :4] = MASK_NODATA
    return mask


def _square(i: int) -> ChangeObject:
    x, y = 500000.0 + 30 * (i % 1000), 5000000.0 - 30 * (i // 1000)
    ring = ((x, y), (x + 20, y), (x + 20, y - 20), (x, y - 20), (x, y))
    return ChangeObject(
        id=i + 1,
        pixels=4,
        area=400.0,
        area_unit="m2",
        location="centre",
        mean_probability=0.75 if i % 7 else float("nan"),
        centroid_lonlat=(15.0, 45.0),
        bbox_wgs84=(15.0, 45.0, 15.001, 45.001),
        centroid_image_crs=(x + 10, y - 10),
        bbox_image_crs=(x, y - 20, x + 20, y),
        pixel_bbox=(3 * (i % 1000), 3 * (i // 1000), 3 * (i % 1000) + 2, 3 * (i // 1000) + 2),
        geometry={"type": "Polygon", "coordinates": (ring,)},
    )


def _result(objects, mask_path: Path) -> ChangeResult:
    return ChangeResult(
        method="cva",
        before="b.tif",
        after="a.tif",
        crs=rasterio.crs.CRS.from_string(UTM_CRS).to_wkt(),
        transform=tuple(UTM)[:6],
        width=3000,
        height=300,
        mask_path=mask_path,
        probability_path=mask_path,
        objects=objects,
        valid_pixels=900000,
        changed_pixels=4 * len(objects),
        cloud_pixels=0,
        pixel_area=100.0,
        area_unit="m2",
    )


# --- worker processes ----------------------------------------------------------


def test_worker_processes_give_the_same_objects_and_mask(make_raster, tmp_path) -> None:
    mask = _blobs((90, 70))
    m1, p = _scene(make_raster, mask, "one.tif")
    m3, _ = _scene(make_raster, mask, "three.tif")
    one, changed1 = extract_objects(m1, p, 3, UTM_CRS, UTM, tile_size=32, workers=1)
    three, changed3 = extract_objects(
        m3, p, 3, UTM_CRS, UTM, tile_size=32, workers=3, store_path=tmp_path / "three.jsonl"
    )
    assert len(one) > 20 and changed1 == changed3
    assert list(one) == list(three)
    assert [o.id for o in three] == list(range(1, len(three) + 1))
    with rasterio.open(m1) as a, rasterio.open(m3) as b:
        assert np.array_equal(a.read(1), b.read(1))


def test_objects_are_largest_first_and_stored_beside_the_mask(make_raster) -> None:
    mask_path, prob = _scene(make_raster, _blobs((64, 64), seed=5))
    objects, _ = extract_objects(mask_path, prob, 2, UTM_CRS, UTM, tile_size=16, workers=2)
    assert isinstance(objects, ObjectsView)
    assert objects.path == mask_path.with_name(STORE_NAME)
    areas = [o.area for o in objects]
    assert areas == sorted(areas, reverse=True)
    assert not mask_path.with_name(STORE_NAME + ".drafts").exists()


# --- the lazy view -------------------------------------------------------------


def test_objects_view_indexes_slices_and_iterates(tmp_path) -> None:
    with ObjectWriter(tmp_path / "objects.jsonl") as writer:
        for i in range(50):
            writer.add(_square(i))
    view = writer.view()
    assert len(view) == 50
    assert view[0].id == 1 and view[-1].id == 50 and view[49] == view[-1]
    assert [o.id for o in view[:5]] == [1, 2, 3, 4, 5]
    assert [o.id for o in view[10:20:5]] == [11, 16]
    assert sum(1 for _ in view) == 50
    first = view[3]
    assert first.centroid_image_crs == _square(3).centroid_image_crs
    assert first.pixel_bbox == _square(3).pixel_bbox and isinstance(first.pixel_bbox, tuple)
    assert np.isnan(view[0].mean_probability)  # NaN survives the JSON line as null
    assert first.to_dict() == {k: v for k, v in _square(3).to_dict().items()}
    try:
        view[50]
    except IndexError:
        pass
    else:
        raise AssertionError("view[50] of 50 objects did not raise IndexError")


def test_threads_read_one_view_at_the_same_time(tmp_path) -> None:
    """The report's pictures and the facts read the result's objects on two threads."""
    from concurrent.futures import ThreadPoolExecutor

    with ObjectWriter(tmp_path / "objects.jsonl") as writer:
        for i in range(2000):
            writer.add(_square(i))
    view = writer.view()

    def ids(kind: int) -> list[int]:
        if kind == 0:
            return [record["id"] for record, _ in view.raw_records()]
        return [o.id for o in view]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: a race shows at once
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(ids, [0, 1, 0, 1]))
    finally:
        sys.setswitchinterval(interval)
    assert all(r == list(range(1, 2001)) for r in results)


def test_objects_view_pickles_as_its_path(tmp_path) -> None:
    with ObjectWriter(tmp_path / "objects.jsonl") as writer:
        for i in range(3):
            writer.add(_square(i))
    view = pickle.loads(pickle.dumps(writer.view()))
    assert len(view) == 3 and view[2].id == 3 and view == writer.view()


def test_objects_view_survives_its_file_being_removed(tmp_path) -> None:
    with ObjectWriter(tmp_path / "objects.jsonl") as writer:
        writer.add(_square(0))
    view = writer.view()
    (tmp_path / "objects.jsonl").unlink()  # a temporary result folder removed
    assert view[0].id == 1


# --- streamed writers ----------------------------------------------------------


def test_streamed_geojson_is_the_collection_built_in_memory(make_raster, tmp_path) -> None:
    mask_path, prob = _scene(make_raster, _blobs((64, 64), seed=7))
    objects, _ = extract_objects(mask_path, prob, 2, UTM_CRS, UTM, tile_size=16)
    result = _result(objects, mask_path)
    path = write_geojson_stream(result, tmp_path / "changes.geojson")
    streamed = json.loads(path.read_text())
    assert streamed == json.loads(json.dumps(result_geojson(result)))
    assert streamed["type"] == "FeatureCollection" and streamed[IMAGE_CRS_MEMBER] == "EPSG:32633"
    assert "crs" not in streamed and len(streamed["features"]) == len(objects)
    for feature, obj in zip(streamed["features"], objects, strict=True):
        assert feature["type"] == "Feature" and feature["id"] == obj.id
        props = feature["properties"]
        assert set(props) >= {"centroid_lonlat", "bbox_wgs84", "centroid_image_crs"}
        assert set(props) >= {"bbox_image_crs", "pixel_bbox"}
        geom = shape(feature["geometry"])
        assert geom.is_valid
        west, south, east, north = props["bbox_wgs84"]
        x0, y0, x1, y1 = geom.bounds
        assert west <= x0 and x1 <= east and south <= y0 and y1 <= north
        for poly in getattr(geom, "geoms", [geom]):
            assert LinearRing(poly.exterior.coords).is_ccw


def test_writers_hold_100000_objects_in_bounded_memory(tmp_path) -> None:
    n = 100_000
    template = object_record(_square(0))
    tracemalloc.start()
    try:
        with ObjectWriter(tmp_path / "objects.jsonl") as writer:
            for i in range(n):
                x = 500000.0 + 30 * (i % 1000)
                ring = [[x, 5e6], [x + 20, 5e6], [x + 20, 5e6 - 20], [x, 5e6 - 20], [x, 5e6]]
                writer.add_record(
                    {
                        **template,
                        "id": i + 1,
                        "geometry": {**{"type": "Polygon"}, "coordinates": [ring]},
                    }
                )
        view = writer.view()
        result = _result(view, tmp_path / "mask.tif")
        write_geojson_stream(result, tmp_path / "changes.geojson")
        write_summary_stream(result, tmp_path / "summary.json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Held in memory, the objects alone take about 1.5 kB each (150 MB).
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert len(view) == n and view[n - 1].id == n
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["object_count"] == n and len(summary["objects"]) == n
    assert summary["objects"][-1]["id"] == n and "geometry" not in summary["objects"][0]
    text = (tmp_path / "changes.geojson").read_text()
    assert text.count('{"type":"Feature","id":') == n and text.endswith("]}\n")


def test_geopackage_reads_back_with_sqlite_and_shapely(make_raster, tmp_path) -> None:
    mask_path, prob = _scene(make_raster, _blobs((64, 64), seed=9))
    objects, _ = extract_objects(mask_path, prob, 2, UTM_CRS, UTM, tile_size=16)
    path = write_geopackage_stream(_result(objects, mask_path), tmp_path / "changes.gpkg")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        contents = db.execute("SELECT table_name, data_type, srs_id FROM gpkg_contents").fetchall()
        assert contents == [("changes", "features", 32633)]
        (definition,) = db.execute(
            "SELECT definition FROM gpkg_spatial_ref_sys WHERE srs_id = 32633"
        ).fetchone()
        assert rasterio.crs.CRS.from_wkt(definition).to_epsg() == 32633
        assert db.execute("SELECT column_name FROM gpkg_geometry_columns").fetchall() == [("geom",)]
        rows = db.execute("SELECT fid, geom, area, pixel_bbox FROM changes ORDER BY fid").fetchall()
    assert len(rows) == len(objects) > 5
    for (fid, blob, area, pbox), obj in zip(rows, objects, strict=True):
        assert blob[:2] == b"GP" and struct.unpack("<i", blob[4:8])[0] == 32633
        geom = shapely.from_wkb(wkb_of(blob))
        assert fid == obj.id and area == obj.area and json.loads(pbox) == list(obj.pixel_bbox)
        assert geom.equals(shape(obj.geometry))  # the image CRS, not reprojected
        minx, maxx, miny, maxy = struct.unpack("<4d", blob[8:40])
        assert (minx, miny, maxx, maxy) == geom.bounds


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM changes ORDER BY fid").fetchall()


def test_one_pass_writes_the_three_files_of_the_separate_writers(make_raster, tmp_path):
    mask_path, prob = _scene(make_raster, _blobs((96, 96), seed=4))
    objects, _ = extract_objects(mask_path, prob, 2, UTM_CRS, UTM, tile_size=32)
    result = _result(objects, mask_path)
    assert len(objects) > 10
    alone = tmp_path / "alone"
    alone.mkdir()
    write_geojson_stream(result, alone / "changes.geojson")
    write_geopackage_stream(result, alone / "changes.gpkg")
    write_summary_stream(result, alone / "summary.json")
    paths = write_vectors(result, *(tmp_path / n for n in ("a.geojson", "a.gpkg", "s.json")))
    assert paths[0].read_bytes() == (alone / "changes.geojson").read_bytes()
    assert paths[2].read_bytes() == (alone / "summary.json").read_bytes()
    assert _rows(paths[1]) == _rows(alone / "changes.gpkg")


def test_one_pass_holds_100000_objects_in_bounded_memory(tmp_path) -> None:
    n = 100_000
    template = object_record(_square(0))
    with ObjectWriter(tmp_path / "objects.jsonl") as writer:
        for i in range(n):
            x = 500000.0 + 30 * (i % 1000)
            ring = [[x, 5e6], [x + 20, 5e6], [x + 20, 5e6 - 20], [x, 5e6 - 20], [x, 5e6]]
            writer.add_record({**template, "id": i + 1, "geometry": _polygon(ring)})
    result = _result(writer.view(), tmp_path / "mask.tif")
    names = ("changes.geojson", "changes.gpkg", "summary.json")
    tracemalloc.start()
    try:
        write_vectors(result, *(tmp_path / name for name in names))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Held in memory, the objects alone take about 1.5 kB each (150 MB).
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert _rows(tmp_path / "changes.gpkg")[-1][0] == n
    assert (tmp_path / "summary.json").read_text().count('"id": ') == n


def _polygon(ring: list[list[float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [ring]}
