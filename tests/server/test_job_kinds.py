"""Series jobs (three or more dates) and one-image jobs on the server: from the data folder
and from uploads, their summaries, questions, and what they refuse."""

from __future__ import annotations

from terrasight.tasks.scene_ask import ask_image

from .conftest import SERIES_DATES as DATES
from .conftest import wait_done


def test_a_series_job_dates_the_change_and_answers_when(server, series_dir):
    names = [f"series/s2_{d}.tif" for d in DATES]
    with server.client() as client:
        too_few = client.post("/api/jobs", json={"kind": "series", "images": names[:2]})
        assert too_few.status_code == 422 and "at least 3" in too_few.json()["detail"]
        job = client.post("/api/jobs", json={"kind": "series", "images": names[::-1]}).json()
        assert job["kind"] == "series" and sorted(job["images"]) == [n[7:] for n in names]
        done = wait_done(client, job["id"])
        assert done["state"] == "done", done
        summary = client.get(f"/api/jobs/{job['id']}/summary").json()
        assert [str(d)[:10] for d in summary["dates"]] == list(DATES)
        files = {f["name"] for f in client.get(f"/api/jobs/{job['id']}/files").json()["files"]}
        assert {"change_date.tif", "series_objects.geojson", "series.json"} <= files
        facts = client.get(f"/api/jobs/{job['id']}/facts")
        assert facts.status_code == 422 and "series job" in facts.json()["detail"]
        reply = client.post(
            f"/api/jobs/{job['id']}/ask", json={"question": "when did it change?"}
        ).json()
        assert "2020" in reply["text"], reply
        models = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert f"terrasight-job-{job['id']}" in models


def test_a_one_image_job_from_an_upload_is_described(server, data_dir):
    image = (data_dir / "site" / "after.tif").read_bytes()
    with server.client() as client:
        two = client.post(
            "/api/jobs/upload-images",
            files=[("images", ("a.tif", image)), ("images", ("b.tif", image))],
            data={"kind": "image"},
        )
        assert two.status_code == 422 and "one image" in two.json()["detail"]
        sent = client.post(
            "/api/jobs/upload-images",
            files=[("images", ("Field 3.tif", image))],
            data={"kind": "image"},
        )
        assert sent.status_code == 201, sent.text
        job = sent.json()
        assert (job["kind"], job["images"]) == ("image", ["Field_3.tif"])
        done = wait_done(client, job["id"], timeout=180)
        assert done["state"] == "done", done
        described = client.get(f"/api/jobs/{job['id']}/summary").json()
        assert described["text"] and described["scene"]["classes"]
        assert client.get(f"/api/jobs/{job['id']}/map").json()["maxzoom"] >= 0
        assert client.get(f"/api/jobs/{job['id']}/conversation").json()["turns"] == []
        # the page's chat on a one-image job: the same agent, narrowed to one date
        reply = client.post(
            f"/api/jobs/{job['id']}/ask", json={"question": "how many buildings are there?"}
        )
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["tool_calls"][0]["name"] == "ask_image"
        lc = server.context.store.result_dir(job["id"]) / "chat" / "landcover"
        truth = ask_image(lc, "how many buildings are there?")
        assert answer["value"] == truth.value and answer["text"] == truth.text
        turns = client.get(f"/api/jobs/{job['id']}/conversation").json()["turns"]
        assert len(turns) == 1
        models = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert f"terrasight-job-{job['id']}" in models
