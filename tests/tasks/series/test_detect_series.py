"""The series job end to end on the planted Sentinel-2 series of ``conftest.py``."""

from __future__ import annotations

import json

import numpy as np
import rasterio

from terrasight.tasks.series import load_series

from .conftest import CLOUDS


def _interval_right(result, planted, change) -> float:
    """Share of a planted change's pixels dated to the interval that holds its date."""
    date = result.change_date()[change.mask]
    with rasterio.open(result.change_interval_path) as ds:
        last = ds.read(1)[change.mask]
    k = change.date_index
    return float(((date >= k) & (last < k) & (last >= 0) & (date >= 0)).mean())


def test_planted_changes_are_dated_to_their_interval(series_result, planted):
    for change in planted.changes:
        assert _interval_right(series_result, planted, change) >= 0.9, change.kind
    date = series_result.change_date()
    flood, cleared, roof, late_roof = planted.changes
    assert (date[flood.mask] == 2).mean() >= 0.9
    assert (date[roof.mask] == 3).mean() >= 0.9
    # Planted at date 5, which has no data: first seen at date 6.
    assert (date[late_roof.mask] == 6).mean() >= 0.9


def test_unchanged_pixels_stay_undated(series_result, planted):
    date = series_result.change_date()
    unchanged = planted.truth_date() < 0
    assert (date[unchanged] >= 0).mean() < 0.02


def test_a_cloud_neither_creates_nor_hides_a_change(series_result, planted):
    date = series_result.change_date()
    truth = planted.truth_date()
    cloud_only = planted.clouds[1] & (truth < 0)  # a cloud over land that never changes
    assert cloud_only.sum() > 2000 and (date[cloud_only] >= 0).mean() < 0.02
    assert series_result.cloud_share[1] > 0.01 and series_result.cloud_share[3] > 0.01
    # Cleared at date 4 under the cloud of date 3: not dated 3, and the interval spans the cloud.
    cleared = planted.changes[1]
    assert (planted.clouds[3][cleared.mask]).mean() > 0.9
    assert (date[cleared.mask] == 4).mean() >= 0.9
    with rasterio.open(series_result.change_interval_path) as ds:
        last = ds.read(1)
    assert (last[cleared.mask] == 2).mean() >= 0.9


def test_objects_carry_their_dates(series_result, planted):
    dates = series_result.dates
    expected = {  # planted change -> (first_seen, last_unchanged)
        "flood": (dates[2], dates[1]),
        "cleared_vegetation": (dates[4], dates[2]),
        "built_up@3": (dates[3], dates[2]),
        "built_up@5": (dates[6], dates[4]),
    }
    for change in planted.changes:
        key = change.kind if change.kind != "built_up" else f"built_up@{change.date_index}"
        rows, cols = np.nonzero(change.mask)
        inside = [
            o
            for o in series_result.objects
            if o.pixel_bbox[0] <= cols.mean() < o.pixel_bbox[2]
            and o.pixel_bbox[1] <= rows.mean() < o.pixel_bbox[3]
        ]
        biggest = max(inside, key=lambda o: o.pixels)
        assert (biggest.first_seen, biggest.last_unchanged) == expected[key]
        assert biggest.pixels >= 0.8 * change.mask.sum()
    ids = [o.id for o in series_result.objects]
    assert ids == list(range(1, len(ids) + 1))
    areas = [o.area for o in series_result.objects]
    assert areas == sorted(areas, reverse=True)


def test_outputs_on_disk_and_load_series(series_result, planted):
    folder = series_result.folder
    data = json.loads((folder / "series.json").read_text())
    assert data["dates"] == [d.isoformat() for d in planted.dates]
    assert data["clear_share"][5] == 0 and data["clear_share"][0] == 1
    assert any("no data" in w and "2020-11-01" in w for w in data["warnings"])
    timeline = {row["date"]: row for row in data["timeline"]}
    assert timeline[data["dates"][2]]["changed_pixels"] > 1800
    assert timeline[data["dates"][5]]["changed_pixels"] == 0
    with rasterio.open(series_result.change_date_path) as ds:
        assert ds.dtypes[0] == "int16" and ds.nodata == -1 and ds.crs is not None
        assert ds.tags()["TERRASIGHT_DATES"].split(",") == data["dates"]
    vectors = json.loads((folder / "series_objects.geojson").read_text())
    first = vectors["features"][0]
    assert first["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {"first_seen", "last_unchanged", "area", "id"} <= set(first["properties"])
    assert -180 <= first["geometry"]["coordinates"][0][0][0] <= 180
    page = (folder / "report.html").read_text()
    assert "<svg" in page and "data:image/png;base64," in page and "2019-11-01" in page
    assert (folder / "change_date.png").stat().st_size > 1000
    again = load_series(folder)
    assert again.summary() == series_result.summary()
    assert again.objects[0].geometry == series_result.objects[0].geometry
    flood_date = data["dates"][2]
    assert {o.first_seen for o in again.objects_first_seen(flood_date)} == {flood_date}
    assert len(again.objects_between(data["dates"][0], data["dates"][-1])) == len(again.objects)
    assert again.date_index(flood_date) == 2


def test_clouds_on_the_dates_that_have_them(series_result):
    share = series_result.cloud_share
    assert share[0] == share[2] == share[4] == share[6] == 0
    assert all(0.01 < share[k] < 0.2 for k in CLOUDS)
