"""The server's guards: the token, file names from requests, upload limits and checks."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import TOKEN, write_raster


def test_health_needs_no_token_and_every_other_route_does(server):
    with server.client(token=None) as anonymous:
        assert anonymous.get("/health").json()["status"] == "ok"
        for path in ("/api/jobs", "/", "/static/app.js", "/api/openapi.json"):
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"] == "AccessDeniedError"
            assert "token" in refused.json()["detail"]
    with server.client(token="wrong-token-000000") as wrong:
        refused = wrong.get("/api/jobs")
        assert refused.status_code == 401 and "wrong token" in refused.json()["detail"]
    with server.client() as right:
        assert right.get("/api/jobs").status_code == 200


def test_the_page_opened_with_the_token_gets_a_cookie_for_tiles_and_events(server):
    import httpx

    with httpx.Client(base_url=server.url) as browser:
        page = browser.get("/", params={"token": TOKEN})
        assert page.status_code == 200 and "leaflet.js" in page.text
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert browser.get("/api/jobs").status_code == 200  # the cookie alone now
        assert browser.get("/static/vendor/leaflet/leaflet.js").status_code == 200


def test_no_cors_headers(server):
    with server.client() as client:
        answer = client.get("/api/jobs", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    "name",
    [
        "../secret.tif",
        "site/../../secret.tif",
        "%2e%2e/secret.tif",
        "..%2Fsecret.tif",
        "/etc/passwd",
        "site\\..\\..\\secret.tif",
        "C:/secret.tif",
        "site/\x00.tif",
    ],
)
def test_names_that_could_leave_the_data_folder_are_refused(server, data_dir, name):
    secret = data_dir.parent / "secret.tif"
    write_raster(secret, np.zeros((1, 8, 8), np.uint8))
    with server.client() as client:
        answer = client.post("/api/jobs", json={"before": name, "after": "site/after.tif"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "UnsafePathError"
        assert client.get("/api/jobs").json() == []


def test_a_link_leading_outside_the_data_folder_is_refused(server, data_dir):
    outside = data_dir.parent / "outside.tif"
    write_raster(outside, np.zeros((1, 8, 8), np.uint8))
    os.symlink(outside, data_dir / "link.tif")
    with server.client() as client:
        answer = client.post("/api/jobs", json={"before": "link.tif", "after": "site/after.tif"})
        assert answer.status_code == 400 and "outside" in answer.json()["detail"]
        assert "link.tif" not in client.get("/api/data").json()["files"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/{id}/files/..%2Fjob.json",
        "/api/jobs/{id}/files/%2e%2e%2fjob.json",
        "/api/jobs/{id}/files/job.json",
        "/api/jobs/{id}/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/..%2F{id}/files/changes.geojson",
        "/api/jobs/%2Fetc%2Fpasswd/facts",
    ],
)
def test_result_files_are_served_by_name_only(server, path):
    with server.client() as client:
        job_id = client.post("/api/jobs", json={"sample": True}).json()["id"]
        from .conftest import wait_done

        wait_done(client, job_id)
        answer = client.get(path.format(id=job_id))
        assert 400 <= answer.status_code < 500
        assert "root:" not in answer.text and '"state"' not in answer.text


def test_an_oversized_upload_is_refused(server, tmp_path):
    big = tmp_path / "big.tif"
    write_raster(big, np.random.default_rng(0).integers(0, 255, (3, 800, 800), dtype=np.uint8))
    assert big.stat().st_size > 1024 * 1024
    with server.client() as client, open(big, "rb") as a, open(big, "rb") as b:
        answer = client.post(
            "/api/jobs/upload", files={"before": ("a.tif", a), "after": ("b.tif", b)}
        )
        assert answer.status_code == 413 and "limit" in answer.json()["detail"]
        assert client.get("/api/jobs").json() == []
        assert not any(p.name == "inputs" for p in server.context.store.root.rglob("*"))


def test_a_text_file_named_tif_is_refused(server, data_dir):
    with server.client() as client, open(data_dir / "site" / "after.tif", "rb") as after:
        answer = client.post(
            "/api/jobs/upload",
            files={"before": ("notes.tif", b"just some text\n" * 10), "after": ("b.tif", after)},
        )
        assert answer.status_code == 422 and answer.json()["error"] == "InvalidRasterError"
        assert "before" in answer.json()["detail"]
        assert client.get("/api/jobs").json() == []


def test_uploads_of_other_types_are_refused_and_good_ones_run(server, data_dir):
    site = data_dir / "site"
    with (
        server.client() as client,
        open(site / "before.tif", "rb") as b,
        open(site / "after.tif", "rb") as a,
    ):
        wrong = client.post(
            "/api/jobs/upload", files={"before": ("x.vrt", b"<VRTDataset/>"), "after": ("a.tif", a)}
        )
        assert wrong.status_code == 413 and ".vrt" in wrong.json()["detail"]
        a.seek(0)
        good = client.post(
            "/api/jobs/upload",
            files={"before": ("../../2019.tif", b), "after": ("2024.TIF", a)},
            data={"method": "cva"},
        )
        assert good.status_code == 201, good.text
        job = good.json()
        # the client's names, without the path: nothing is written outside the job's inputs
        assert (job["before"], job["after"], job["source"]) == ("2019.tif", "2024.tif", "upload")
        inputs = server.context.store.input_dir(job["id"])
        assert sorted(p.name for p in inputs.iterdir()) == ["2019.tif", "2024.tif"]
        from .conftest import wait_done

        assert wait_done(client, job["id"])["state"] == "done"
