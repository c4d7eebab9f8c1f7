"""A server for a team: jobs side by side with a queue, conversations kept on disk across a
restart, uploads that keep their names, one default method for the API and the page."""

from __future__ import annotations

import inspect
import threading
import time

from terrasight.tasks.change.pipeline.detect import detect_changes

from .conftest import running, wait_done

# Land-cover classes off: these tests are about the queue and the conversation, not classes
# (a loaded machine ran three class-computing jobs past the wait).
PAIR = {"before": "site/before.tif", "after": "site/after.tif", "method": "cva", "classes": False}


def test_two_jobs_run_at_once_and_the_third_waits_with_its_place(config_for):
    with running(config_for(parallel_jobs=2)) as server, server.client() as client:
        runner = server.context.runner
        gate, lock = threading.Event(), threading.Lock()
        active, most = [0], [0]
        real = runner._detect_and_save

        def held(job_id: str) -> None:  # the real job, once the test lets it go
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            try:
                assert gate.wait(60)
                real(job_id)
            finally:
                with lock:
                    active[0] -= 1

        runner._detect_and_save = held
        ids = [client.post("/api/jobs", json=PAIR).json()["id"] for _ in range(4)]
        deadline = time.monotonic() + 20
        while [client.get(f"/api/jobs/{i}").json()["state"] for i in ids[:2]] != ["running"] * 2:
            assert time.monotonic() < deadline, "the first two jobs did not start"
            time.sleep(0.05)
        third, fourth = (client.get(f"/api/jobs/{i}").json() for i in ids[2:])
        assert (third["state"], third["queue_position"], third["state_text"]) == (
            "queued",
            1,
            "queued, position 1",
        )
        assert fourth["queue_position"] == 2
        listed = {j["id"]: j for j in client.get("/api/jobs").json()}
        assert listed[ids[3]]["state_text"] == "queued, position 2"
        client.post(f"/api/jobs/{ids[2]}/cancel")  # a waiting job leaves the queue at once
        assert client.get(f"/api/jobs/{ids[2]}").json()["state"] == "cancelled"
        assert client.get(f"/api/jobs/{ids[3]}").json()["queue_position"] == 1
        gate.set()
        states = [wait_done(client, i)["state"] for i in ids]
        assert states == ["done", "done", "cancelled", "done"] and most[0] == 2
        assert client.get(f"/api/jobs/{ids[0]}").json()["queue_position"] is None


def test_a_conversation_is_on_disk_and_back_after_a_restart(config_for):
    config = config_for()
    with running(config) as first, first.client() as client:
        job_id = client.post("/api/jobs", json=PAIR).json()["id"]
        wait_done(client, job_id)
        assert client.get(f"/api/jobs/{job_id}/conversation").json()["turns"] == []
        said = [
            client.post(f"/api/jobs/{job_id}/ask", json={"question": q}).json()
            for q in ("how many changes are there?", "how large is the largest?")
        ]
    assert (config.jobs / job_id / "conversation.json").is_file()
    with running(config) as second, second.client() as client:
        turns = client.get(f"/api/jobs/{job_id}/conversation").json()["turns"]
        assert [t["question"] for t in turns] == [
            "how many changes are there?",
            "how large is the largest?",
        ]
        assert [t["reply"]["text"] for t in turns] == [r["text"] for r in said]
        assert turns[0]["reply"]["evidence"] == said[0]["evidence"]
        # the conversation goes on where it was: "it" is the object of the last answer
        more = client.post(f"/api/jobs/{job_id}/ask", json={"question": "where is it?"}).json()
        assert more["evidence"] == said[1]["evidence"]
        assert len(client.get(f"/api/jobs/{job_id}/conversation").json()["turns"]) == 3


def test_uploads_keep_their_names_and_a_clash_gets_a_suffix(server, data_dir):
    site = data_dir / "site"
    with server.client() as client:
        sent = client.post(
            "/api/jobs/upload",
            files={
                "before": ("Plot 7 (2019).tif", (site / "before.tif").read_bytes()),
                "after": ("plot_7_2019_.TIF", (site / "after.tif").read_bytes()),
            },
            data={"method": "cva"},
        )
        assert sent.status_code == 201, sent.text
        job = sent.json()
        assert (job["before"], job["after"]) == ("Plot_7_2019.tif", "plot_7_2019-2.tif")
        assert wait_done(client, job["id"])["state"] == "done"


def test_the_api_and_the_page_take_the_library_default_method(server):
    library = inspect.signature(detect_changes).parameters["method"].default
    with server.client() as client:
        offered = client.get("/api/data").json()
        assert offered["default_method"] == library and library in offered["methods"]
        job = client.post("/api/jobs", json={k: PAIR[k] for k in ("before", "after")}).json()
        assert job["method"] == library
        client.post(f"/api/jobs/{job['id']}/cancel")
        spec = client.get("/api/openapi.json").json()["components"]["schemas"]["JobRequest"]
        assert "cva" not in str(spec["properties"]["method"].get("default"))
