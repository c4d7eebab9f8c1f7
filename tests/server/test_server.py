"""The server over real HTTP: a job end to end, results, tiles, the agent, errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from .conftest import wait_done, write_raster


def _png(content: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(content))
    assert image.size == (256, 256)
    return np.asarray(image.convert("RGBA"))


def test_a_job_from_the_data_folder_runs_end_to_end(server):
    with server.client() as client:
        assert client.get("/api/data").json()["files"] == ["site/after.tif", "site/before.tif"]
        created = client.post(
            "/api/jobs", json={"before": "site/before.tif", "after": "site/after.tif"}
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        with client.stream("GET", f"/api/jobs/{job_id}/events") as events:
            states = [
                json.loads(line[5:])["state"]
                for line in events.iter_lines()
                if line.startswith("data:")
            ]
        assert states[-1] == "done" and len(states) >= 2
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["progress"] == 1.0 and job["before"] == "before.tif"  # no server paths

        names = {f["name"] for f in client.get(f"/api/jobs/{job_id}/files").json()["files"]}
        assert {"changes.geojson", "change_mask.tif", "report.html", "facts.json"} <= names
        geojson = client.get(f"/api/jobs/{job_id}/files/changes.geojson").json()
        assert geojson["type"] == "FeatureCollection" and len(geojson["features"]) >= 1
        mask = client.get(f"/api/jobs/{job_id}/files/change_mask.tif")
        assert mask.headers["content-type"] == "image/tiff" and mask.content[:2] in (b"II", b"MM")

        facts = client.get(f"/api/jobs/{job_id}/facts").json()
        summary = client.get(f"/api/jobs/{job_id}/summary").json()
        assert (facts["before"], summary["after"]) == ("before.tif", "after.tif")
        assert facts["object_count"] == len(geojson["features"])
        big = facts["objects"][0]
        col0, row0, col1, row1 = big["pixel_bbox"]  # the planted change: rows 40-69, cols 90-129
        assert col0 <= 92 and col1 >= 128 and row0 <= 42 and row1 >= 68
        reply = client.post(
            f"/api/jobs/{job_id}/ask", json={"question": "how many changes are there?"}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["value"] == facts["object_count"]
        assert set(reply.json()["evidence"]) == {o["id"] for o in facts["objects"]}
        assert reply.json()["grounded"] is True and reply.json()["notes"] == []


def test_tiles_are_read_through_the_map_grid(server):
    with server.client() as client:
        job_id = client.post(
            "/api/jobs", json={"before": "site/before.tif", "after": "site/after.tif"}
        ).json()["id"]
        info = client.get(f"/api/jobs/{job_id}/map").json()
        assert info["georeferenced"] and info["maxzoom"] >= 13
        wait_done(client, job_id)
        (south, west), (north, east) = info["bounds"]
        z = info["maxzoom"]
        x, y = _tile_of((south + north) / 2, (west + east) / 2, z)
        before = _png(client.get(f"/api/jobs/{job_id}/tiles/before/{z}/{x}/{y}.png").content)
        assert before[..., 3].max() == 255  # pixels of the image are in this tile
        mask = _png(client.get(f"/api/jobs/{job_id}/tiles/mask/{z}/{x}/{y}.png").content)
        red = (mask[..., 0] == 255) & (mask[..., 3] > 0)
        assert red.sum() > 100  # the planted change
        x, y = _tile_of(north, west, z)  # the image's north-west corner: part in, part out
        corner = _png(client.get(f"/api/jobs/{job_id}/tiles/after/{z}/{x}/{y}.png").content)
        assert corner[..., 3].max() == 255 and corner[..., 3].min() == 0
        far = _png(client.get(f"/api/jobs/{job_id}/tiles/before/{z}/0/0.png").content)
        assert far[..., 3].max() == 0  # nowhere near the image: transparent
        assert client.get(f"/api/jobs/{job_id}/tiles/clouds/{z}/0/0.png").status_code == 422


def _tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_images_without_a_crs_get_image_space_tiles(server, data_dir):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, size=(3, 300, 200), dtype=np.uint8)
    write_raster(data_dir / "plain_a.tif", pixels, crs=None)
    write_raster(data_dir / "plain_b.tif", pixels, crs=None)
    with server.client() as client:
        job_id = client.post(
            "/api/jobs", json={"before": "plain_a.tif", "after": "plain_b.tif"}
        ).json()["id"]
        info = client.get(f"/api/jobs/{job_id}/map").json()
        assert info == {**info, "georeferenced": False, "width": 200, "height": 300, "maxzoom": 1}
        tile = _png(client.get(f"/api/jobs/{job_id}/tiles/before/1/0/1.png").content)
        assert tile[:44, :200, 3].min() == 255 and tile[44:, :, 3].max() == 0  # rows 256..299
        assert tile[:, 200:, 3].max() == 0


def test_the_sample_pair_and_the_job_list(server):
    with server.client() as client:
        job = client.post("/api/jobs", json={"sample": True, "method": "cva"}).json()
        assert job["source"] == "sample" and job["state"] in ("queued", "running")
        assert [j["id"] for j in client.get("/api/jobs").json()] == [job["id"]]
        assert wait_done(client, job["id"])["state"] == "done"
        assert client.get(f"/api/jobs/{job['id']}/facts").json()["object_count"] >= 1


def test_errors_leave_through_the_error_table(server):
    with server.client() as client:
        unknown = client.post("/api/jobs", json={"sample": True, "method": "no-such-method"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownMethodError"
        missing = client.get("/api/jobs/0123456789ab")
        assert missing.status_code == 404 and "no job" in missing.json()["detail"]
        incomplete = client.post("/api/jobs", json={"before": "site/before.tif"})
        assert incomplete.status_code == 422 and "after" in incomplete.json()["detail"]
        job_id = client.post(
            "/api/jobs", json={"before": "site/before.tif", "after": "site/after.tif"}
        ).json()["id"]
        early = client.get(f"/api/jobs/{job_id}/facts")
        if early.status_code != 200:  # the job may already have finished
            assert early.status_code == 409 and early.json()["error"] == "JobNotReadyError"
        wait_done(client, job_id)
        empty = client.post(f"/api/jobs/{job_id}/ask", json={"question": ""})
        assert empty.status_code == 422 and "Traceback" not in empty.text


def test_a_restarted_server_resumes_unfinished_jobs_and_keeps_finished_ones(config_for):
    from .conftest import running

    config = config_for()
    with running(config) as first, first.client() as client:
        done_id = client.post(
            "/api/jobs", json={"before": "site/before.tif", "after": "site/after.tif"}
        ).json()["id"]
        wait_done(client, done_id)
        # A job the previous server was running when it died: its state says "running".
        store = first.context.store
        before, after = (str(config.data / "site" / n) for n in ("before.tif", "after.tif"))
        crashed = store.create(before, after, "cva", "data")
    store_file = config.jobs / crashed.id / "job.json"
    record = json.loads(store_file.read_text())
    store_file.write_text(json.dumps({**record, "state": "running", "progress": 0.4}))
    with running(config) as second, second.client() as client:
        assert client.get(f"/api/jobs/{done_id}").json()["state"] == "done"
        assert wait_done(client, crashed.id)["state"] == "done"
        assert client.get(f"/api/jobs/{crashed.id}/facts").status_code == 200
        assert client.get(f"/api/jobs/{done_id}/files/changes.geojson").status_code == 200


def test_a_queued_job_can_be_cancelled(server):
    with server.client() as client:
        first = client.post("/api/jobs", json={"sample": True}).json()["id"]
        second = client.post("/api/jobs", json={"sample": True}).json()["id"]
        cancelled = client.post(f"/api/jobs/{second}/cancel").json()
        assert cancelled["cancel_requested"]
        assert wait_done(client, second)["state"] == "cancelled"
        assert wait_done(client, first)["state"] == "done"
        assert client.get(f"/api/jobs/{second}/facts").status_code == 409
